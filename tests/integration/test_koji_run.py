"""`koji_run`: any program as a Koji user, with the real koji CLI and a real third-party tool
(koji-habitude, from PyPI). Needs Koji."""

import shutil
import sys
from pathlib import Path

import pytest

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.runas import KojiRunError

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def test_the_koji_cli_as_admin_and_as_an_ordinary_user(koji_run, koji_admin):
    hello = koji_run(["koji", "hello"], user="kojiadmin")  # the default profile, no -p
    assert hello.returncode == 0, hello.stderr
    assert "kojiadmin" in hello.stdout and "Authenticated via GSSAPI" in hello.stdout
    added = koji_run(["koji", "-p", "boxkoji", "add-tag", "run-admin-tag"], user="kojiadmin")
    assert added.returncode == 0, added.stderr
    refused = koji_run(["koji", "add-tag", "run-user-tag"], user="kojiuser")  # the CLI asks the hub first
    assert refused.returncode != 0 and "requires tag or admin privileges" in refused.stderr
    called = koji_run(["koji", "call", "createTag", "run-user-tag"], user="kojiuser")  # the hub refuses
    assert called.returncode != 0 and "permission required (logged in as kojiuser)" in called.stderr
    assert koji_admin.getTag("run-admin-tag") is not None and koji_admin.getTag("run-user-tag") is None


def test_the_ticket_is_the_users_own(koji_run):
    if shutil.which("klist") is None:
        pytest.skip("klist (krb5-user) is not installed on this host")
    tickets = koji_run(["sh", "-c", 'klist; echo "cache=$KRB5CCNAME"'], user="kojiuser")
    assert tickets.returncode == 0, tickets.stderr
    assert "Default principal: kojiuser@KOJI.BOX" in tickets.stdout
    cache = tickets.stdout.split("cache=FILE:")[1].strip()
    assert cache.endswith("/kojiuser-gssapi/krb5cc")


def test_a_certificate_login_is_in_the_profile(koji_run):
    hello = koji_run(["koji", "hello"], user="kojiuser", auth="ssl")
    assert hello.returncode == 0, hello.stderr
    assert "kojiuser" in hello.stdout and "Authenticated via client certificate" in hello.stdout
    with pytest.raises(BoxKojiError, match="a koji profile cannot hold a password"):
        koji_run(["koji", "hello"], user="kojiuser", auth="password")


def test_check_raises_with_the_programs_output(koji_run):
    with pytest.raises(KojiRunError) as failed:
        koji_run(["koji", "add-tag", "checked-tag"], user="kojiuser", check=True)
    assert failed.value.returncode != 0 and "requires tag or admin privileges" in str(failed.value)
    with pytest.raises(BoxKojiError, match="give the command as a list"):
        koji_run("koji hello")
    with pytest.raises(BoxKojiError, match="no program 'no-such-tool' on PATH"):
        koji_run(["no-such-tool"])


OBJECTS = """\
type: tag
name: habitude-tag
arches: [x86_64]
---
type: user
name: habitude-user
"""


def test_koji_habitude_applies_as_the_admin_and_not_as_an_ordinary_user(koji_run, koji_admin, tmp_path):
    if not shutil.which("koji-habitude") and not (Path(sys.executable).parent / "koji-habitude").exists():
        pytest.skip("koji-habitude is not installed (pip install koji-habitude; it is in the dev extra)")
    (tmp_path / "objects.yaml").write_text(OBJECTS)
    refused = koji_run(["koji-habitude", "apply", str(tmp_path)], user="kojiuser")
    # koji-habitude exits 0 even then; it says who was refused what
    said = refused.stdout + refused.stderr
    assert "tag permission required (logged in as kojiuser)" in said, said
    assert koji_admin.getTag("habitude-tag") is None
    applied = koji_run(["koji-habitude", "apply", str(tmp_path)], user="kojiadmin")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Create tag habitude-tag" in applied.stdout
    assert koji_admin.getTag("habitude-tag")["arches"] == "x86_64"
    assert koji_admin.getUser("habitude-user") is not None
    again = koji_run(["koji-habitude", "compare", str(tmp_path)], user="kojiuser")  # read-only: allowed
    assert again.returncode == 0 and "No changes needed" in again.stdout, again.stdout + again.stderr
