"""Hub plugins' own configuration files: what they read, merged from the box's defaults and a
scenario's `hub: plugin-config:`, rendered as the ini files Koji's plugins expect.

Koji's hub plugins read fixed paths, /etc/koji-hub/plugins/<name>.conf (CONFIG_FILE in
protonmsg.py, sidetag_hub.py...). The session writes those files into the hub's conf/plugins/
instead, and boxkoji_plugin_conf.py, run in every hub process before Koji loads its plugins
(mod_wsgi's WSGIImportScript), points koji.read_config_files there: no root, nothing in /etc.

What a plugin reads is found in its source with `ast`: the file names under
/etc/koji-hub/plugins/ and the options it reads by literal section and name, with the getter's
type (getint, getboolean, getfloat). scenario/plugins.py checks a scenario against that.
"""

from __future__ import annotations

import ast
import configparser
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_boxkoji import inside

FIXED_DIR = "/etc/koji-hub/plugins/"
LOADER = inside.DIRECTORY / "boxkoji_plugin_conf.py"
Sections = dict[str, dict[str, str]]  # [section] -> option -> value, as an ini file has them
# The configparser getters a plugin reads options with, and the type each expects.
GETTERS = {
    "get": "text",
    "has_option": "text",
    "getint": "integer",
    "getfloat": "number",
    "getboolean": "boolean",
}


def ini_value(value: object) -> str:
    """A scenario's YAML value as an ini file writes it (true/false for booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge(*configs: Mapping[str, Mapping[str, str]]) -> Sections:
    """Later configs win, option by option."""
    merged: Sections = {}
    for config in configs:
        for section, options in config.items():
            merged.setdefault(section, {}).update(options)
    return merged


def render(sections: Mapping[str, Mapping[str, str]]) -> str:
    parser = configparser.RawConfigParser()  # values exactly as given: no interpolation on write
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # options as written
    parser.read_dict(sections)
    text = io.StringIO()
    parser.write(text)
    return "# Written by pytest-boxkoji from the hub's plugin configuration.\n" + text.getvalue()


def parse(text: str) -> Sections:
    """render's text read back (a recorded hub's plugin files)."""
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(text)
    return {section: dict(parser[section]) for section in parser.sections()}


def parse_files(files: Sequence[Sequence[str]]) -> dict[str, Sections]:
    """A hub's plugin files (file name, text) as plugin configuration: name -> sections."""
    return {name.removesuffix(".conf"): parse(text) for name, text in files}


def merge_files(*configs: Mapping[str, Sections]) -> dict[str, Sections]:
    """Plugin configurations (name -> sections) merged: later ones win, option by option."""
    merged: dict[str, Sections] = {}
    for config in configs:
        for name, sections in config.items():
            merged[name] = merge(merged.get(name, {}), sections)
    return merged


@dataclass(frozen=True)
class PluginReads:
    """What one plugin's source reads."""

    source: Path
    files: frozenset[str]  # names of the files under /etc/koji-hub/plugins/, without .conf
    options: Mapping[tuple[str, str], str]  # (section, option) -> text, integer, number, boolean
    # Every option is read by literal section and name: an option not among them is unknown.
    # False when some getter takes its names from variables.
    complete: bool

    @property
    def sections(self) -> list[str]:
        return sorted({section for section, _ in self.options})


def read_plugin(source: Path) -> PluginReads:
    """The files and options a plugin reads, from its source (it is not imported)."""
    tree = ast.parse(source.read_text(), str(source))
    files: set[str] = set()
    options: dict[tuple[str, str], str] = {}
    complete = True
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            path = node.value
            if path.startswith(FIXED_DIR) and path.endswith(".conf"):
                files.add(path[len(FIXED_DIR) : -len(".conf")])
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        kind = GETTERS.get(node.func.attr)
        if kind is None or len(node.args) < 2:
            continue
        section, option = node.args[0], node.args[1]
        if not (isinstance(section, ast.Constant) and isinstance(option, ast.Constant)):
            # dict.get(key, default) looks the same; configparser's own getters are telling.
            complete = complete and node.func.attr == "get"
            continue
        if isinstance(section.value, str) and isinstance(option.value, str):
            key = (section.value, option.value.lower())  # configparser lowercases option names
            if options.get(key, "text") == "text":
                options[key] = kind
    return PluginReads(source, frozenset(files), options, complete)


def find_plugin(name: str, dirs: Iterable[Path]) -> Path | None:
    """The plugin's source as Koji's PluginTracker finds it: the first <name>.py on the path."""
    for directory in dirs:
        candidate = directory / f"{name}.py"
        if candidate.is_file():
            return candidate
    return None


def combine(
    settings: Mapping[str, str],
    config: Mapping[str, Sections],
    box: Mapping[str, Mapping[str, Sections]],
) -> tuple[dict[str, str], dict[str, str]]:
    """hub.conf's settings with the box's plugins added to `Plugins`, and the plugin files
    (file name -> text): the box's defaults, then what `config` (a scenario's) says."""
    combined = dict(settings)
    plugins = combined.get("Plugins", "").split()
    plugins += [name for name in box if name not in plugins]
    if plugins:
        combined["Plugins"] = " ".join(plugins)
    files = merge_files(*box.values(), config)
    return combined, {f"{name}.conf": render(sections) for name, sections in sorted(files.items())}


def write_files(directory: Path, files: Sequence[tuple[str, str]]) -> bool:
    """Make `directory` hold exactly these files; True when anything changed."""
    directory.mkdir(parents=True, exist_ok=True)
    wanted = dict(files)
    changed = False
    for path in directory.glob("*.conf"):
        if path.name not in wanted:
            path.unlink()
            changed = True
    for name, text in wanted.items():
        path = directory / name
        if path.exists() and path.read_text() == text:
            continue
        path.write_text(text)
        path.chmod(0o644)
        changed = True
    return changed
