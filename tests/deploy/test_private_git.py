"""A private git dependency packed and deployed: its credential reaches no pack, no host,
no command line, no output.

`privutils` is served by `git http-backend` behind basic auth on loopback
(dockyard.testing.gitserver), as the founding case's Azure DevOps server is. A
project that depends on it is locked with the credential given through the
environment (a git credential helper reading two variables), then packed with
it given through ~/.netrc instead, and deployed to an sshd host. Every ssh and
git call is recorded as the kernel passed it (shims first on PATH). The token
is then searched for, byte for byte, in: the lock, the pack (its header and its
decompressed payload), every command's output (with -vv), every recorded ssh
and git command line, every file of the host (the whole container's file
system) and its sshd log; and dockyard's checkouts of git dependencies on this machine.
privutils must be in the pack as a wheel that hatchling built from the checkout
(dist-info with WHEEL and RECORD; no .git, no source tree).
"""

from __future__ import annotations

import gzip
import io
import os
import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from dockyard.testing.cli import run_cli
from dockyard.testing.gitserver import private_git_server

pytestmark = [pytest.mark.podman, pytest.mark.network]
ROOT = "/opt/envs/private"


def _payload(pack):
    data = pack.read_bytes()
    offset = int(re.search(rb"^PAYLOAD_OFFSET=(\d+)", data[:16384], re.M).group(1))
    return data[:offset], gzip.decompress(data[offset:])


def _grep_host(host, needle: str) -> list[str]:
    """Files of the host's whole file system that hold `needle` (as root)."""
    done = host.exec(f"grep -rlF -e '{needle}' / --exclude-dir=proc --exclude-dir=sys "
                     "--exclude-dir=dev 2>/dev/null || true")
    return done.stdout.split()


def _grep(folder: Path, needle: str) -> list[str]:
    done = subprocess.run(["grep", "-rlF", "-e", needle, str(folder)], capture_output=True,
                          text=True)
    return done.stdout.split()


def _built_as_a_wheel(payload: bytes) -> None:
    """privutils is in the pack as a wheel its backend built, installed: a dist-info with
    WHEEL (hatchling's) and RECORD; no checkout, no .git, no sdist."""
    with tarfile.open(fileobj=io.BytesIO(payload)) as tar:
        names = tar.getnames()
        info = [n for n in names if re.search(r"site-packages/privutils-0\.3\.0\.dist-info/", n)]
        wheel = next(n for n in info if n.endswith("/WHEEL"))
        assert b"Generator: hatchling" in tar.extractfile(wheel).read()
    assert any(n.endswith("/RECORD") for n in info)
    assert any(n.endswith("site-packages/privutils/__init__.py") for n in names)
    assert not [n for n in names if "/.git/" in n or n.endswith((".git", ".tar.gz"))
                or n.endswith("privutils/pyproject.toml")]


def test_private_git_dependency_packed_and_deployed_without_its_credential(
        ssh_test_hosts, podman, tmp_path, monkeypatch):
    from dockyard.deploy import pack_info
    from dockyard.testing.argv import ArgvRecorder
    from dockyard.testing.packs import PRIVATE_PACKAGE, private_git_project

    host = ssh_test_hosts["host1"]
    rec = ArgvRecorder(tmp_path, ["ssh", "git"])
    monkeypatch.setenv("PATH", rec.path())
    monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
    outputs: dict[str, str] = {}
    with private_git_server() as git:
        url, commit = git.add_repo("team/privutils", PRIVATE_PACKAGE)
        token = git.token
        project = private_git_project(tmp_path, url)

        # lock: the credential through the environment
        with monkeypatch.context() as env:
            for key, value in git.credential_env().items():
                env.setenv(key, value)
            code, outputs["lock"] = run_cli("-vv", "lock", "--project", str(project))
        assert code == 0, outputs["lock"]
        lock = (project / "dockyard.lock").read_text()
        assert commit in lock and f"git+{url}" in lock

        # pack: the credential through ~/.netrc (caches kept where they were)
        monkeypatch.setenv("XDG_CACHE_HOME", os.environ.get("XDG_CACHE_HOME")
                           or os.path.expanduser("~/.cache"))
        home = tmp_path / "home"
        home.mkdir()
        (home / ".netrc").write_text(f"machine 127.0.0.1 login {git.user} password {token}\n")
        (home / ".netrc").chmod(0o600)
        monkeypatch.setenv("HOME", str(home))
        fetched = len(git.log)
        pack = tmp_path / "privcase-env.sh"
        code, outputs["pack"] = run_cli("-vv", "pack", "--project", str(project), "-o",
                                        str(pack), "--compression-level", "1")
        assert code == 0, outputs["pack"]
        assert any("privutils.git" in line for line in git.log[fetched:])  # fetched for real

    code, outputs["deploy"] = run_cli("-vv", "deploy", "host1", "--prefix", ROOT,
                                      "--ssh-config", str(ssh_test_hosts.config),
                                      "--pack", str(pack))
    assert code == 0, outputs["deploy"]
    pack_id = pack_info(pack).pack_id
    run = host.exec(f"{ROOT}/current/bin/python -c 'import privcase; print(privcase.ping())'",
                    user="dask")
    assert run.stdout.strip() == "pong from the private package"

    # where the token is searched for, and that each search can find it
    header, payload = _payload(pack)
    assert b"pong from the private package" in payload and pack_id.encode() in header
    _built_as_a_wheel(payload)
    host.exec(f"printf '%s' '{token}' > /root/.canary")
    try:
        assert _grep_host(host, token) == ["/root/.canary"]
    finally:
        host.exec("rm -f /root/.canary")
    ssh_calls, git_calls = rec.calls("ssh"), rec.calls("git")
    assert [c for c in ssh_calls if "host1" in c] and [c for c in git_calls if url in c]

    assert token.encode() not in pack.read_bytes()
    assert token.encode() not in payload
    assert token not in lock
    checkouts = Path(os.environ["XDG_CACHE_HOME"]) / "dockyard" / "sources"
    assert checkouts.is_dir() and not _grep(checkouts, token), "the token is in a checkout"
    for name, text in outputs.items():
        assert token not in text, f"the token is in the output of {name}"
    assert token.encode() not in rec.raw(), "the token is on a command line"
    assert _grep_host(host, token) == [], "the token is in a file of the host"
    logs = subprocess.run([podman.binary, "logs", host.container], capture_output=True,
                          text=True)
    assert logs.returncode == 0 and token not in logs.stdout + logs.stderr
    host.exec(f"rm -rf {ROOT}")
