"""The scenario error corpus: every file under tests/scenarios/invalid must fail with exactly its message.

Each corpus file starts with comment lines: one `# expect: <line>` per expected problem line, in
order, and optionally `# xfail: <reason>` for a message (or a missing check) the loader gets wrong
today; the `# expect:` lines then give the output it should have. In expected lines, `{corpus}`
and `{scenarios}` stand for the corpus directory and the packaged scenarios directory, which the
"not found; looked in ..." messages name as absolute paths.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError, load, packaged_dir

CORPUS = (Path(__file__).parent.parent / "scenarios" / "invalid").resolve()
VALID = Path(__file__).parent.parent.parent / "scenarios"
FILES = sorted(p.name for p in CORPUS.glob("*.yaml"))


def header(name: str) -> tuple[list[str], str | None]:
    """The expected lines and the xfail reason (if any) from the file's leading comments."""
    expected: list[str] = []
    xfail: str | None = None
    for line in (CORPUS / name).read_text().splitlines():
        if not line.startswith("#"):
            break
        if line.startswith("# expect: "):
            text = line[len("# expect: ") :]
            expected.append(text.replace("{corpus}", str(CORPUS)).replace("{scenarios}", str(packaged_dir())))
        elif line.startswith("# xfail: "):
            xfail = line[len("# xfail: ") :]
    return expected, xfail


def _params() -> list[object]:
    params: list[object] = []
    for name in FILES:
        _, xfail = header(name)
        marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.mark.parametrize("name", _params())
def test_invalid_scenario(name: str) -> None:
    expected, _ = header(name)
    assert expected, f"{name} has no '# expect:' header"
    with pytest.raises(ScenarioError) as e:
        load([name], near=CORPUS)
    assert str(e.value).splitlines() == expected
    assert len(e.value.problems) == len(expected)


def test_corpus_size() -> None:
    assert len(FILES) >= 55


def test_corpus_names() -> None:
    """NN-short-name.yaml, numbered 01.. without gaps or repeats."""
    numbers = [name.split("-", 1)[0] for name in FILES]
    assert numbers == [f"{i:02d}" for i in range(1, len(FILES) + 1)]


@pytest.mark.parametrize("name", ["base.yaml", "release-policy.yaml", "builders.yaml"])
def test_valid_scenarios_load(name: str) -> None:
    scenario = load([name], dirs=[VALID])
    assert scenario.objects
