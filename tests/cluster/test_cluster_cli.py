"""`dockyard cluster` usage errors: a message and a hint, exit 2, no traceback."""

from __future__ import annotations

from pathlib import Path

from dockyard.testing.cli import run_cli

PROJECT = Path(__file__).parents[1] / "projects" / "daskcase"


def test_no_subcommand_prints_help():
    code, out = run_cli("cluster")
    assert code == 2


def test_spec_of_images_nowhere(tmp_path):
    code, out = run_cli("cluster", "spec", "--kind", "dask-kubernetes", "--project",
                        str(PROJECT), "--image", "127.0.0.1:9/nothing:1")
    assert code == 2 and "Traceback" not in out
    assert "notebook image 127.0.0.1:9/nothing:1" in out and "unreachable" in out
    assert "cluster build --push" in out


def test_spec_with_a_bad_setting(tmp_path):
    (tmp_path / "dockyard.toml").write_text('[cluster.worker]\ncpu = 2\n')
    code, out = run_cli("cluster", "spec", "--kind", "dask-gateway", "--project",
                        str(tmp_path), "--image", "127.0.0.1:9/x:1")
    assert code == 2 and "dockyard.toml:2 (cluster.worker.cpu)" in out
    assert 'write cpu = "2"' in out


def test_check_with_an_image_not_here():
    code, out = run_cli("cluster", "check", "tcp://127.0.0.1:1", "--image",
                        "localhost/dockyard-test/no-such-image:0")
    assert code == 2 and "no image localhost/dockyard-test/no-such-image:0" in out


def test_pycache_dirs_are_private_and_few(tmp_path, monkeypatch):
    import stat
    import time

    from dockyard.cluster.check import PYCACHE_KEEP, pycache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = pycache_dir("sha256:" + "0" * 64)
    assert stat.S_IMODE(first.stat().st_mode) == 0o700
    assert stat.S_IMODE(first.parent.stat().st_mode) == 0o700
    for i in range(1, PYCACHE_KEEP + 2):
        time.sleep(0.01)
        pycache_dir(f"{i:02d}" + "f" * 62)
    kept = sorted(p.name for p in first.parent.iterdir())
    assert len(kept) == PYCACHE_KEEP and first.name not in kept
