# mypy: ignore-errors
"""A Koji WSGI application under coverage.py, loaded by mod_wsgi in place of Koji's own script
(the hub's kojiapp.py, kojiweb's wsgi_publisher.py: BOXKOJI_COV_APP names it).

mod_wsgi serves requests on threads it creates in C, which coverage's thread hook never sees;
so coverage runs around each request, under a lock, on the request's own thread. The current
test's id (written to a file by the pytest plugin) becomes coverage's dynamic context. Data is
saved when the daemon process exits (atexit runs at mod_wsgi shutdown).

This file runs in the services' Python, not in the test process.
"""

import atexit
import importlib.util
import os
import threading

import coverage

_DIR = os.environ["BOXKOJI_COV_DIR"]
_NAME = os.environ["BOXKOJI_COV_NAME"]  # hub or web: the data files say which
_SCRIPT = os.environ["BOXKOJI_COV_APP"]
_TEST_FILE = os.path.join(_DIR, "current-test")
_cov = coverage.Coverage(
    data_file=os.path.join(_DIR, f".coverage.{_NAME}"),
    data_suffix=True,
    source=os.environ["BOXKOJI_COV_SOURCE"].split(os.pathsep),
    # kojiweb 1.35's Cheetah templates compile to modules named after no file that exists.
    omit=["*_chtml.py"],
    branch=os.environ.get("BOXKOJI_COV_BRANCH") == "1",
    config_file=False,
)
_lock = threading.Lock()
_context = {"mtime": None, "name": f"{_NAME}-start", "switched": None}


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


def _load(path):
    spec = importlib.util.spec_from_file_location("boxkoji_covered_app", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.application


# What importing Koji executes is the same in every daemon; under the tracer it is most of
# --cov-hub's cost, paid again at each reload (scenarios change hub.conf). So only the first daemon
# of the session measures it; once its data is saved, later daemons import untraced.
_IMPORT_SAVED = os.path.join(_DIR, f"{_NAME}-import-saved")
_measured_import = not os.path.exists(_IMPORT_SAVED)
if _measured_import:
    with _lock:
        _cov.start()
        _cov.switch_context(f"{_NAME}-import")
        try:
            _app = _load(_SCRIPT)
        finally:
            _cov.stop()
else:
    _app = _load(_SCRIPT)


def application(environ, start_response):
    # kojiweb finds its handlers beside the script Apache ran: that is Koji's, not this file.
    environ["SCRIPT_FILENAME"] = _SCRIPT
    with _lock:
        _cov.start()
        try:
            # A switch flushes the data collected so far into the data file (milliseconds of
            # SQLite writes): only when the test changed, not at every request. Until then the
            # tracer's data stays in memory, counted for the test that was running.
            test = _current_test()
            if test != _context["switched"]:
                _cov.switch_context(test)
                _context["switched"] = test
            result = _app(environ, start_response)
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
        if _measured_import:
            open(_IMPORT_SAVED, "w").close()
