# mypy: ignore-errors
"""Runs Koji's own kojid (path in argv[1]) in the services' Python.

kojid scans /etc/mock/koji for buildroot configs on every loop and dies when it is missing.
Builds that need mock cannot run on hosts without mock anyway, so when the directory does not
exist there are no local buildroots to find: say so instead of crashing.
"""

import os
import runpy
import sys

import koji.daemon

if not os.path.isdir("/etc/mock/koji"):
    koji.daemon.TaskManager._scanLocalBuildroots = lambda self: {}

kojid = sys.argv[1]
sys.argv = [kojid, *sys.argv[2:]]
runpy.run_path(kojid, run_name="__main__")
