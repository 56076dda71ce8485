"""Which state the hub is in for a test: the empty hub or a scenario, restored from snapshots."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import koji

from pytest_boxkoji import progress
from pytest_boxkoji.builds import buildroot
from pytest_boxkoji.clients import Auth
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.scenario import apply as applier
from pytest_boxkoji.scenario import plugins, repos
from pytest_boxkoji.scenario.hubstate import EMPTY, HubState
from pytest_boxkoji.scenario.loader import Problem, Scenario, ScenarioError, describe, load
from pytest_boxkoji.scenario.schema import BUILDROOT_URL
from pytest_boxkoji.services import broker, hub_plugins
from pytest_boxkoji.services.broker import MESSAGES
from pytest_boxkoji.services.hub import HUB
from pytest_boxkoji.services.hub_config import HubConfig
from pytest_boxkoji.services.hub_plugins import Sections

if TYPE_CHECKING:
    from pytest_boxkoji.accounts import Accounts
    from pytest_boxkoji.graph import Graph
    from pytest_boxkoji.services.hub import Hub


@dataclasses.dataclass
class Applied:
    """What a test's scenario put on the hub: objects by name, their ids, and sessions."""

    scenario: Scenario
    ids: dict[str, dict[str, int]]
    accounts: Accounts

    def session(self, user: str, auth: Auth = "gssapi") -> koji.ClientSession:
        """A session logged in as one of the scenario's users (credentials made on first use)."""
        return self.accounts.session(user, auth)

    def id(self, kind: str, name: str) -> int:
        return self.ids[kind][name]

    def names(self, kind: str) -> list[str]:
        return [obj.name for obj in self.scenario.of(kind)]

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self.scenario.objects[key]


ADDING = "adding"  # the snapshot `add` puts back when the hub refuses a scenario


class ScenarioStates:
    """Applies each distinct scenario once per session and restores it for every test."""

    def __init__(self, graph: Graph, accounts: Accounts, state: HubState) -> None:
        self.graph = graph  # Koji's source, the realm, the runtime (mounts) and the cache
        self.accounts = accounts
        self.state = state
        self.hub: Hub = graph.get(HUB)  # reconfigured by scenarios' hub settings and policies
        self.applied: dict[str, Applied] = {}
        state.on_rebase(self.applied.clear)  # their snapshots are gone: applied again when used

    def load(self, files: Sequence[str], near: Path | None, dirs: Sequence[Path]) -> Scenario:
        # Read every time (milliseconds): a file edited during the session is what counts.
        return load(files, near, dirs)

    def prepare(self, files: Sequence[str], near: Path | None = None, dirs: Sequence[Path] = ()) -> Applied:
        """Put the hub in the state `files` describe (the empty hub when there are none)."""
        scenario = self.load(files, near, dirs) if files else Scenario(files=())
        name = f"s{scenario.digest}" if files else EMPTY
        self.state.new_test()
        self._reconfigure(scenario)
        if name in self.state:
            self.state.restore(name)
            return self.applied.get(name) or Applied(scenario, {}, self.accounts)
        self.state.restore(EMPTY)
        try:
            ids = self._apply(scenario)
        except koji.GenericError as exc:
            # Half applied: back to the empty hub, so that "nothing changed" holds here too.
            self.state.restore(EMPTY)
            raise refused(scenario, exc) from None
        self.accounts.forget_sessions()
        self.state.take(name)
        self.applied[name] = Applied(scenario, ids, self.accounts)
        return self.applied[name]

    def add(self, scenario: Scenario) -> Applied:
        """Apply `scenario` on top of the hub's state as it is (`boxkoji scenario apply`): its
        hub settings, policies and plugin files merged over the running hub's. Refused half-way,
        the hub is put back as it was: its data, and its configuration."""
        before = self.hub.settings
        settings, policy, plugin_config = self._hub_config(scenario, onto=before)
        self.state.take(ADDING)
        try:
            self._reconfigure_to(settings, policy, plugin_config)
            try:
                ids = self._apply(scenario)
            except koji.GenericError as exc:
                self.state.restore(ADDING)
                before_files = hub_plugins.parse_files(before.plugin_files)
                self._reconfigure_to(dict(before.extra_settings), before.policy, before_files)
                raise refused(scenario, exc) from None
        finally:
            self.state.drop(ADDING)
        self.accounts.forget_sessions()
        return Applied(scenario, ids, self.accounts)

    def _apply(self, scenario: Scenario) -> applier.Ids:
        """The scenario's objects on the hub; a scenario that links the box's buildroot repository
        (made once per machine; the builders see it: Workers mounts it) also gets its build tags'
        repos (scenario/repos.py)."""
        urls = {}
        if any(r.url == BUILDROOT_URL for r in scenario.of("external-repo")):
            repo = buildroot.buildroot_repo(self.graph.config.cache_dir, progress.say)
            urls[BUILDROOT_URL] = repo.path.as_uri() + "/"
        ids = applier.apply(scenario, self.accounts.admin_session(), self.graph.config.cache_dir, urls)
        if urls:
            repos.make_build_repos(self.accounts.admin_session(), scenario)
        return ids

    def _hub_config(
        self, scenario: Scenario, onto: HubConfig | None = None
    ) -> tuple[dict[str, str], str, dict[str, Sections]]:
        """The hub settings, policy text and plugin files a scenario asks for (merged over `onto`'s
        when given), checked against the plugins' sources before anything changes. Starts what
        the scenario's plugins need (protonmsg: the box's broker) and makes a user's plugin
        directories visible where the hub runs."""
        koji_src = self.graph.get(SOURCE).path
        plugin_config = plugin_config_of(scenario, koji_src)
        settings, policies = hub_config_of(scenario, koji_src)
        hub = scenario.get("hub", "hub")
        if hub and broker.PLUGIN in hub.plugins:
            self.graph.get(MESSAGES)  # the box's broker, and the plugin's defaults for it
            if onto is not None:
                onto = self.hub.settings  # the plugin enabled since
        for directory in settings.get("PluginPath", "").split(":") if "Plugins" in settings else ():
            self.graph.runtime.mount(Path(directory))
        if onto is None:
            return settings, policy_text(policies), plugin_config
        merged_files = hub_plugins.merge_files(hub_plugins.parse_files(onto.plugin_files), plugin_config)
        return (
            {**dict(onto.extra_settings), **settings},
            policy_text({**parse_policy(onto.policy), **policies}),
            merged_files,
        )

    def _reconfigure(self, scenario: Scenario) -> None:
        self._reconfigure_to(*self._hub_config(scenario))

    def _reconfigure_to(
        self, settings: dict[str, str], policy: str, plugin_config: dict[str, Sections]
    ) -> None:
        if self.hub.reconfigure(settings, policy, plugin_config):
            self.accounts.forget_sessions()  # a restarted hub may have dropped them


