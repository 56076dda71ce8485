"""Hub plugins' files: what a plugin reads (from its source), the files a scenario's plugin-config
makes, its mistakes, and the loader that points the hub's processes at the session's files."""

from __future__ import annotations

import configparser
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError, load
from pytest_boxkoji.scenario.plugins import plugin_config
from pytest_boxkoji.services import hub_plugins

# A plugin as Koji writes them: a fixed config path, options read by literal names.
PLUGIN = """\
import koji
CONFIG_FILE = "/etc/koji-hub/plugins/example.conf"
CONFIG = koji.read_config_files([(CONFIG_FILE, True)])
LIMIT = CONFIG.getint("limits", "max_tags", fallback=3)
if CONFIG.has_option("names", "template"):
    TEMPLATE = CONFIG.get("names", "template")
STRICT = CONFIG.getboolean("names", "strict")
RATIO = CONFIG.getfloat("limits", "ratio")
DEFAULTS = {"a": 1}.get("a", "b")  # a dict's get looks like a config's: harmless
"""


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    directory = tmp_path / "plugins"
    directory.mkdir()
    (directory / "example.py").write_text(PLUGIN)
    (directory / "dynamic.py").write_text(
        'CONFIG_FILE = "/etc/koji-hub/plugins/dynamic.conf"\n'
        "def read(config, section):\n"
        '    return config.getint(section, "size")\n'
    )
    return directory


def test_what_a_plugin_reads_comes_from_its_source(plugins: Path) -> None:
    reads = hub_plugins.read_plugin(plugins / "example.py")
    assert reads.files == {"example"}
    assert dict(reads.options) == {
        ("limits", "max_tags"): "integer",
        ("limits", "ratio"): "number",
        ("names", "template"): "text",
        ("names", "strict"): "boolean",
        ("a", "b"): "text",
    }
    assert reads.complete
    # A getter whose section is a variable: the options it reads cannot be listed.
    assert not hub_plugins.read_plugin(plugins / "dynamic.py").complete


def test_the_box_plugins_are_added_and_scenarios_extend_their_files() -> None:
    box = {"protonmsg": {"protonmsg": {"broker": {"urls": "amqp://broker:5672", "send_timeout": "10"}}}}
    config = {"protonmsg": {"broker": {"send_timeout": "3"}, "message": {"extra_limit": "100"}}}
    settings, files = hub_plugins.combine({"Plugins": "sidetag_hub", "LogLevel": "INFO"}, config, box)
    assert settings == {"Plugins": "sidetag_hub protonmsg", "LogLevel": "INFO"}
    parser = configparser.RawConfigParser()
    parser.read_string(files["protonmsg.conf"])
    assert {s: dict(parser[s]) for s in parser.sections()} == {
        "broker": {"urls": "amqp://broker:5672", "send_timeout": "3"},
        "message": {"extra_limit": "100"},
    }
    # Listed once, whoever names it; nothing at all without plugins.
    assert hub_plugins.combine({"Plugins": "protonmsg"}, {}, box)[0] == {"Plugins": "protonmsg"}
    assert hub_plugins.combine({}, {}, {}) == ({}, {})


def test_files_are_written_exactly_and_changes_reported(tmp_path: Path) -> None:
    directory = tmp_path / "plugins"
    assert hub_plugins.write_files(directory, [("a.conf", "[x]\n"), ("b.conf", "[y]\n")])
    assert not hub_plugins.write_files(directory, [("a.conf", "[x]\n"), ("b.conf", "[y]\n")])
    assert hub_plugins.write_files(directory, [("a.conf", "[x]\n")])  # b.conf goes
    assert sorted(p.name for p in directory.iterdir()) == ["a.conf"]


def _scenario(tmp_path: Path, text: str):  # noqa: ANN202
    (tmp_path / "s.yaml").write_text(textwrap.dedent(text))
    return load(["s.yaml"], tmp_path, [])


def test_a_scenarios_plugin_config_becomes_ini_sections(tmp_path: Path, plugins: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """\
        type: hub
        plugins: [example]
        plugin-config:
          example:
            limits: {max_tags: 5, ratio: 0.5}
            names: {strict: true, template: "{basetag}-side"}
        """,
    )
    assert plugin_config(scenario, [plugins]) == {
        "example": {
            "limits": {"max_tags": "5", "ratio": "0.5"},
            "names": {"strict": "true", "template": "{basetag}-side"},
        }
    }


def test_plugin_config_mistakes_name_the_file_line_and_key(tmp_path: Path, plugins: Path) -> None:
    scenario = _scenario(
        tmp_path,
        """\
        type: hub
        plugins: [exmaple, example, dynamic]
        plugin-config:
          example:
            limits:
              max_tag: 5
              ratio: half
            name: {strict: true}
            names: {strict: maybe}
          dynamic:
            anything: {size: big, whatever: 1}
          other: {x: {y: z}}
        """,
    )
    with pytest.raises(ScenarioError) as info:
        plugin_config(scenario, [plugins])
    assert str(info.value).splitlines() == [
        f"s.yaml:2: hub[hub].plugins[0]: no hub plugin 'exmaple' (exmaple.py) in {plugins}; did you mean 'example'?",
        "s.yaml:6: hub[hub].plugin-config.example.limits.max_tag: example.py reads no option 'max_tag' in "
        "[limits]; it reads: max_tags, ratio; did you mean 'max_tags'?",
        "s.yaml:7: hub[hub].plugin-config.example.limits.ratio: example.py reads [limits] ratio as a number; "
        "'half' is not one",
        "s.yaml:8: hub[hub].plugin-config.example.name.strict: example.py reads no section [name] of "
        "example.conf; it reads [a], [limits], [names]; did you mean 'names'?",
        "s.yaml:9: hub[hub].plugin-config.example.names.strict: example.py reads [names] strict as a boolean; "
        "'maybe' is not one",
        # The dynamic plugin's options cannot be listed: only what is known is checked.
        "s.yaml:12: hub[hub].plugin-config.other: no plugin the scenario enables reads "
        "/etc/koji-hub/plugins/other.conf; the enabled plugins read: example (example), dynamic (dynamic)",
    ]


def test_the_loader_points_fixed_paths_at_the_session(tmp_path: Path) -> None:
    """Run as the hub runs it: in a fresh interpreter, before anything reads a plugin's file."""
    conf = tmp_path / "conf"
    (conf / "plugins").mkdir(parents=True)
    loader = conf / hub_plugins.LOADER.name
    loader.write_text(hub_plugins.LOADER.read_text())
    (conf / "plugins" / "example.conf").write_text("[limits]\nmax_tags = 7\n")
    (tmp_path / "elsewhere.conf").write_text("[x]\ny = 1\n")
    code = textwrap.dedent(
        f"""\
        import runpy, koji
        runpy.run_path({str(loader)!r})
        strict = koji.read_config_files([("/etc/koji-hub/plugins/example.conf", True)])
        plain = koji.read_config_files("/etc/koji-hub/plugins/example.conf", raw=True)
        other = koji.read_config_files([{str(tmp_path / "elsewhere.conf")!r}])
        print(strict.get("limits", "max_tags"), plain.get("limits", "max_tags"), other.get("x", "y"))
        try:
            koji.read_config_files([("/etc/koji-hub/plugins/missing.conf", True)])
        except koji.ConfigurationError as exc:
            print(exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "7 7 1",
        f"Config file {conf}/plugins/missing.conf can't be opened.",
    ]
