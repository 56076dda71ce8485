"""Messages: Koji's own protonmsg hub plugin sending to a real AMQP 1.0 broker (RabbitMQ), read
by koji_messages, a real consumer on the broker; hub plugin configuration from scenarios."""

import ast

import pytest

from pytest_boxkoji.messages import TOPICS, MessageNotReceived
from pytest_boxkoji.scenario.loader import ScenarioError
from pytest_boxkoji.services.hub import HUB

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def test_tagging_a_build_sends_build_tag(koji_messages, koji_admin, koji_build_factory):
    koji_admin.createTag("f40-candidate")
    build = koji_build_factory("hello", "1.0", "1")
    koji_admin.packageListAdd("f40-candidate", "hello", owner="kojiadmin")
    koji_admin.tagBuildBypass("f40-candidate", build["nvr"])

    message = koji_messages.wait("build.tag", timeout=10)
    assert message.properties == {
        "type": "Tag",
        "tag": "f40-candidate",
        "name": "hello",
        "version": "1.0",
        "release": "1",
        "user": "kojiadmin",
    }
    assert message.body["build"]["nvr"] == "hello-1.0-1"
    assert message.body["tag"]["name"] == "f40-candidate"
    # Everything the hub sent, in order: the build and its two RPMs imported, the package, the tag.
    topics = [m.topic for m in koji_messages.messages]
    assert topics == ["build.complete", "import.rpm", "import.rpm", "package.add", "build.tag"]


def test_wait_fails_with_what_did_arrive(koji_messages, koji_admin):
    koji_admin.createTag("f41")
    koji_admin.packageListAdd("f41", "bash", owner="kojiadmin")
    koji_messages.wait("package.add", tag="f41")
    with pytest.raises(MessageNotReceived) as failure:
        koji_messages.wait("build.tag", timeout=1)
    text = str(failure.value)
    assert text.startswith("no message on topic 'build.tag' within 1 s; the hub sent during this test:\n")
    assert "  package.add {'type': 'PackageListChange', 'tag': 'f41', 'package': 'bash'" in text


def test_each_wait_returns_the_next_message(koji_messages, koji_admin):
    koji_admin.createTag("f42")
    for package in ("bash", "coreutils"):
        koji_admin.packageListAdd("f42", package, owner="kojiadmin")
    first = koji_messages.wait("package.*", tag="f42")
    second = koji_messages.wait("package.*", tag="f42")
    assert [first.properties["package"], second.properties["package"]] == ["bash", "coreutils"]


def test_tag_build_through_a_builder(workers, koji_messages, koji_admin, koji_build_factory):
    """tagBuild as users call it: a task, run by kojid, which tags through the hub's host API."""
    koji_admin.createTag("f43")
    build = koji_build_factory("hello", "2.0", "1")
    koji_admin.packageListAdd("f43", "hello", owner="kojiadmin")
    task_id = koji_admin.tagBuild("f43", build["nvr"])

    tagged = koji_messages.wait("build.tag", timeout=60, tag="f43")
    assert tagged.properties["name"] == "hello" and tagged.properties["user"] == "kojiadmin"
    closed = koji_messages.wait("task.closed", timeout=60, id=task_id)
    assert closed.properties["method"] == "tagBuild"


@pytest.mark.koji_scenario("messages-tagged.yaml")
def test_what_applying_the_scenario_sent_is_not_the_tests(koji_messages, koji_admin):
    # Applying the scenario, in this test's setup, imported and tagged a build: the hub sent
    # that before the test's subscription existed. The broker keeps order: ours comes first.
    koji_admin.packageListAdd("applied-candidate", "bash", owner="kojiadmin")
    mine = koji_messages.wait("package.add", tag="applied-candidate")
    assert koji_messages.messages[0] == mine


def test_one_tests_messages_do_not_reach_the_next(pytester, koji_source_path, child_env, outer_args):
    pytester.makepyfile(
        """
        def test_first(koji_messages, koji_admin, koji_build_factory):
            koji_admin.createTag("first")
            koji_build_factory("leaky", tag="first")  # sent; never read by this test

        def test_second(koji_messages, koji_admin):
            koji_admin.createTag("second")
            koji_admin.packageListAdd("second", "bash", owner="kojiadmin")
            mine = koji_messages.wait("package.add")
            assert mine.properties["tag"] == "second"
            assert koji_messages.messages == [mine]
        """
    )
    result = pytester.runpytest_subprocess(
        "--boxkoji", f"--boxkoji-koji-source={koji_source_path}", *outer_args
    )
    result.assert_outcomes(passed=2)


def test_two_subscriptions_see_only_what_came_after_them(koji_broker, koji_admin):
    before = koji_broker.subscribe()
    try:
        koji_admin.createTag("early")
        koji_admin.packageListAdd("early", "bash", owner="kojiadmin")
        after = koji_broker.subscribe()
        try:
            koji_admin.packageListAdd("early", "coreutils", owner="kojiadmin")
            assert after.wait("package.add").properties["package"] == "coreutils"
            assert [m.properties["package"] for m in after.messages] == ["coreutils"]
            assert before.wait("package.add").properties["package"] == "bash"
            assert before.wait("package.add").properties["package"] == "coreutils"
        finally:
            after.close()
    finally:
        before.close()


