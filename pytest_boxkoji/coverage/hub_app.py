# mypy: ignore-errors
"""The hub's WSGI application under coverage.py (loaded by mod_wsgi instead of kojiapp.py).

mod_wsgi serves requests on threads it creates in C, which coverage's thread hook never sees;
so coverage runs around each request, under a lock, on the request's own thread. The current
test's id (written to a file by the pytest plugin) becomes coverage's dynamic context. Data is
saved when the daemon process exits (atexit runs at mod_wsgi shutdown).

This file runs in the services' Python, not in the test process.
"""

import atexit
import os
import threading

import coverage

_DIR = os.environ["BOXKOJI_COV_DIR"]
_TEST_FILE = os.path.join(_DIR, "current-test")
_cov = coverage.Coverage(
    data_file=os.path.join(_DIR, ".coverage.hub"),
    data_suffix=True,
    source=os.environ["BOXKOJI_COV_SOURCE"].split(os.pathsep),
    branch=True,
    config_file=False,
)
_lock = threading.Lock()
_context = {"mtime": None, "name": "hub-start"}


def _current_test():
    try:
        mtime = os.stat(_TEST_FILE).st_mtime_ns
    except OSError:
        return _context["name"]
    if mtime != _context["mtime"]:
        with open(_TEST_FILE) as handle:
            _context["name"] = handle.read().strip() or "no-test"
        _context["mtime"] = mtime
    return _context["name"]


with _lock:
    _cov.start()
    _cov.switch_context("hub-import")
    try:
        from kojihub.kojixmlrpc import application as _hub
    finally:
        _cov.stop()


def application(environ, start_response):
    with _lock:
        _cov.start()
        try:
            _cov.switch_context(_current_test())
            result = _hub(environ, start_response)
            try:
                body = list(result)  # the hub's work happens while it is iterated
            finally:
                if hasattr(result, "close"):
                    result.close()
        finally:
            _cov.stop()
    return body


@atexit.register
def _save():
    with _lock:
        _cov.save()
