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

Koji turns mock's root cache off (its repos change all the time). A box restores the same repo
again and again, test after test, so with BOXKOJI_ROOT_CACHE a builder keeps one cache per buildroot
*content*: its tag, arch, group and the repo's repomd.xml digest (a repo id alone is reused, for
other content, after a restore). The cache is the chroot as `install @build` left it; mock's
age check (which a new config file per buildroot always fails) is off, the key does its work.

Under --cov-workers this file runs under `coverage run` (coverage/data.py: daemon_args).
"""

import hashlib
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

_roots = os.environ.get("BOXKOJI_ROOT_CACHE")
if _roots and os.path.basename(script) == "kojid":
    _genMockConfig = koji.genMockConfig

    def _with_root_cache(name, arch, managed=False, repoid=None, tag_name=None, **opts):
        text = _genMockConfig(name, arch, managed, repoid, tag_name, **opts)
        repo = koji.PathInfo(topdir=opts.get("topdir", "/mnt/koji")).repo(repoid, tag_name)
        try:
            with open(os.path.join(repo, arch, "repodata", "repomd.xml"), "rb") as repomd:
                content = hashlib.sha256(repomd.read()).hexdigest()[:16]
        except (OSError, TypeError):
            return text  # no local repo to key it by: as Koji would
        key = f"{tag_name}-{arch}-{opts.get('install_group', 'build')}-{content}"
        cache = "config_opts['plugin_conf']['root_cache_opts']"
        return text + (
            "\n# pytest-boxkoji: a root cache per buildroot content (daemon_launcher.py)\n"
            "config_opts['plugin_conf']['root_cache_enable'] = True\n"
            f"{cache}['dir'] = {os.path.join(_roots, key)!r}\n"
            f"{cache}['age_check'] = False\n"
            f"{cache}['compress_program'] = ''\n"
        )

    koji.genMockConfig = _with_root_cache

_ccache = os.environ.get("BOXKOJI_CCACHE")
if _ccache:
    _gssapi_login = koji.ClientSession.gssapi_login

    def _own_ccache(self, principal=None, keytab=None, ccache=None, *args, **kwargs):
        return _gssapi_login(self, principal, keytab, _ccache, *args, **kwargs)

    koji.ClientSession.gssapi_login = _own_ccache

sys.argv = [script, *sys.argv[2:]]
runpy.run_path(script, run_name="__main__")
