"""The box's /health endpoint (nginx forwards it here): every service probed live, as JSON.

Run as a service with the services' Python: `python health.py MANIFEST ADDRESS PORT`. The manifest (JSON,
re-read on every request, so that services added later appear) lists what to probe. Standard
library only, plus psycopg2 from the services' environment for PostgreSQL: this file and the
probes it uses (probes.py, the readiness checks' too) are copied next to the manifest and run
outside the plugin's own environment.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import probes  # beside this file, where it runs (and pytest_boxkoji/inside/ in the package)

TIMEOUT = probes.TIMEOUT
TOKEN_HEADER = "X-Boxkoji-Proxy"
STALE = 30.0  # seconds without a builder's update (kojid updates its host on every poll)


def probe_tcp(service: dict[str, Any]) -> str:
    probes.tcp(service["host"], service["port"])
    return ""


def probe_kdc(service: dict[str, Any]) -> str:
    probes.tcp(service["host"], service["port"])
    # The KDC has no version query; MIT's klist here comes from the same krb5 packages.
    done = subprocess.run(["klist", "-V"], capture_output=True, text=True, timeout=TIMEOUT, check=False)
    return done.stdout.strip() or "MIT Kerberos"


def probe_amqp(service: dict[str, Any]) -> str:
    probes.amqp(service["host"], service["port"])
    return ""


def probe_postgres(service: dict[str, Any]) -> str:
    return str(probes.postgres(service["host"], service["port"], service.get("dbname", "koji")))


def _call(service: dict[str, Any], method: str, *args: Any) -> Any:
    return probes.xmlrpc_call(service["url"], method, *args, headers={TOKEN_HEADER: service["token"]})


def probe_hub(service: dict[str, Any]) -> str:
    return f"Koji {_call(service, 'getKojiVersion')!s}"


def probe_builders(service: dict[str, Any]) -> str:
    """Every enabled host (kojid) has updated itself lately, as the hub sees it. A test's restore
    puts back the update times of when its snapshot was taken: a live kojid writes a new one at
    its next poll (every second here), so a stale host gets a few seconds before it counts."""
    hosts = _call(service, "listHosts", None, None, None, True)  # arches, channel, ready, enabled
    deadline = time.monotonic() + TIMEOUT
    while True:
        stale = [host["name"] for host in hosts if _stale(service, host)]
        if not stale:
            return f"{len(hosts)} builder(s): {', '.join(h['name'] for h in hosts) or 'none registered'}"
        if time.monotonic() > deadline:
            raise RuntimeError(f"no update for {STALE:.0f} s from {', '.join(stale)}")
        time.sleep(0.5)


def _stale(service: dict[str, Any], host: dict[str, Any]) -> bool:
    last = _call(service, "getLastHostUpdate", host["id"], True)
    return last is None or time.time() - float(last) > STALE


def probe_web(service: dict[str, Any]) -> str:
    probes.page_with(service["url"], service["mark"], {TOKEN_HEADER: service["token"]})
    return ""


PROBES = {
    "tcp": probe_tcp,
    "kdc": probe_kdc,
    "postgres": probe_postgres,
    "hub": probe_hub,
    "builders": probe_builders,
    "web": probe_web,
    "amqp": probe_amqp,
}


def check(service: dict[str, Any]) -> dict[str, Any]:
    started = time.monotonic()
    result: dict[str, Any] = {"check": service["check"], "checked_at": _now()}
    try:
        live_version = PROBES[service["probe"]](service)
        result.update(state="up", version=live_version or service.get("version", ""))
    except Exception as exc:  # any failure means down; say which
        result.update(state="down", version=service.get("version", ""), error=f"{type(exc).__name__}: {exc}")
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def report(manifest: dict[str, Any]) -> dict[str, Any]:
    services = manifest["services"]
    with ThreadPoolExecutor(max_workers=max(1, len(services))) as pool:
        results = list(pool.map(check, services))
    states = {service["name"]: result for service, result in zip(services, results, strict=True)}
    healthy = all(result["state"] == "up" for result in results)
    return {"status": "healthy" if healthy else "unhealthy", "checked_at": _now(), "services": states}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def serve(manifest_path: str, address: str, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with open(manifest_path) as stream:
                manifest = json.load(stream)
            if self.headers.get(TOKEN_HEADER) != manifest["token"]:
                self.send_error(403, "only the proxy asks here")
                return
            body = report(manifest)
            data = json.dumps(body, indent=2).encode()
            self.send_response(200 if body["status"] == "healthy" else 503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    # As a container's first process, Python ignores SIGTERM unless it handles it: stopping the
    # container would wait for the engine's SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ThreadingHTTPServer((address, port), Handler).serve_forever()


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2], int(sys.argv[3]))
