"""kojid builders and kojira doing real work (needs Koji, createrepo_c)."""

import gzip
import re
import time
import xml.etree.ElementTree as ET

import koji
import pytest

from pytest_boxkoji.errors import ServiceStartError

pytestmark = [pytest.mark.integration, pytest.mark.needs_koji]


def wait_task(session, task_id, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        info = session.getTaskInfo(task_id)
        if info["state"] in (
            koji.TASK_STATES["CLOSED"],
            koji.TASK_STATES["FAILED"],
            koji.TASK_STATES["CANCELED"],
        ):
            return info
        time.sleep(0.2)
    raise AssertionError(f"task {task_id} still {info['state']} after {timeout} s")


def primary_packages(repo_dir):
    repomd = ET.parse(repo_dir / "repodata" / "repomd.xml").getroot()
    ns = {"r": "http://linux.duke.edu/metadata/repo"}
    (location,) = [
        d.find("r:location", ns).get("href")
        for d in repomd.findall("r:data", ns)
        if d.get("type") == "primary"
    ]
    primary = ET.fromstring(gzip.decompress((repo_dir / location).read_bytes()))
    common = {"c": "http://linux.duke.edu/metadata/common"}
    return {
        p.find("c:name", common).text: p.find("c:arch", common).text
        for p in primary.findall("c:package", common)
    }


def test_builders_are_registered_and_ready(workers, koji_admin):
    assert len(workers) == 1
    host = koji_admin.getHost(workers.names[0])
    assert host["ready"] and host["enabled"]
    assert sorted(c["name"] for c in koji_admin.listChannels(hostID=host["id"])) == ["createrepo", "default"]
    assert "repo" in koji_admin.getUserPerms("kojira")


def test_built_rpm_lands_in_the_repo_kojid_writes(workers, koji_admin, koji_build_factory, koji_cli, boxkoji):
    koji_admin.createTag("repo-build", arches="x86_64")
    build = koji_build_factory(
        "boxhello", "1.0", "1", arches=("noarch", "x86_64"), requires=("bash",), tag="repo-build"
    )
    assert koji_admin.listTagged("repo-build")[0]["nvr"] == build["nvr"] == "boxhello-1.0-1"
    regen = koji_cli("regen-repo", "--nowait", "repo-build", user="kojiadmin")
    assert regen.returncode == 0, regen.stderr
    waited = koji_cli(
        "wait-repo", "repo-build", "--request", "--build", build["nvr"], "--timeout", "2", user="kojiadmin"
    )
    assert waited.returncode == 0, waited.stdout + waited.stderr
    repo = koji_admin.getRepo("repo-build")
    repo_dir = boxkoji.topdir / "repos" / "repo-build" / str(repo["id"]) / "x86_64"
    packages = primary_packages(repo_dir)
    assert set(packages) == {"boxhello"}  # Koji's x86_64 repo holds the x86_64 or the noarch RPM
    tasks = koji_admin.listTasks(opts={"method": "createrepo", "state": [koji.TASK_STATES["CLOSED"]]})
    assert {koji_admin.getHost(t["host_id"])["name"] for t in tasks} == set(workers.names)


def test_dist_repo_of_unsigned_rpms(workers, koji_admin, koji_build_factory, koji_cli, boxkoji):
    koji_admin.createTag("dist-tag", arches="x86_64")
    koji_build_factory("boxdist", "3.0", "1", arches=("x86_64",), requires=("bash",), tag="dist-tag")
    done = koji_cli(
        "dist-repo", "dist-tag", "deadbeef", "--allow-missing-signatures", "--wait", user="kojiadmin"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    repo = koji_admin.getRepo("dist-tag", dist=True)
    repo_dir = boxkoji.topdir / "repos-dist" / "dist-tag" / str(repo["id"]) / "x86_64"
    assert primary_packages(repo_dir) == {"boxdist": "x86_64"}


def test_scale_up_and_down(workers, koji_admin):
    names = workers.scale(3)
    assert len(names) == 3
    assert all(koji_admin.getHost(n)["ready"] for n in names)
    workers.scale(1)
    assert len(workers) == 1
    gone = set(names) - set(workers.names)
    assert all(not koji_admin.getHost(n)["enabled"] for n in gone)


def test_after_scaling_the_next_test_starts_clean(workers, koji_admin):
    hosts = {h["name"]: h for h in koji_admin.listHosts()}
    assert {n for n, h in hosts.items() if h["enabled"]} == set(workers.names)
    assert all(hosts[n]["ready"] for n in workers.names)


def test_tasks_are_routed_by_arch(workers, koji_admin):
    # Koji's own `sleep` task (kojid runs it) made for an arch goes to a host that has that arch.
    arm = workers.add(arches=("aarch64",))
    try:
        tasks = [(arch, koji_admin.makeTask("sleep", [0], arch=arch)) for arch in ("aarch64", "x86_64") * 2]
        for arch, task_id in tasks:
            info = wait_task(koji_admin, task_id)
            assert info["state"] == koji.TASK_STATES["CLOSED"], info
            host = koji_admin.getHost(info["host_id"])["name"]
            assert (host == arm) == (arch == "aarch64"), (arch, host)
    finally:
        workers.remove(arm)


def test_tasks_are_routed_by_channel(workers, koji_admin):
    special = workers.add(channels=("image-builders",))
    try:
        task_id = koji_admin.makeTask("sleep", [0], channel="image-builders", arch="noarch")
        info = wait_task(koji_admin, task_id)
        assert info["state"] == koji.TASK_STATES["CLOSED"], info
        assert koji_admin.getHost(info["host_id"])["name"] == special
        other = wait_task(koji_admin, koji_admin.makeTask("sleep", [0], channel="default", arch="noarch"))
        assert koji_admin.getHost(other["host_id"])["name"] != special
    finally:
        workers.remove(special)


def test_a_removed_builder_s_running_task_goes_to_another(workers, koji_admin):
    """Koji itself would free the task only after its HostTimeout; `remove` frees it at once."""
    first = workers.names[0]
    task_id = koji_admin.makeTask("sleep", [15], arch="noarch")
    end = time.monotonic() + 120
    while koji_admin.getTaskInfo(task_id)["state"] != koji.TASK_STATES["OPEN"]:
        assert time.monotonic() < end, koji_admin.getTaskInfo(task_id)
        time.sleep(0.2)
    assert koji_admin.getTaskInfo(task_id)["host_id"] == koji_admin.getHost(first)["id"]
    second = workers.add()
    workers.remove(first)
    info = wait_task(koji_admin, task_id)
    assert info["state"] == koji.TASK_STATES["CLOSED"], info
    assert koji_admin.getHost(info["host_id"])["name"] == second


def test_a_builder_that_cannot_build_refuses_build_tasks_saying_why(workers, koji_admin):
    # A host without mock in a channel of its own, whether or not the others build.
    name = workers.add("nomock.koji.box", channels=("nomock",), builds=False)
    try:
        task_id = koji_admin.makeTask(
            "buildArch",
            ["work/nothing.src.rpm", "dist-build", "x86_64", False],
            arch="x86_64",
            channel="nomock",
        )
        info = wait_task(koji_admin, task_id)
    finally:
        workers.remove(name)
    assert info["state"] == koji.TASK_STATES["FAILED"]
    assert koji_admin.getHost(info["host_id"])["name"] == name
    with pytest.raises(koji.BuildError) as raised:
        koji_admin.getTaskResult(task_id)
    assert re.search(
        r"buildArch task \d+: this builder cannot build in a mock buildroot: host nomock.koji.box was "
        r"added with builds=False\. Builds can still enter the box by import",
        str(raised.value),
    )


def test_autoscale_adds_builders_while_tasks_wait_and_removes_idle_ones(workers, koji_admin):
    assert len(workers) == 1
    # The first builder takes one task at a time (a new task weighs 1.0; Koji's least capacity
    # is just above 1), so that tasks still wait when the added builders are up, however slowly
    # they start on a busy machine (with 2.0 it took all 8 sleeps of 0.25 at once, and the added
    # builders, started in containers under load, found nothing left to do).
    koji_admin.editHost(workers.names[0], capacity=1.01)
    seen = 1
    with workers.autoscale(maximum=3, minimum=1, idle=2, interval=0.5):
        tasks = [koji_admin.makeTask("sleep", [10], arch="noarch") for _ in range(6)]
        end = time.monotonic() + 300
        while time.monotonic() < end:
            seen = max(seen, len(workers))
            states = {koji_admin.getTaskInfo(t)["state"] for t in tasks}
            if states == {koji.TASK_STATES["CLOSED"]} and len(workers) == 1:
                break
            time.sleep(0.5)
    assert seen > 1, "no builder was added while tasks waited"
    assert {koji_admin.getTaskInfo(t)["state"] for t in tasks} == {koji.TASK_STATES["CLOSED"]}
    assert len(workers) == 1, "idle builders were not removed"
    hosts = {koji_admin.getHost(koji_admin.getTaskInfo(t)["host_id"])["name"] for t in tasks}
    assert len(hosts) > 1  # the added builders did some of the work


def test_a_builder_that_dies_is_reported_with_its_log(workers, boxkoji):
    name = workers.add()
    service = workers.builders[name].service
    boxkoji.runtime.kill(service)
    end = time.monotonic() + 10
    while boxkoji.runtime.alive(service) and time.monotonic() < end:
        time.sleep(0.1)
    with pytest.raises(ServiceStartError, match=rf"(?s)kojid:{re.escape(name)} has died\..*Last lines of .*"):
        workers.check()
    workers.remove(name)
    workers.check()


def test_a_restore_while_a_builder_is_inside_a_hub_call_leaves_it_working(workers, koji_admin, boxkoji):
    """The restore ends the hub's database connections: here one of them is serving a builder's
    poll at that moment (held on a lock of its host's row), not idle between polls. The builder
    keeps working, and what the test wrote before the restore is gone."""
    name = workers.names[0]
    koji_admin.createTag("written-before-the-restore")
    holder = boxkoji.postgres.connect()  # the live database, as the hub uses it
    watcher = boxkoji.postgres.connect("postgres")
    watcher.autocommit = True
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM host WHERE name = %s FOR UPDATE", (name,))
        # kojid reports its load at each poll (every second): that update waits for our lock.
        end, waiting = time.monotonic() + 30, []
        while not waiting and time.monotonic() < end:
            with watcher.cursor() as cur:
                cur.execute(
                    "SELECT query FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                    (boxkoji.postgres.database,),  # koji_gw0... when xdist workers share the server
                )
                waiting = [row[0] for row in cur.fetchall()]
            time.sleep(0.05)
        assert any("host" in query.lower() for query in waiting), f"no builder call waited: {waiting}"
        boxkoji.scenarios.prepare([])  # the restore, with that call in flight
    finally:
        watcher.close()
        holder.close()  # ended by the restore already
    admin = boxkoji.admin_session()
    assert admin.getTag("written-before-the-restore") is None
    info = wait_task(admin, admin.makeTask("sleep", [0], arch="noarch"))
    assert info["state"] == koji.TASK_STATES["CLOSED"], info
    assert admin.getHost(info["host_id"])["name"] == name
    workers.check()  # kojid and kojira are still running
