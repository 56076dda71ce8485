"""koji_messages' topics: protonmsg's rules, from the properties it sends with each message."""

import pytest

from pytest_boxkoji.messages import KojiMessage, _matches, topic_of


@pytest.mark.parametrize(
    ("properties", "topic"),
    [
        ({"type": "PackageListChange", "action": "block", "tag": "f40", "package": "bash"}, "package.block"),
        (
            {"type": "TaskStateChange", "id": 3, "method": "tagBuild", "old": "OPEN", "new": "CLOSED"},
            "task.closed",
        ),
        (
            {"type": "BuildStateChange", "name": "bash", "old": "BUILDING", "new": "COMPLETE"},
            "build.complete",
        ),
        ({"type": "Import", "importType": "rpm", "name": "bash"}, "import.rpm"),
        ({"type": "RPMSign", "sigkey": "abcd1234", "name": "bash"}, "sign.rpm"),
        ({"type": "Tag", "tag": "f40", "name": "bash"}, "build.tag"),
        ({"type": "Untag", "tag": "f40", "name": "bash"}, "build.untag"),
        ({"type": "RepoInit", "tag": "f40-build", "repo_id": 1}, "repo.init"),
        ({"type": "RepoDone", "tag": "f40-build", "repo_id": 1}, "repo.done"),
        ({"type": "BuildPromote", "build_id": 1, "name": "bash"}, "build.promote"),
    ],
)
def test_each_message_type_has_its_topic(properties, topic):
    assert topic_of(properties) == topic


def test_an_unknown_or_incomplete_message_has_no_topic():
    assert topic_of({"type": "SomethingNew"}) is None
    assert topic_of({"type": "TaskStateChange"}) is None  # no new state to name it by
    assert topic_of({}) is None


def test_wait_matches_topic_patterns_and_properties():
    message = KojiMessage("build.tag", {"type": "Tag", "tag": "f40"}, {}, "{}")
    assert _matches(message, "build.tag", {})
    assert _matches(message, "build.*", {"tag": "f40"})
    assert not _matches(message, "build.untag", {})
    assert not _matches(message, "build.tag", {"tag": "f41"})
    assert not _matches(KojiMessage(None, {}, {}, ""), "*", {})
