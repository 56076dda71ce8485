# mypy: ignore-errors
"""Runs Koji's own kojid or kojira (path in argv[1]) in the services' Python.

kojid scans /etc/mock/koji for buildroot configs on every loop and dies when it is missing.
Builds that need mock cannot run on hosts without mock anyway, so when the directory does not
exist there are no local buildroots to find: say so instead of crashing.

kojid takes no task while the load average exceeds 4 per CPU (hard-coded in koji.daemon): on a
test machine busy with other sessions (CI, xdist) tasks would wait for as long as it stays busy.
Here the load says nothing about this builder, so kojid does not see it.

kojira before Koji 1.35 refuses `ccache` in its config file ("unknown config option") and then
logs in with its default /var/tmp/kojira.ccache, which every kojira on the machine would share,
each session's ticket from another KDC. BOXKOJI_CCACHE gives it its own.

A builder that builds (builds/host.py) runs in a mount namespace of its own: BOXKOJI_BUILDER_LAYERS
names the overlays to mount over /etc and /usr/bin before Koji's code starts.

Under --cov-workers this file runs under `coverage run` (coverage/data.py: daemon_args).
"""

import json
import os
import runpy
import subprocess
import sys

import koji
import koji.daemon

_layers = os.environ.pop("BOXKOJI_BUILDER_LAYERS", "")
if _layers:
    layers = json.loads(_layers)
    # Never let a mount reach this host's namespace: the caller's `unshare --mount` made a copy,
    # and the mounts below stay in it.
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    subprocess.run(
        [
            "mount",
            "-t",
            "overlay",
            "boxkoji-etc",
            "-o",
            f"lowerdir=/etc,upperdir={layers['etc_upper']},workdir={layers['etc_work']}",
            "/etc",
        ],
        check=True,
    )
    if layers["bin"]:
        subprocess.run(
            ["mount", "-t", "overlay", "boxkoji-bin", "-o", f"lowerdir={layers['bin']}:/usr/bin", "/usr/bin"],
            check=True,
        )

script = sys.argv[1]

if os.path.basename(script) == "kojid" and not os.path.isdir("/etc/mock/koji"):
    koji.daemon.TaskManager._scanLocalBuildroots = lambda self: {}

if os.path.basename(script) == "kojid":
    os.getloadavg = lambda: (0.0, 0.0, 0.0)

_ccache = os.environ.get("BOXKOJI_CCACHE")
if _ccache:
    _gssapi_login = koji.ClientSession.gssapi_login

    def _own_ccache(self, principal=None, keytab=None, ccache=None, *args, **kwargs):
        return _gssapi_login(self, principal, keytab, _ccache, *args, **kwargs)

    koji.ClientSession.gssapi_login = _own_ccache

sys.argv = [script, *sys.argv[2:]]
runpy.run_path(script, run_name="__main__")
