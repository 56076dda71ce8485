# mypy: ignore-errors
"""Runs in each hub process before Koji loads its plugins (mod_wsgi's WSGIImportScript, see
templates/hub-httpd.conf.j2); not imported by pytest-boxkoji itself.

Koji's hub plugins read their configuration from fixed paths, /etc/koji-hub/plugins/<name>.conf
(CONFIG_FILE in protonmsg.py, sidetag_hub.py, ...), through koji.read_config_files. This points
those paths at the session's files, in the plugins/ directory beside this script (written from a
scenario's `hub: plugin-config:`): no root, nothing in /etc, the same on both runtimes.
"""

import os

import koji

FIXED = "/etc/koji-hub/plugins/"
SESSION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
_read_config_files = koji.read_config_files


def _session_path(path):
    if isinstance(path, str) and path.startswith(FIXED):
        return os.path.join(SESSION, path[len(FIXED) :])
    return path


def _session_item(item):
    # An item is a path, or (path, strict): Koji's own function checks the rest.
    if isinstance(item, (list, tuple)) and item:
        return (_session_path(item[0]), *item[1:])
    return _session_path(item)


def read_config_files(config_files, raw=False):
    """koji.read_config_files, with /etc/koji-hub/plugins/ read from the session's directory."""
    if isinstance(config_files, (list, tuple)):
        config_files = [_session_item(item) for item in config_files]
    else:
        config_files = _session_path(config_files)
    return _read_config_files(config_files, raw=raw)


koji.read_config_files = read_config_files
