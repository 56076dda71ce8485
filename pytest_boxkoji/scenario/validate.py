"""Checking scenario files without Koji: `boxkoji scenario validate FILE...` and the pytest flag."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from pytest_boxkoji.scenario.loader import ScenarioError, load


def validate_markers(items: Sequence[pytest.Item], dirs: Sequence[Path]) -> tuple[int, str]:
    """Load every distinct scenario the items name; (exit code, report)."""
    seen: dict[tuple[tuple[str, ...], Path], list[str]] = {}
    for item in items:
        marker = item.get_closest_marker("koji_scenario")
        if marker:
            seen.setdefault((tuple(str(a) for a in marker.args), item.path.parent), []).append(item.nodeid)
    lines: list[str] = []
    failed = 0
    for (files, near), nodeids in seen.items():
        if not files:
            failed += 1
            lines.append(f"FAIL  {nodeids[0]}: @pytest.mark.koji_scenario needs at least one file name")
            continue
        try:
            scenario = load(files, near, dirs)
            lines.append(f"ok    {', '.join(files)}: {len(scenario.objects)} objects ({len(nodeids)} tests)")
        except ScenarioError as exc:
            failed += 1
            lines.append(f"FAIL  {', '.join(files)} (used by {nodeids[0]}):\n{exc}")
    lines.append(f"{len(seen)} scenarios checked, {failed} with problems")
    return (1 if failed else 0), "\n".join(lines)


def validate_files(files: Sequence[str], dirs: Sequence[Path]) -> int:
    """`boxkoji scenario validate`: one line when the files are fine, the problems otherwise."""
    try:
        scenario_ = load(files, Path.cwd(), dirs)
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return 1
    counts: dict[str, int] = {}
    for kind, _name in scenario_.objects:
        counts[kind] = counts.get(kind, 0) + 1
    print(f"ok: {', '.join(files)}: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
    return 0
