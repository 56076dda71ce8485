"""Git repositories the builders build from: `git daemon` on this host, serving a directory of
repositories a test makes (a spec and its sources, committed), at an address the builders reach
(`Runtime.on_this_host`) and kojid's `allowed_scms` lets through (templates/kojid.conf)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

from pytest_boxkoji.errors import BoxKojiError
from pytest_boxkoji.runtimes.tools import Endpoint

GIT = {"GIT_AUTHOR_NAME": "boxkoji", "GIT_AUTHOR_EMAIL": "boxkoji@koji.box"}
GIT_IDENTITY = {**GIT, "GIT_COMMITTER_NAME": "boxkoji", "GIT_COMMITTER_EMAIL": "boxkoji@koji.box"}


class GitServer:
    """One `git daemon` for a session, exporting every repository under `root`."""

    def __init__(self, root: Path, endpoint: Endpoint, env: Mapping[str, str]) -> None:
        git = shutil.which("git")
        if git is None:
            raise BoxKojiError(
                "builds from git need git on this host: apt-get install git (Fedora: dnf install git)"
            )
        self.git = git
        self.root = root
        self.endpoint = endpoint
        root.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                git,
                "daemon",
                "--reuseaddr",
                "--export-all",
                f"--base-path={root}",
                f"--listen={endpoint.bind}",
                f"--port={endpoint.port}",
                str(root),
            ],
            env={**env, "PATH": "/usr/bin:/bin"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise BoxKojiError(f"git daemon exited at once: {err.strip()}")
            probe = subprocess.run(
                [self.git, "ls-remote", f"git://127.0.0.1:{self.endpoint.port}/nothing"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if "Connection refused" not in probe.stderr:
                return
            time.sleep(0.1)
        raise BoxKojiError(f"git daemon did not listen on port {self.endpoint.port} within 15 s")

    def repository(self, name: str, files: Mapping[str, str | bytes], message: str = "boxkoji") -> str:
        """A repository `name` holding `files` (a new commit each call); the URL kojid builds
        from, pinned to that commit (`git://host:port/name.git#<sha>`)."""
        bare = self.root / f"{name}.git"
        work = self.root / ".work" / name
        if not work.exists():
            work.mkdir(parents=True)
            self._git(work, "init", "-q", "-b", "main")
        for file_name, content in files.items():
            path = work / file_name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content)
        self._git(work, "add", "-A")
        self._git(work, "commit", "-q", "--allow-empty", "-m", message)
        sha = self._git(work, "rev-parse", "HEAD").strip()
        if not bare.exists():
            self._git(self.root, "clone", "-q", "--bare", str(work), str(bare))
        else:
            self._git(work, "push", "-q", str(bare), "HEAD:main")
        return f"git://{self.endpoint.host}:{self.endpoint.port}/{name}.git#{sha}"

    def _git(self, cwd: Path, *args: str) -> str:
        done = subprocess.run(
            [self.git, *args],
            cwd=cwd,
            env={**GIT_IDENTITY, "PATH": "/usr/bin:/bin", "HOME": str(self.root)},
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise BoxKojiError(f"git {' '.join(args)} in {cwd} failed: {done.stderr.strip()}")
        return done.stdout

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
