"""Probes of the box's services, in the spirit of testcontainers' wait strategies: each either
returns what it learnt or raises saying what failed. The services' readiness checks (in the test
process) and the proxy's /health service (in the services' Python, health.py, which this file is
copied beside) use the same ones. Standard library only, psycopg2 for PostgreSQL.
"""

from __future__ import annotations

import socket
import ssl
import urllib.error
import urllib.request
import xmlrpc.client
from typing import Any

TIMEOUT = 3.0
# AMQP 1.0's protocol header for a SASL layer: a broker that speaks AMQP 1.0 answers with its own.
AMQP_SASL_HEADER = b"AMQP\x03\x01\x00\x00"


def tcp(host: str, port: int, timeout: float = TIMEOUT) -> None:
    """A TCP connection opens."""
    with socket.create_connection((host, port), timeout=timeout):
        pass


def amqp(host: str, port: int, timeout: float = TIMEOUT) -> None:
    """The broker answers AMQP 1.0's protocol header with its own."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(AMQP_SASL_HEADER)
        answer = b""
        while len(answer) < len(AMQP_SASL_HEADER):
            chunk = conn.recv(len(AMQP_SASL_HEADER) - len(answer))
            if not chunk:
                break
            answer += chunk
    if answer != AMQP_SASL_HEADER:
        raise RuntimeError(f"no AMQP 1.0 answer to the protocol header: {answer!r}")


def postgres(host: str, port: int, dbname: str, user: str = "koji", timeout: float = TIMEOUT) -> str:
    """A query as `user`; the server's version."""
    import psycopg2  # the services' Python has it; the test process too

    conn = psycopg2.connect(host=host, port=port, dbname=dbname, user=user, connect_timeout=int(timeout))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT current_setting('server_version')")
            row = cur.fetchone()
            return f"PostgreSQL {row[0] if row else '?'}"
    finally:
        conn.close()


def http(
    url: str,
    headers: dict[str, str] | None = None,
    data: bytes | None = None,
    cafile: str | None = None,
    timeout: float = TIMEOUT,
) -> tuple[int, bytes]:
    """The status and body of a request (an HTTP error status is an answer too); HTTPS checks the
    server's certificate against `cafile`."""
    context = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as answer:
        return int(answer.code), bytes(answer.read())


def page_with(url: str, mark: str, headers: dict[str, str] | None = None, cafile: str | None = None) -> None:
    """The page answers 200 and shows `mark`."""
    status, body = http(url, headers, cafile=cafile)
    if status != 200:
        raise RuntimeError(f"{url} answered {status}")
    if mark not in body.decode("utf-8", "replace"):
        raise RuntimeError(f"{url} lacks {mark!r}")


def xmlrpc_call(url: str, method: str, *args: Any, headers: dict[str, str] | None = None) -> Any:
    """One XML-RPC call (the hub's API) over plain HTTP; its result, or the fault raised."""
    body = xmlrpc.client.dumps(args, method, allow_none=True).encode()
    status, answer = http(url, {**(headers or {}), "Content-Type": "text/xml"}, body)
    if status != 200:
        raise RuntimeError(f"{url} answered {status} to {method}")
    (result,), _ = xmlrpc.client.loads(answer.decode())
    return result
