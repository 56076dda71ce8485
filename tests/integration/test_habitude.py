"""koji-habitude's own data files, unchanged: what `koji-habitude apply` makes of each (the real
command, logged in to the box's hub as the admin), the marker makes too, and what it refuses, the
marker refuses. Hub states are compared with readback.read_hub.

The data comes from koji-habitude's source (habitude_data.py says where and why); without it those
tests skip and say how to get it. Files of this project's own in koji-habitude's vocabulary
(tests/scenarios/habitude) go through the same tests: koji-habitude's data leaves packages, build
groups, permissions and content generators untouched (the files that have them are refused).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from habitude_data import source, units
from koji_habitude.loader import MultiLoader, YAMLLoader
from koji_habitude.namespace import Namespace

from pytest_boxkoji import clients
from pytest_boxkoji.scenario import dump as dumper
from pytest_boxkoji.scenario.loader import ScenarioError, load
from pytest_boxkoji.scenario.readback import read_hub
from pytest_boxkoji.scenario.schema import BUILTIN

TREE, WHY = source()
DATA = TREE / "tests" / "data" if TREE else Path()
OWN = Path(__file__).parent.parent / "scenarios" / "habitude"
PARAMS = (
    [pytest.param(tuple(DATA / p for p in unit), id="+".join(unit)) for unit in units(DATA)]
    if TREE
    else [pytest.param((), id="koji-habitude-data", marks=pytest.mark.skip(reason=WHY))]
)
PARAMS += [pytest.param((path,), id=f"own/{path.name}") for path in sorted(OWN.glob("*.yaml"))]


def their_namespace(unit: tuple[Path, ...]) -> tuple[Namespace | None, str]:
    """koji-habitude's own reading of the files (templates expanded), or its error."""
    try:
        namespace = Namespace()
        namespace.feedall_raw(MultiLoader([YAMLLoader]).load(list(unit)))
        namespace.expand()
        return namespace, ""
    except Exception as exc:  # its errors have no common base class worth naming here
        return None, f"{type(exc).__name__}: {exc}"


def missing_references(namespace: Namespace) -> set[tuple[str, str]]:
    """What the objects refer to that neither the files nor an empty hub have: koji-habitude
    calls them phantoms and `apply` refuses the files."""
    return {
        dep
        for obj in namespace.values()
        for dep in obj.dependency_keys()
        if dep not in namespace.keys() and dep[1] not in BUILTIN.get(dep[0], set())
    }


@pytest.mark.parametrize("unit", PARAMS)
def test_the_files_read_as_koji_habitude_reads_them(unit):
    """Without a hub: the same objects out of the same files, templates expanded; refused where
    koji-habitude refuses (or would refuse on the empty hub: references to nothing)."""
    theirs, their_error = their_namespace(unit)
    try:
        ours = load([str(p) for p in unit])
    except ScenarioError as exc:
        expected = their_error or f"references to nothing: {sorted(missing_references(theirs))}"
        assert their_error or missing_references(theirs), f"koji-habitude reads these files; we say:\n{exc}"
        print(f"refused, as koji-habitude does ({expected}):\n{exc}")
        return
    assert theirs is not None, f"koji-habitude refuses these files ({their_error}); we read them"
    assert not missing_references(theirs)
    # koji-habitude keys a btype by the type it was written with (build-type).
    assert set(ours.objects) == {("btype" if k == "build-type" else k, n) for k, n in theirs.keys()}


@pytest.fixture
def habitude_apply(boxkoji, tmp_path):
    """`koji-habitude apply FILES` against the box's hub, as the admin with a Kerberos ticket.

    koji-habitude reads koji's own configuration files (profile given by --profile), so the box's
    profile goes where koji looks in a home directory of this test's own, and the ticket in a
    credential cache of its own (no kinit needed on the host)."""
    home = tmp_path / "home"
    (home / ".koji").mkdir(parents=True)
    shutil.copy(boxkoji.koji_config, home / ".koji" / "config")
    ccache = boxkoji.accounts.ticket("kojiadmin", f"FILE:{tmp_path}/krb5cc_kojiadmin")
    env = {**os.environ, **boxkoji.env, "HOME": str(home), "KRB5CCNAME": ccache}
    env.pop("KRB5_CLIENT_KTNAME", None)  # the ticket, not a keytab
    command = str(Path(sys.executable).parent / "koji-habitude")

    def apply(*paths: Path) -> subprocess.CompletedProcess[str]:
        args = [command, "apply", "--profile", clients.PROFILE, *map(str, paths)]
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)

    return apply


