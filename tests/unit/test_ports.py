"""ports.py: ports claimed at the same moment by many processes are all different, outside the
kernel's ephemeral range, free, and a dead claimer's ports come back."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import socket
import subprocess

import pytest

from pytest_boxkoji import ports


@pytest.fixture
def registry(tmp_path, monkeypatch):
    path = tmp_path / "ports.json"
    monkeypatch.setattr(ports, "_registry", lambda: path)
    return path


def _claim_at_once(barrier, results, count):
    barrier.wait()
    results.put(ports.claim(count))


def test_many_processes_claiming_at_once_get_different_ports(registry):
    # Drawn at random from ~12000 ports, 100 claims without the registry would collide about one
    # time in three (the birthday problem); with it, never.
    context = multiprocessing.get_context("fork")  # the registry's monkeypatch goes with them
    sessions, each = 20, 5
    barrier, results = context.Barrier(sessions), context.Queue()
    children = [
        context.Process(target=_claim_at_once, args=(barrier, results, each)) for _ in range(sessions)
    ]
    for child in children:
        child.start()
    claimed = [port for _ in children for port in results.get(timeout=60)]
    for child in children:
        child.join(60)
    assert len(claimed) == sessions * each
    assert len(set(claimed)) == len(claimed), sorted(claimed)
    # The claims outlive the claiming processes only as long as they do: all ended, all free again.
    assert set(json.loads(registry.read_text())) == {str(p) for p in claimed}
    ports.claim(1)
    assert len(json.loads(registry.read_text())) == 1


def test_ports_are_outside_the_ephemeral_range_and_free(registry):
    low, high = ports.ephemeral_range()
    claimed = ports.claim(10)
    assert all(ports.LOWEST <= port < low for port in claimed), (claimed, low)
    for port in claimed:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nobody holds it


def test_a_port_in_use_or_claimed_by_a_live_process_is_not_handed_out(registry, monkeypatch):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        in_use = busy.getsockname()[1]
        live, dead, free = 21001, 21002, 21003
        registry.write_text(json.dumps({str(live): os.getppid(), str(dead): 2**22 + 1}))
        draws = iter([live, in_use, dead, free])
        monkeypatch.setattr(ports._random, "randrange", lambda low, high: next(draws))
        assert ports.claim(2) == [dead, free]  # the dead claimer's port is free again
    assert json.loads(registry.read_text()) == {
        str(live): os.getppid(),
        str(dead): os.getpid(),
        str(free): os.getpid(),
    }


def test_a_machine_without_room_below_the_ephemeral_range(registry, monkeypatch):
    monkeypatch.setattr(ports, "ephemeral_range", lambda: (ports.LOWEST + 10, 60999))
    (port,) = ports.claim(1)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("iptables"), reason="needs root and iptables")
def test_a_port_the_firewall_forwards_elsewhere_is_not_handed_out(registry, monkeypatch):
    # As a container engine's port forward left behind by a container long gone: nothing listens
    # on the port, binding it works, and a connection goes to an address nobody has.
    forwarded, free = 21011, 21012
    rule = ["OUTPUT", "-d", "127.0.0.1", "-p", "tcp", "--dport", str(forwarded)]
    rule += ["-m", "comment", "--comment", f"pytest-boxkoji test {os.getpid()}"]
    rule += ["-j", "DNAT", "--to-destination", "192.0.2.1:9"]  # TEST-NET-1: nobody
    subprocess.run(["iptables", "-w", "-t", "nat", "-I", *rule], check=True)
    try:
        draws = iter([forwarded, free])
        monkeypatch.setattr(ports._random, "randrange", lambda low, high: next(draws))
        assert ports.claim(1) == [free]
    finally:
        subprocess.run(["iptables", "-w", "-t", "nat", "-D", *rule], check=True)
