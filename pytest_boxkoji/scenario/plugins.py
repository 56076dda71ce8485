"""A scenario's hub plugins checked against their sources, and its `hub: plugin-config:` turned
into the files the plugins read (services/hub_plugins.py writes them where the hub reads them).

Checked before the hub is touched, with the file and key of the mistake: a plugin that is not on
the plugin path, a configuration file no enabled plugin reads, a section or option the plugin
does not read, a value its getter (getint, getboolean, getfloat) would refuse. These need the
plugins' sources, so they run when the scenario is applied, not in `boxkoji scenario validate`.
"""

from __future__ import annotations

import configparser
import difflib
from collections.abc import Sequence
from pathlib import Path

from pytest_boxkoji.scenario.model import Path_, Problem, Scenario, ScenarioError
from pytest_boxkoji.services.hub_plugins import (
    FIXED_DIR,
    PluginReads,
    Sections,
    find_plugin,
    ini_value,
    read_plugin,
)

HUB = ("hub", "hub")


def plugin_config(scenario: Scenario, plugin_dirs: Sequence[Path]) -> dict[str, Sections]:
    """The scenario's plugin files (name -> sections), or a ScenarioError naming every mistake."""
    hub = scenario.get(*HUB)
    if hub is None:
        return {}
    problems: list[Problem] = []
    readers: dict[str, PluginReads] = {}
    for index, name in enumerate(hub.plugins):
        source = find_plugin(name, plugin_dirs)
        if source is None:
            problems.append(scenario.problem(HUB, ("plugins", index), _no_plugin(name, plugin_dirs)))
        else:
            readers[name] = read_plugin(source)
    config: dict[str, Sections] = {}
    for file, sections in hub.plugin_config.items():
        path: Path_ = ("plugin-config", file)
        reading = [reads for reads in readers.values() if file in reads.files]
        if not reading:
            problems.append(scenario.problem(HUB, path, _nobody_reads(file, readers)))
            continue
        for section, options in sections.items():
            for option, value in options.items():
                message = _check_option(reading, file, section, option, value)
                if message:
                    problems.append(scenario.problem(HUB, (*path, section, option), message))
        config[file] = {s: {o: ini_value(v) for o, v in opts.items()} for s, opts in sections.items()}
    if problems:
        raise ScenarioError(problems)
    return config


def _no_plugin(name: str, dirs: Sequence[Path]) -> str:
    there = sorted({p.stem for d in dirs if d.is_dir() for p in d.glob("*.py")})
    close = difflib.get_close_matches(name, there, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; there are: {', '.join(there) or 'none'}"
    return f"no hub plugin {name!r} ({name}.py) in {', '.join(map(str, dirs))}{hint}"


def _nobody_reads(file: str, readers: dict[str, PluginReads]) -> str:
    text = f"no plugin the scenario enables reads {FIXED_DIR}{file}.conf"
    read = [f"{f} ({name})" for name, reads in readers.items() for f in sorted(reads.files)]
    if read:
        return f"{text}; the enabled plugins read: {', '.join(read)}"
    return f"{text}; add the plugin that reads it to `plugins`"


def _check_option(reading: list[PluginReads], file: str, section: str, option: str, value: object) -> str:
    sources = ", ".join(sorted({reads.source.name for reads in reading}))
    known: dict[tuple[str, str], str] = {}
    for reads in reading:
        known.update(reads.options)
    if all(reads.complete for reads in reading):
        sections = sorted({s for s, _ in known})
        if section not in sections:
            listed = ", ".join(f"[{s}]" for s in sections) or "none"
            hint = _close(section, sections)
            return f"{sources} reads no section [{section}] of {file}.conf; it reads {listed}{hint}"
        names = sorted(o for s, o in known if s == section)
        if option.lower() not in names:
            return (
                f"{sources} reads no option {option!r} in [{section}]; it reads: "
                f"{', '.join(names)}{_close(option.lower(), names)}"
            )
    kind = known.get((section, option.lower()), "text")
    if not _fits(kind, value):
        article = "an" if kind == "integer" else "a"
        return f"{sources} reads [{section}] {option} as {article} {kind}; {value!r} is not one"
    return ""


def _close(word: str, words: list[str]) -> str:
    close = difflib.get_close_matches(word, words, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _fits(kind: str, value: object) -> bool:
    """Would the plugin's getter accept the value as the ini file holds it?"""
    if kind == "text":
        return True
    text = ini_value(value)
    if kind == "boolean":
        return text.lower() in configparser.RawConfigParser.BOOLEAN_STATES
    try:
        (int if kind == "integer" else float)(text)
    except ValueError:
        return False
    return not isinstance(value, bool)
