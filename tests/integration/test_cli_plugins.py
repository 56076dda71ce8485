"""koji CLI plugins through `koji_cli` (needs Koji).

koji-smoky-dingo, a popular third-party set of plugins, on a scenario: it is installed from PyPI
as a test dependency, beside the `koji` command, which loads what it installs (koji_cli_plugins).
A plugin directory of one's own comes in through --boxkoji-cli-plugins (the profile's
plugin_paths)."""

from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]
scenario = pytest.mark.koji_scenario("base.yaml", "content-generators.yaml")


def ok(done):
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def rows(text):
    return [line.split() for line in text.splitlines() if line.strip()]


@scenario
def test_userinfo_and_perminfo_read_the_scenarios_users(koji_cli):
    user = ok(koji_cli("userinfo", "packager"))
    assert "User: packager" in user
    groups, permissions = user.split("Groups:")[1].split("Permissions:")
    assert [row[0] for row in rows(groups)] == ["packagers"]
    assert sorted(row[0] for row in rows(permissions)) == ["packager", "tag"]
    permission = ok(koji_cli("perminfo", "packager"))
    assert [row[0] for row in rows(permission.split("Users:")[1])] == ["packagers"]


@scenario
def test_affected_targets_and_tag_extras_follow_inheritance(koji_cli):
    assert rows(ok(koji_cli("affected-targets", "dist-base"))) == [["dist"]]  # dist-build inherits it
    assert rows(ok(koji_cli("list-tag-extras", "dist-build"))) == [
        ["mock.package_manager", "dnf", "dist-build"]
    ]


@scenario
def test_content_generators_and_build_types(koji_cli):
    assert ["boxkoji-images", "[1]"] in rows(ok(koji_cli("list-cgs")))
    btypes = [row[0] for row in rows(ok(koji_cli("list-btypes")))]
    assert {"rpm", "image", "container"} <= set(btypes)


@scenario
def test_set_env_var_as_the_admin_and_read_it_back(koji_cli, koji_admin):
    refused = koji_cli("set-env-var", "dist-build", "LANG", "C.UTF-8", user="tester")
    assert refused.returncode != 0  # the hub refuses an ordinary user
    ok(koji_cli("set-env-var", "dist-build", "LANG", "C.UTF-8", user="kojiadmin"))
    assert rows(ok(koji_cli("list-env-vars", "dist-build"))) == [["LANG", '"C.UTF-8"', "dist-build"]]
    assert koji_admin.getTag("dist-build")["extra"]["rpm.env.LANG"] == "C.UTF-8"


@scenario
def test_filter_builds_and_check_hosts(koji_cli):
    assert rows(ok(koji_cli("filter-builds", "--tag", "dist-base"))) == [
        ["bash-5.2.15-1"],
        ["coreutils-9.1-1"],
    ]
    hosts = koji_cli("check-hosts")
    assert hosts.returncode == 1  # the scenario's builder1 has no kojid behind it
    assert "Found 1 hosts that have not checked in" in hosts.stdout and "builder1.koji.box" in hosts.stdout


PLUGIN_TEST = """
def test_my_plugin(koji_cli):
    done = koji_cli("boxkoji-whoami", user="kojiuser")
    assert (done.returncode, done.stdout) == (0, "kojiuser\\n"), done.stderr
    proxied = koji_cli("boxkoji-whoami", user="kojiadmin", auth="ssl", via="proxy")
    assert proxied.stdout == "kojiadmin\\n", proxied.stderr
"""


def test_a_plugin_directory_of_ones_own(pytester, koji_source_path, child_env, outer_args):
    plugins = Path(__file__).parent / "cli-plugins"
    pytester.makepyfile(test_plugin=PLUGIN_TEST)
    result = pytester.runpytest_subprocess(
        "--boxkoji",
        f"--boxkoji-koji-source={koji_source_path}",
        f"--boxkoji-cli-plugins={plugins}",
        "-p",
        "no:cacheprovider",
        *outer_args,
    )
    result.assert_outcomes(passed=1)
