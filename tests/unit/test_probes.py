"""The probe library the readiness checks and /health share, against a local HTTP server."""

import http.server
import threading

import pytest

from pytest_boxkoji.inside import probes


@pytest.fixture
def server():
    class Pages(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            code, body = (200, b"<h1>Recent Builds</h1>") if self.path == "/index" else (405, b"no GET")
            self.send_response(code)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), Pages) as httpd:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        yield f"http://127.0.0.1:{httpd.server_port}"
        httpd.shutdown()


def test_an_error_status_is_an_answer(server):
    assert probes.http(f"{server}/kojihub") == (405, b"no GET")


def test_a_page_must_show_its_mark(server):
    probes.page_with(f"{server}/index", "Recent Builds")
    with pytest.raises(RuntimeError, match="lacks 'Summary'"):
        probes.page_with(f"{server}/index", "Summary")
    with pytest.raises(RuntimeError, match="answered 405"):
        probes.page_with(f"{server}/other", "Recent Builds")


def test_nothing_listening_is_an_error():
    from pytest_boxkoji import ports

    (nobody,) = ports.claim(1)
    with pytest.raises(OSError):
        probes.tcp("127.0.0.1", nobody)
