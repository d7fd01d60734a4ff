"""Signals sent to real runs: children die with dockyard, its folders and containers go.

`dockyard lock` is held inside uv by an index that never answers; `dockyard
verify` inside its container; `podman build` inside a RUN step that sleeps.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dockyard import lifecycle
from dockyard.engines.leftovers import marked_containers, runtime_containers

from .procs import alive, children, cmdline, kill_tree, start, stop, wait_for


@pytest.fixture
def hanging(hanging_project, tmp_path):
    """The hanging project and an empty folder for its TMPDIR."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return hanging_project, tmp


def _uv_running(proc) -> list[int]:
    kids = children(proc.pid)
    return kids if any("uv pip compile" in cmdline(k) for k in kids) else []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_lock_stops_uv_and_removes_its_folder(hanging, sig):
    project, tmp = hanging
    proc = start(["lock"], project, tmp)
    kids = wait_for(lambda: _uv_running(proc), 60)
    try:
        assert kids, f"uv never started: {proc.poll()} {proc.stdout.read() if proc.poll() else ''}"
        assert any(p.name.startswith("dockyard-uv-") for p in tmp.iterdir())
        code, out = stop(proc, sig)   # to the pid alone, as `kill` does
        assert code == 128 + sig, out
        assert "interrupted" in out and signal.Signals(sig).name in out
        assert "Traceback" not in out
        left = [k for k in kids if alive(k)]
        assert not left, [cmdline(k) for k in left]
        assert list(tmp.iterdir()) == [], "a temporary folder was left behind"
        assert not (project / "dockyard.lock").exists()
    finally:
        kill_tree(kids)


def test_sigkill_of_lock_kills_uv_and_the_watchdog_removes_the_folder(hanging):
    project, tmp = hanging
    proc = start(["lock"], project, tmp)
    kids = wait_for(lambda: _uv_running(proc), 60)
    try:
        assert kids
        proc.kill()
        proc.communicate(timeout=30)
        assert wait_for(lambda: not any(alive(k) for k in kids), 30), \
            [cmdline(k) for k in kids if alive(k)]
        assert wait_for(lambda: not list(tmp.iterdir()), 30), list(tmp.iterdir())
    finally:
        kill_tree(kids)


# ---- the mechanism itself ---------------------------------------------------------------


def test_child_group_is_killed_when_the_block_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with lifecycle.child(["sh", "-c", "sleep 60 & sleep 60 & wait"],
                             stdout=subprocess.DEVNULL) as proc:
            kids = wait_for(lambda: len(children(proc.pid)) >= 2 and children(proc.pid), 30)
            raise RuntimeError("boom")
    assert not alive(proc.pid)
    assert wait_for(lambda: not any(alive(k) for k in kids), 10)   # signalled, exiting
    assert lifecycle.pending() == []


def test_a_timeout_kills_the_group_like_subprocess_run():
    from dockyard.runner import SubprocessRunner

    start_ = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        SubprocessRunner()(["sh", "-c", "sleep 60 & sleep 60; wait"], timeout=0.5)
    assert time.monotonic() - start_ < 10
    assert lifecycle.pending() == []


def test_temp_dir_and_on_failure_undo_on_an_error(tmp_path):
    marker = tmp_path / "undone"
    with pytest.raises(ValueError):
        with lifecycle.temp_dir(dir=tmp_path) as folder:
            (folder / "x").write_text("x")
            with lifecycle.on_failure(["touch", str(marker)], what="test"):
                raise ValueError
    assert not folder.exists() and marker.exists()
    marker.unlink()
    with lifecycle.on_failure(["touch", str(marker)], what="test"):
        pass
    assert not marker.exists(), "on_failure ran although the block succeeded"