def applied(done: subprocess.CompletedProcess[str]) -> bool:
    # koji-habitude 0.9 exits 0 even when it refuses: it prints a summary only when it applied.
    return done.returncode == 0 and not done.stderr.strip() and "\nSummary:" in f"\n{done.stdout}"


def without_known_defects(state: dict[str, Any]) -> dict[str, Any]:
    """koji-habitude 0.9's YAML loader adds a `__line__` key to every mapping it reads, and a tag's
    `extras:` mapping goes to the hub as it is: `__line__` becomes an extra of the tag (and of the
    tags inheriting from it). The marker does not copy that; everything else must be equal."""
    for tag in state["tags"].values():
        tag["extras"].pop("__line__", None)
    return state


def differences(theirs: dict[str, Any], ours: dict[str, Any]) -> str:
    """Object by object: what koji-habitude made and what the marker made, where they differ."""
    lines = []
    for section in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(section), ours.get(section)
        if a == b:
            continue
        names = sorted(set(a) | set(b)) if isinstance(a, dict) and isinstance(b, dict) else [None]
        for name in names:
            x, y = (a.get(name), b.get(name)) if name is not None else (a, b)
            if x != y:
                lines.append(f"{section}[{name}]:" if name is not None else f"{section}:")
                lines.append(f"  koji-habitude: {json.dumps(x, sort_keys=True, default=str)}")
                lines.append(f"  marker:        {json.dumps(y, sort_keys=True, default=str)}")
    return "\n".join(lines)


@pytest.mark.integration
@pytest.mark.needs_koji
@pytest.mark.parametrize("unit", PARAMS)
def test_the_same_hub_state_as_koji_habitude_apply(boxkoji, habitude_apply, unit):
    paths = list(unit)
    boxkoji.scenarios.prepare([])  # the empty hub
    done = habitude_apply(*paths)
    theirs = without_known_defects(read_hub(boxkoji.admin_session())) if applied(done) else None
    if paths[0].parent == OWN:  # written to be applied: a refusal here is a failure, not a pass
        assert theirs is not None, f"koji-habitude refused {paths[0].name}:\n{done.stdout}{done.stderr}"
    try:
        boxkoji.scenarios.prepare([str(p) for p in paths])
    except ScenarioError as exc:
        assert theirs is None, f"koji-habitude applied these files; the marker refuses them:\n{exc}"
        print(f"refused by both.\nkoji-habitude:\n{done.stdout}{done.stderr}\nmarker:\n{exc}")
        return
    assert theirs is not None, f"the marker applied files koji-habitude refuses:\n{done.stdout}{done.stderr}"
    ours = read_hub(boxkoji.admin_session())
    assert ours == theirs, differences(theirs, ours)


@pytest.mark.integration
@pytest.mark.needs_koji
@pytest.mark.parametrize("path", sorted(OWN.glob("*.yaml")), ids=lambda path: path.name)
def test_koji_habitude_applies_a_dump_to_the_same_state(boxkoji, habitude_apply, tmp_path, path):
    """`boxkoji scenario dump` writes koji-habitude's vocabulary: its output, applied by
    koji-habitude to an empty hub, gives the state it was dumped from."""
    boxkoji.scenarios.prepare([str(path)])
    ours = read_hub(boxkoji.admin_session())
    dumped = tmp_path / "dump.yaml"
    dumped.write_text(dumper.to_yaml(dumper.of_environment(boxkoji)))
    boxkoji.scenarios.prepare([])  # the empty hub
    done = habitude_apply(dumped)
    assert applied(done), f"koji-habitude refused the dump:\n{done.stdout}{done.stderr}\n{dumped.read_text()}"
    theirs = without_known_defects(read_hub(boxkoji.admin_session()))
    assert theirs == ours, differences(theirs, ours)
