# test_my_tool.py
import koji
import pytest

def test_admin_can_add_a_tag(koji_admin, koji_session):
    koji_admin.createTag("f40-build")
    assert koji_admin.getTag("f40-build")["name"] == "f40-build"
    with pytest.raises(koji.ActionNotAllowed):       # kojiuser is not an admin
        koji_session.createTag("f41-build")

def test_the_cli(koji_cli):
    done = koji_cli("hello")                          # the real `koji` command, as kojiuser
    assert done.returncode == 0 and "kojiuser" in done.stdout