def test_the_watchdog_undoes_what_a_killed_process_left(tmp_path):
    marker = tmp_path / "command-ran"
    script = textwrap.dedent(f"""
        import sys, time
        from dockyard import lifecycle
        with lifecycle.session():
            with lifecycle.temp_dir(dir={str(tmp_path)!r}) as d, \\
                 lifecycle.on_exit(["touch", {str(marker)!r}], what="test"), \\
                 lifecycle.child(["sleep", "300"]) as p:
                print(d, p.pid, flush=True)
                time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    folder, pid = proc.stdout.readline().split()
    assert Path(folder).is_dir() and alive(int(pid))
    proc.kill()
    proc.wait()
    assert wait_for(lambda: not alive(int(pid)), 30)
    assert wait_for(lambda: not Path(folder).exists() and marker.exists(), 30)


def test_a_second_signal_does_not_break_the_cleanup(tmp_path):
    """Ctrl-C pressed twice: the cleanup still runs to its end."""
    marker = tmp_path / "cleaned"
    script = textwrap.dedent(f"""
        import os, signal, time
        from dockyard import lifecycle
        try:
            with lifecycle.session():
                try:
                    print("ready", flush=True)
                    time.sleep(60)
                finally:
                    os.kill(os.getpid(), signal.SIGINT)   # the second Ctrl-C, mid-cleanup
                    time.sleep(0.5)
                    open({str(marker)!r}, "w").close()
        except KeyboardInterrupt as exc:
            raise SystemExit(exc.exit_code)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert marker.exists(), err
    assert "already stopping" in err


# ---- containers -------------------------------------------------------------------------

@pytest.mark.podman
def test_sigterm_during_verify_removes_its_container(podman, platform_base, tmp_path):
    proc = start(["verify", platform_base, "--timeout", "300"], tmp_path, tmp_path)

    def ours() -> list[str]:
        done = podman.cli("ps", "-a", "--filter", f"label=io.dockyard.pid={proc.pid}",
                          "--format", "{{.Names}}")
        return done.stdout.split()

    names = wait_for(ours, 120, step=0.5)
    assert names, proc.communicate(timeout=60)[0] if proc.poll() is not None else "no container"
    code, out = stop(proc, signal.SIGTERM, timeout=120)
    assert code == 143, out
    assert "Traceback" not in out
    assert ours() == [], f"left running: {names}"


BUILD = """
import sys
from dockyard import lifecycle
from dockyard.engines import get_engine
with lifecycle.session():
    get_engine("podman").build(sys.argv[1], containerfile=sys.argv[1] + "/Containerfile",
                               tag=sys.argv[2])
"""


@pytest.mark.podman
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_build_leaves_no_working_container(podman, debian_trixie, tmp_path, sig):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Containerfile").write_text(
        f"FROM {debian_trixie}\nRUN echo {tmp_path.name} && sleep 300\n")   # never cached
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp)}
    proc = subprocess.Popen([sys.executable, "-c", BUILD, str(ctx), "localhost/dockyard-test/"
                             "stopped-build:1"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def build_args() -> list[str]:
        for k in children(proc.pid):
            if " build " in cmdline(k) and "--add-host" in cmdline(k):
                return cmdline(k).split()
        return []

    args = wait_for(build_args, 60)
    assert args, "podman build did not start"
    marker = args[args.index("--add-host") + 1].split(":")[0]
    runc = "/usr/sbin/runc" if os.path.exists("/usr/sbin/runc") else "runc"
    running = wait_for(lambda: runtime_containers(runc, str(tmp)), 120, step=0.5)
    assert running, "the RUN step never started"
    assert marked_containers(podman.binary, marker)
    proc.send_signal(sig)
    proc.communicate(timeout=120)
    assert wait_for(lambda: not runtime_containers(runc, str(tmp))
                    and not marked_containers(podman.binary, marker), 60), \
        "the build's RUN step or working container was left"
    assert wait_for(lambda: not list(tmp.iterdir()), 30), list(tmp.iterdir())
    assert not podman.exists("localhost/dockyard-test/stopped-build:1")


def test_leftovers_reads_only_marked_containers(tmp_path):
    """The cleanup command touches nothing of a build that is not its own."""
    fake = tmp_path / "runtime"
    fake.write_text("#!/bin/sh\necho '" + json.dumps([
        {"id": "mine", "bundle": str(tmp_path / "b" / "buildah1")},
        {"id": "theirs", "bundle": "/var/tmp/buildah2"}]) + "'\n")
    fake.chmod(0o755)
    (tmp_path / "b").mkdir()
    assert runtime_containers(str(fake), str(tmp_path / "b")) == ["mine"]
