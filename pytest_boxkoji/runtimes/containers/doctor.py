"""`boxkoji doctor`'s checks of the containers runtime."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.findings import Finding
from pytest_boxkoji.runtimes.containers.engine import EXTRA_HINT, probe
from pytest_boxkoji.runtimes.containers.images import DEFAULT_BASE


def doctor_checks(settings: BoxKojiConfig) -> list[Finding]:
    """`boxkoji doctor`: the containers extra, an engine that answers, Podman's DNS between
    containers and its firewall, the base image."""
    extra = all(importlib.util.find_spec(m) is not None for m in ("docker", "testcontainers"))
    checks = [
        Finding(
            "containers extra",
            extra,
            "docker and testcontainers importable" if extra else "docker/testcontainers not installed",
            fix=EXTRA_HINT,
        )
    ]
    if not extra:
        return checks
    client, problem = probe()
    engine_installed = bool(shutil.which("podman") or shutil.which("docker"))
    checks.append(
        Finding(
            "container engine",
            client is not None,
            "answers" if client is not None else problem,
            () if engine_installed else ("podman", "runc"),
            () if engine_installed else ("podman",),
            fix="podman system service --time=0 unix:///run/podman/podman.sock & "
            "export DOCKER_HOST=unix:///run/podman/podman.sock",
        )
    )
    if shutil.which("podman"):
        checks.append(_podman_dns())
        # netavark sets up every network with iptables; without it no container starts
        # ("netavark: No such file or directory"), and Podman's packages only recommend it.
        iptables = shutil.which("iptables") or next(
            (p for p in ("/usr/sbin/iptables", "/sbin/iptables") if Path(p).exists()), None
        )
        checks.append(
            Finding(
                "iptables (netavark's firewall)",
                iptables is not None,
                iptables or "not found",
                ("iptables",),
                ("iptables",),
            )
        )
    if client is not None:
        base = DEFAULT_BASE
        present = bool(client.images.list(name=base))
        checks.append(
            Finding(
                "base image",
                present,
                base + (" present" if present else " not present; it is pulled at first use"),
                fix=f"docker pull {base} (or, offline: debootstrap --variant=minbase bookworm "
                f"/tmp/rootfs && tar -C /tmp/rootfs -c . | podman import - {base})",
            )
        )
    return checks


def _podman_dns() -> Finding:
    """Containers find each other by name only with netavark + aardvark-dns (CNI has no DNS here)."""
    backend = subprocess.run(
        ["podman", "info", "--format", "{{.Host.NetworkBackend}}"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dns = any(
        Path(d, "aardvark-dns").exists()
        for d in ("/usr/lib/podman", "/usr/libexec/podman", "/usr/local/lib/podman")
    )
    ok = backend == "netavark" and dns
    detail = f"network backend {backend or 'unknown'}, aardvark-dns {'found' if dns else 'missing'}"
    return Finding(
        "Podman DNS between containers",
        ok,
        detail,
        ("netavark", "aardvark-dns"),
        ("netavark", "aardvark-dns"),
        fix='network_backend = "netavark" under [network] in /etc/containers/conf, then '
        "`podman system reset` (drops existing containers) or restart the Podman service",
    )
