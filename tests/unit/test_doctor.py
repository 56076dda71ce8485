"""boxkoji doctor: readiness per runtime and one install command for what is missing."""

import subprocess
import sys
from pathlib import Path

from pytest_boxkoji import doctor
from pytest_boxkoji.config import BoxKojiConfig
from pytest_boxkoji.doctor import Finding

OK = Finding("krb5kdc", True, "/usr/sbin/krb5kdc")
NO_KDC = Finding("krb5kdc", False, "not found", ("krb5-kdc",), ("krb5-server",))
NO_ADMIN = Finding("kadmin.local", False, "not found", ("krb5-admin-server",), ("krb5-server",))
NO_ENGINE = Finding("container engine", False, "no answer", (), (), fix="podman system service ...")


def groups(common, processes, containers=None):
    found = {"both runtimes": common, "processes runtime": processes}
    if containers is not None:
        found["containers runtime"] = containers
    return found


def test_auto_is_ready_when_one_runtime_is_complete():
    config = BoxKojiConfig(runtime="auto")
    assert doctor.ready(config, groups([OK], [OK], [NO_ENGINE]))
    assert not doctor.ready(config, groups([OK], [NO_KDC], [NO_ENGINE]))
    assert not doctor.ready(config, groups([NO_KDC], [OK], [OK]))  # what both need comes first


def test_a_chosen_runtime_must_be_complete():
    assert not doctor.ready(BoxKojiConfig(runtime="processes"), groups([OK], [OK, NO_KDC]))


def test_one_install_command_for_this_distribution():
    config = BoxKojiConfig(runtime="processes")
    text = doctor.report(config, groups([OK], [NO_KDC, NO_ADMIN]), "debian")
    assert "  NO  krb5kdc: not found" in text
    assert "apt-get install -y krb5-admin-server krb5-kdc" in text
    assert "dnf" not in text
    assert text.splitlines()[-1] == "NOT ready"
    fedora = doctor.report(config, groups([OK], [NO_KDC, NO_ADMIN]), "fedora")
    assert "dnf install -y krb5-server" in fedora and "apt-get" not in fedora


def test_unknown_distribution_gets_both_commands_and_commands_without_packages():
    config = BoxKojiConfig(runtime="containers")
    text = doctor.report(config, {"both runtimes": [OK], "containers runtime": [NO_KDC, NO_ENGINE]}, "")
    assert "apt-get install -y krb5-kdc" in text and "dnf install -y krb5-server" in text
    assert "  container engine: podman system service ..." in text


def test_distribution_from_os_release(tmp_path, monkeypatch):
    release = tmp_path / "os-release"
    monkeypatch.setattr(doctor, "Path", lambda p: release if p == "/etc/os-release" else Path(p))
    release.write_text('ID=ubuntu\nID_LIKE="debian"\n')
    assert doctor.distribution() == "debian"
    release.write_text('ID="rocky"\nID_LIKE="rhel centos fedora"\n')
    assert doctor.distribution() == "fedora"
    release.write_text("ID=arch\n")
    assert doctor.distribution() == ""


def test_the_command_names_a_koji_source_that_cannot_be_used(tmp_path):
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "boxkoji"),
            "doctor",
            "--runtime=processes",
            f"--koji-source={tmp_path / 'nowhere.tar.bz2'}",
            f"--cache-dir={tmp_path / 'cache'}",
        ],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert f"NO  Koji server code: Koji source '{tmp_path / 'nowhere.tar.bz2'}': no such file" in done.stdout
    assert "BOXKOJI_KOJI_SOURCE=PATH" in done.stdout
    assert done.stdout.splitlines()[-1] == "NOT ready"


def test_what_only_the_proxy_and_browser_need_is_listed_apart_and_does_not_decide_readiness():
    config = BoxKojiConfig(runtime="processes")
    no_chromium = doctor.Finding("Chromium", False, "not found", ("chromium",), ("chromium",))
    no_rabbitmq = doctor.Finding(
        "rabbitmq-server", False, "not found", ("rabbitmq-server",), ("rabbitmq-server",)
    )
    checks = {**groups([OK], [OK]), doctor.OPTIONAL: [no_chromium, no_rabbitmq]}
    assert doctor.ready(config, checks)
    text = doctor.report(config, checks, "debian")
    assert "To install what is missing" not in text
    assert (
        "For the proxy, koji_browser and koji_messages:\n  apt-get install -y chromium rabbitmq-server"
        in (text.replace("sudo ", ""))
    )
    assert text.endswith("ready")
