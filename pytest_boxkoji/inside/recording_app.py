# mypy: ignore-errors
"""The hub's WSGI application, recording every call it serves (mod_wsgi loads this file instead
of kojiapp.py; with --cov-hub it serves the coverage app, which serves Koji's).

Every XML-RPC method the hub dispatches appends one line to $BOXKOJI_HUB_CALLS:
`method <TAB> seconds <TAB> fault <TAB> user <TAB> depth`. The calls inside a multiCall are
dispatched one by one too (depth 1; their time is part of the multiCall's); a fault is the
exception's class name. Whoever reads the file keeps its own offsets, so the hub needs to know
nothing about tests.

Why at the dispatch and not around the WSGI app: the method's name is only in the XML body (Koji
1.35's client sends no header naming it), and a multiCall's calls and faults are only visible
after the hub has parsed it. Koji's own INFO logging names the methods but writes two lines per
call into the error log (which failing tests show), and a fault only shows as a missing line.

This file runs in the services' Python, not in the test process.
"""

import importlib.util
import os
import threading
import time

from koji.context import context

_inner = os.environ.get("BOXKOJI_HUB_INNER_APP")
if _inner:  # --cov-hub's app: it imports Koji's under coverage
    _spec = importlib.util.spec_from_file_location("boxkoji_inner_hub_app", _inner)
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    application = _module.application
else:
    from kojihub.kojixmlrpc import application  # noqa: F401 (what mod_wsgi serves)

from kojihub.kojixmlrpc import ModXMLRPCRequestHandler as _Handler  # noqa: E402 (after the app's import)

# One write() of a whole line on an O_APPEND descriptor: lines from concurrent threads (and
# processes) never interleave.
_fd = os.open(os.environ["BOXKOJI_HUB_CALLS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
_local = threading.local()


def _record(method, seconds, fault, depth):
    try:
        session = getattr(context, "session", None)
        user = (getattr(session, "user_data", None) or {}).get("name") or ""
        os.write(_fd, f"{method}\t{seconds:.6f}\t{fault}\t{user}\t{depth}\n".encode())
    except Exception:  # statistics must never break a call
        pass


def _recorded(name, original):
    def wrapper(self, *args):
        depth = getattr(_local, "depth", 0)
        _local.depth = depth + 1
        fault = ""
        start = time.perf_counter()
        try:
            return original(self, *args)
        except BaseException as exc:
            fault = type(exc).__name__
            raise
        finally:
            _local.depth = depth
            _record(name or args[0], time.perf_counter() - start, fault, depth)

    return wrapper


# _dispatch(method, params) serves every call, multiCall and the calls inside it included;
# uploads (the client's rawUpload) bypass it. Both are there from Koji 1.34 to today's master;
# a Koji without them is served unrecorded, and the file says why.
if hasattr(_Handler, "_dispatch") and hasattr(_Handler, "handle_upload"):
    _Handler._dispatch = _recorded(None, _Handler._dispatch)
    _Handler.handle_upload = _recorded("rawUpload", _Handler.handle_upload)
else:
    os.write(_fd, b"#unsupported\tthis Koji's hub has no ModXMLRPCRequestHandler._dispatch\n")
