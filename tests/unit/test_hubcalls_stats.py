"""The hub's call records: reading from an offset, sums per method, the table, and one test's
summary (the hub's side is tested in tests/integration/test_hub_calls.py)."""

from pytest_boxkoji.hubcalls import stats
from pytest_boxkoji.reporting import summary

RECORDS = (
    "createTag\t0.004000\t\tkojiadmin\t0\n"
    "createTag\t0.002000\tGenericError\tkojiadmin\t0\n"
    "getTag\t0.001000\t\tkojiuser\t1\n"
    "getTag\t0.003000\tGenericError\tkojiuser\t1\n"
    "multiCall\t0.005000\t\tkojiuser\t0\n"
)


def test_records_are_summed_per_method():
    methods = stats.by_method(stats.parse(RECORDS))
    assert list(methods) == ["createTag", "getTag", "multiCall"]
    assert methods["createTag"] == stats.MethodStats(count=2, total=0.006, max=0.004, faults=1)
    assert methods["getTag"].faults == 1 and methods["getTag"].max == 0.003


def test_a_test_summary_counts_a_multicalls_time_once():
    test = summary(stats.parse(RECORDS))
    assert (test["calls"], test["faults"]) == (5, 2)
    assert abs(test["seconds"] - 0.011) < 1e-9  # createTag x2 and multiCall; its getTags are inside it
    assert test["methods"]["multiCall"] == {"count": 1, "total": 0.005, "max": 0.005, "faults": 0}


def test_reading_from_an_offset_leaves_a_half_written_line_for_later(tmp_path):
    path = tmp_path / "calls.tsv"
    path.write_text(RECORDS + "logout\t0.00")  # the hub is writing this line
    first, end = stats.read(path, 0)
    assert len(first) == 5 and end == len(RECORDS)
    with path.open("a") as handle:
        handle.write("1\t\tkojiuser\t0\n")
    second, end = stats.read(path, end)
    assert [c.method for c in second] == ["logout"] and end == path.stat().st_size
    assert stats.read(tmp_path / "gone.tsv", 7) == ([], 7)


def test_hub_calls_filter_by_user_and_reset(tmp_path):
    path = tmp_path / "calls.tsv"
    path.write_text("getTag\t0.001\t\tworker1.koji.box\t0\n")
    calls = stats.HubCalls(path, 0)
    with path.open("a") as handle:
        handle.write(RECORDS)
    assert calls["getTag"].count == 3
    assert calls.methods(user="kojiadmin") == {"createTag": stats.MethodStats(2, 0.006, 0.004, 1)}
    assert "multiCall" in calls and "logout" not in calls
    assert calls["logout"] == stats.MethodStats()  # never called: zero, not a KeyError
    assert "  createTag " in repr(calls)  # the table, in an assertion's message
    calls.reset()
    assert calls.calls() == []


def test_table_and_merge():
    one = stats.by_method(stats.parse(RECORDS))
    both = stats.merge([one, stats.from_dicts({m: s.as_dict() for m, s in one.items()})])
    assert both["createTag"].count == 4 and both["createTag"].max == 0.004
    lines = stats.table(both)
    assert lines[0].split() == ["method", "calls", "faults", "total", "ms", "max", "ms"]
    assert lines[1].split() == ["createTag", "4", "2", "12.0", "4.0"]


def test_a_hub_without_the_hook_says_so(tmp_path):
    path = tmp_path / "calls.tsv"
    path.write_text("#unsupported\tthis Koji's hub has no ModXMLRPCRequestHandler._dispatch\n")
    assert stats.unsupported(path) == "this Koji's hub has no ModXMLRPCRequestHandler._dispatch"
    assert stats.parse(path.read_text()) == []
    path.write_text(RECORDS)
    assert stats.unsupported(path) is None