def hub_config_of(scenario: Scenario, koji_src: Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The hub.conf settings and the policies (name -> rules) a scenario declares."""
    hub = scenario.get("hub", "hub")
    settings = {
        k: ("On" if v is True else "Off" if v is False else str(v))
        for k, v in (hub.settings if hub else {}).items()
    }
    if hub and hub.plugins:
        settings["Plugins"] = " ".join(hub.plugins)
        settings["PluginPath"] = applier.plugin_path(scenario, koji_src)
    return settings, {p.name: list(p.rules) for p in scenario.of("policy")}


def plugin_config_of(scenario: Scenario, koji_src: Path) -> dict[str, Sections]:
    """The scenario's plugin files (name -> sections), checked against the plugins' sources on
    its plugin path: its mistakes raise before anything changes."""
    plugin_dirs = [Path(d) for d in applier.plugin_path(scenario, koji_src).split(":")]
    return plugins.plugin_config(scenario, plugin_dirs)


def policy_text(policies: dict[str, list[str]]) -> str:
    """hub.conf's [policy] section."""
    return "\n".join(
        f"{name} =\n" + "\n".join(f"    {rule}" for rule in rules) for name, rules in policies.items()
    )


def parse_policy(text: str) -> dict[str, list[str]]:
    """policy_text read back: name -> rules."""
    policies: dict[str, list[str]] = {}
    current: list[str] = []
    for line in text.splitlines():
        if line.startswith("    ") and line.strip():
            current.append(line[4:])
        elif line.rstrip().endswith("="):
            current = policies.setdefault(line.rstrip()[:-1].strip(), [])
    return policies


def refused(scenario: Scenario, fault: koji.GenericError) -> ScenarioError:
    """What the hub refused, pointed at the object its message names (Koji names it)."""
    text = str(fault).strip().splitlines()[-1]
    named = [key for key in scenario.objects if key[1] and key[1] in text]
    if not named:
        files = ", ".join(scenario.files)
        return ScenarioError([Problem(files, 0, "", f"the hub refused the scenario: {text}")])
    kind, name = max(named, key=lambda key: len(key[1]))
    file, line = scenario.where((kind, name))
    message = f"the hub refused it: {text}; change it to what Koji accepts"
    return ScenarioError([Problem(file, line, describe(kind, name, ()), message)])