MISTAKES = """\
type: hub
plugins: [protonmsg, sidetag]
plugin-config:
  protonmsg:
    broker:
      send_timout: 5
      connect_timeout: soon
    queues:
      enabled: false
  sidetag_hub:
    sidetag:
      remove_empty: true
"""


def test_plugin_config_mistakes_name_the_file_and_key_and_change_nothing(boxkoji, tmp_path):
    (tmp_path / "mistakes.yaml").write_text(MISTAKES)
    conf = boxkoji.graph.get(HUB).settings.directory / "conf"
    before = {p.name: p.read_text() for p in conf.rglob("*.conf")}
    with pytest.raises(ScenarioError) as info:
        boxkoji.scenarios.prepare(["mistakes.yaml"], near=tmp_path)
    assert str(info.value).splitlines() == [
        "mistakes.yaml:2: hub[hub].plugins[1]: no hub plugin 'sidetag' (sidetag.py) in "
        f"{boxkoji.source().path}/plugins/hub; did you mean 'sidetag_hub'?",
        "mistakes.yaml:6: hub[hub].plugin-config.protonmsg.broker.send_timout: protonmsg.py reads no "
        "option 'send_timout' in [broker]; it reads: cacert, cert, connect_timeout, send_timeout, test_mode, "
        "test_mode_fail, topic_prefix, urls; did you mean 'send_timeout'?",
        "mistakes.yaml:7: hub[hub].plugin-config.protonmsg.broker.connect_timeout: protonmsg.py reads "
        "[broker] connect_timeout as an integer; 'soon' is not one",
        "mistakes.yaml:9: hub[hub].plugin-config.protonmsg.queues.enabled: protonmsg.py reads no section "
        "[queues] of protonmsg.conf; it reads [broker], [message], [queue]; did you mean 'queue'?",
        "mistakes.yaml:10: hub[hub].plugin-config.sidetag_hub: no plugin the scenario enables reads "
        "/etc/koji-hub/plugins/sidetag_hub.conf; the enabled plugins read: protonmsg (protonmsg)",
    ]
    assert {p.name: p.read_text() for p in conf.rglob("*.conf")} == before


@pytest.mark.koji_scenario("base.yaml", "sidetag.yaml")
def test_sidetags_from_a_scenario(koji_cli, koji_scenario):
    made = koji_cli("add-sidetag", "dist-build", user="packager")
    assert made.returncode == 0, made.stderr
    name = made.stdout.strip()
    assert name.startswith("dist-build-box-")  # the scenario's name_template: its file was read
    listed = koji_cli("list-sidetags", "--mine", user="packager")
    assert listed.stdout.split() == [name]

    suffixed = koji_cli("add-sidetag", "dist-build", "--suffix", "candidate", user="packager")
    assert suffixed.returncode == 0, suffixed.stderr
    assert suffixed.stdout.strip().endswith("-candidate")  # allowed_suffixes, from the file too
    refused = koji_cli("add-sidetag", "dist-build", "--suffix", "nightly", user="packager")
    assert "nightly suffix is not allowed for sidetag" in refused.stderr

    third = koji_cli("add-sidetag", "dist-build", user="packager")  # the scenario's policy: two
    assert third.returncode != 0
    assert "Policy violation" in third.stderr

    removed = koji_cli("remove-sidetag", name, user="packager")
    assert removed.returncode == 0, removed.stderr
    assert koji_cli("list-sidetags", "--mine", user="packager").stdout.split() == [suffixed.stdout.strip()]


def test_sidetag_plugin_is_gone_without_the_scenario(koji_cli):
    missing = koji_cli("add-sidetag", "anything")
    assert missing.returncode != 0
    assert "Invalid method: createSideTag" in missing.stderr


def test_every_kind_of_message_protonmsg_sends_has_a_topic(koji_source_path):
    """koji_messages names topics by protonmsg's rules: a Koji whose protonmsg sends a new kind
    of message fails here, not silently in a test of yours."""
    tree = ast.parse((koji_source_path / "plugins" / "hub" / "protonmsg.py").read_text())
    kinds = {
        decorator.args[0].value.removeprefix("post")
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for decorator in node.decorator_list
        if isinstance(decorator, ast.Call) and getattr(decorator.func, "id", "") == "callback"
    }
    assert kinds - {"Commit"} == set(TOPICS)  # postCommit sends what the others queued


def test_health_probes_the_broker(koji_broker, proxy):
    """/health lists the broker, whichever of the two the session started first (the proxy's
    manifest, or the broker adding itself to a running proxy's), and finds it speaking AMQP 1.0."""
    import requests

    health = requests.get(proxy.health_url, verify=str(proxy.ca), timeout=30).json()
    assert health["services"]["broker"]["state"] == "up", health["services"]["broker"]
    assert "AMQP 1.0" in health["services"]["broker"]["check"]
