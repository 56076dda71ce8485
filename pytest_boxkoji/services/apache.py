"""What the Apache-served parts (hub, web) share: the modules to load, the common settings of
their httpd.conf (templates/apache.conf.j2) and restarting their mod_wsgi daemons in place."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from pytest_boxkoji import hostprogs
from pytest_boxkoji.errors import ServiceStartError
from pytest_boxkoji.kojisrc import SOURCE
from pytest_boxkoji.orch import ORCH
from pytest_boxkoji.runtimes.tools import Endpoint, Tools
from pytest_boxkoji.servicespy import PYTHON

if TYPE_CHECKING:
    from pytest_boxkoji.graph import Context
    from pytest_boxkoji.orch import Credential

# (module name, file): loaded when the file exists (Debian compiles some in, Fedora does not).
MODULES = (
    ("mpm_event_module", "mod_mpm_event.so"),
    ("unixd_module", "mod_unixd.so"),
    ("log_config_module", "mod_log_config.so"),
    ("authn_core_module", "mod_authn_core.so"),
    ("authz_core_module", "mod_authz_core.so"),
    ("authz_user_module", "mod_authz_user.so"),
    ("alias_module", "mod_alias.so"),
    ("env_module", "mod_env.so"),
    ("setenvif_module", "mod_setenvif.so"),
    ("autoindex_module", "mod_autoindex.so"),
    ("mime_module", "mod_mime.so"),
    ("socache_shmcb_module", "mod_socache_shmcb.so"),
    ("ssl_module", "mod_ssl.so"),
    ("auth_gssapi_module", "mod_auth_gssapi.so"),
)
PROGRAMS = (hostprogs.APACHE, hostprogs.MOD_SSL, hostprogs.MOD_AUTH_GSSAPI)
PROXY_TOKEN = "proxy-token"  # orch's name for the secret nginx proves itself with


@dataclass(frozen=True)
class Site:
    """What an Apache-served part's httpd.conf depends on, the hub's and the web's alike."""

    directory: Path
    endpoint: Endpoint
    proxied: Endpoint  # plain HTTP for the proxy (nginx), which terminates TLS in front
    proxy_token: str  # what the proxy sends to be served there
    tools: Tools
    koji_src: Path
    python_home: Path
    mod_wsgi: Path
    cert: Path
    key: Path
    ca: Path
    keytab: Path  # HTTP/ service keys: Kerberos logins (mod_auth_gssapi)

    def template_values(self, purpose: str, app: Path, daemon_name: str, **values: Any) -> dict[str, Any]:
        """The values of templates/apache.conf.j2 and of the site's own template."""
        return common(
            self.tools,
            self.directory,
            purpose=purpose,
            bind=self.endpoint.bind,
            port=self.endpoint.port,
            proxied_port=self.proxied.port,
            proxy_token=self.proxy_token,
            mod_wsgi=self.mod_wsgi,
            python_home=self.python_home,
            koji_src=self.koji_src,
            app=app,
            daemon_name=daemon_name,
            cert=self.cert,
            key=self.key,
            ca=self.ca,
            keytab=self.keytab,
            **values,
        )


def site_fields(
    context: Context, name: str, endpoint: Endpoint, cert: Credential, keytab: Credential
) -> dict[str, Any]:
    """The `Site` fields every Apache part fills alike: its directory, a plain port for the proxy
    and the proxy's token, Koji's tree, the services' Python, its certificate and HTTP/ keys."""
    source, orch, python = context.get(SOURCE), context.get(ORCH), context.get(PYTHON)
    runtime = context.runtime
    return {
        "directory": context.workspace.directory / name,
        "endpoint": endpoint,
        "proxied": runtime.endpoint(name, 8080),
        "proxy_token": orch.checkout(PROXY_TOKEN, "password", holder="proxy").password,
        "tools": runtime.tools("hub", *PROGRAMS),  # the hub's image has Apache and mod_wsgi
        "koji_src": source.path,
        "python_home": python.root,
        "mod_wsgi": python.mod_wsgi,
        "cert": cert.path,
        "key": cert.key_path,
        "ca": orch.ca_file,
        "keytab": keytab.path,
    }


def modules_dir(tools: Tools) -> Path:
    return Path(tools.path(hostprogs.MOD_SSL)).parent


def common(tools: Tools, directory: Path, **values: Any) -> dict[str, Any]:
    """The template values every site's httpd.conf needs, its directories made."""
    run, logs = directory / "run", directory / "logs"
    for path in (directory / "conf", run, run / "htdocs", logs):
        path.mkdir(parents=True, exist_ok=True)
    mods = modules_dir(tools)
    return {
        "run_dir": run,
        "log_dir": logs,
        "user": None,
        "group": None,
        "modules": [(name, file) for name, file in MODULES if tools.has_file(mods / file)],
        "modules_dir": mods,
        **values,
    }


def command(tools: Tools, httpd_conf: Path) -> list[str]:
    return [tools.path(hostprogs.APACHE), "-f", str(httpd_conf), "-DFOREGROUND"]


def restart_daemons(
    apache_pid: int, daemon_name: str, ready: Callable[[], bool], deadline: float = 30
) -> None:
    """Restart the mod_wsgi daemons named `daemon_name` so that the application reads its
    configuration again (Apache stays up, its ports stay open), and wait until `ready`."""
    parent = psutil.Process(apache_pid)
    old = set(_daemons(parent, daemon_name))
    for pid in old:
        with contextlib.suppress(psutil.NoSuchProcess):
            psutil.Process(pid).send_signal(signal.SIGINT)
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        fresh = [pid for pid in _daemons(parent, daemon_name) if pid not in old]
        if fresh:
            with contextlib.suppress(Exception):
                if ready():
                    return
        time.sleep(0.05)
    raise ServiceStartError(
        f"{daemon_name} did not come back within {deadline:.0f} s after reloading its configuration"
    )


def _daemons(apache: psutil.Process, daemon_name: str) -> list[int]:
    """Process ids of the live mod_wsgi daemons (display-name marks them)."""
    found = []
    for child in apache.children():
        with contextlib.suppress(psutil.Error):  # exiting or zombie: not a live daemon
            if child.status() != psutil.STATUS_ZOMBIE and daemon_name in " ".join(child.cmdline()):
                found.append(child.pid)
    return found
