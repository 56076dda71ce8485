"""What services logged during a test, against a fake runtime and real files."""

from pathlib import Path

from pytest_boxkoji.runtimes.containers.logs import _written
from pytest_boxkoji.servicelogs import FileLog, Marks, file_sources
from pytest_boxkoji.services import Check, Service


class FilesRuntime:
    """Log sources as the processes runtime gives them: the service's files."""

    def log_sources(self, service):
        return file_sources(service)


def service(directory: Path, name: str, extra: tuple[str, ...] = ()) -> Service:
    return Service(
        name,
        ["true"],
        Check("always", lambda: True),
        directory / f"{name}.log",
        extra_logs=tuple(directory / e for e in extra),
    )


def write(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def test_only_what_was_written_after_the_mark(tmp_path):
    hub = service(tmp_path, "hub", ("httpd-error.log",))
    write(hub.log, "started\n")
    write(hub.extra_logs[0], "old error\n")
    runtime = FilesRuntime()
    marks = Marks.take(runtime, [hub])
    write(hub.extra_logs[0], "Traceback: createTag\n")
    assert marks.sections(runtime, [hub]) == [("boxkoji log: hub (httpd-error.log)", "Traceback: createTag")]


def test_services_started_after_the_mark_from_their_start_and_stopped_ones_still_read(tmp_path):
    hub, kojid = service(tmp_path, "hub"), service(tmp_path, "kojid:worker1")
    runtime = FilesRuntime()
    marks = Marks.take(runtime, [hub])
    write(kojid.log, "kojid started\ntask 1 closed\n")
    write(hub.log, "the hub, stopped since\n")
    titles = dict(marks.sections(runtime, [kojid]))  # the hub is no longer running
    assert titles == {
        "boxkoji log: kojid:worker1 (kojid:worker1.log)": "kojid started\ntask 1 closed",
        "boxkoji log: hub (hub.log)": "the hub, stopped since",
    }


def test_a_log_written_anew_is_read_from_its_start_and_long_ones_keep_their_end(tmp_path):
    log = FileLog(tmp_path / "postgres.log")
    write(log.path, "x" * 100 + "\n")
    position = log.position()
    log.path.write_text("after a restart\n")
    assert log.since(position) == "after a restart\n"
    assert FileLog(tmp_path / "missing.log").since(None) == ""
    pg = service(tmp_path, "postgres")
    pg.log.write_text("".join(f"line {i}\n" for i in range(300)))
    ((_title, text),) = Marks().sections(FilesRuntime(), [pg], max_lines=3)
    assert text.splitlines() == [
        f"(297 earlier lines of this test not shown: {pg.log})",
        "line 297",
        "line 298",
        "line 299",
    ]


def test_container_log_timestamps_of_docker_and_podman():
    assert _written("2024-05-01T10:00:00.25Z") == 1714557600.25  # Docker: nanoseconds
    assert _written("2024-05-01T12:00:00.5+02:00") == 1714557600.5
    # Podman: whole seconds; the line may come from any moment of that second
    assert 1714557600.99 < _written("2024-05-01T10:00:00Z") < 1714557601
    assert _written("no-timestamp") is None
