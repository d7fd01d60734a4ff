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


def test_spec_resolves_digests_and_labels_from_a_registry(podman, tmp_path):
    """Tiny images with the role labels, pushed to a registry on loopback: the manifests
    name each role by the digest the registry serves."""
    import subprocess

    import yaml

    from dockyard.testing.registry import local_registry

    tags = []
    with local_registry() as reg:
        for role in ("notebook", "scheduler", "worker"):
            ctx = tmp_path / role
            ctx.mkdir()
            (ctx / "Containerfile").write_text(
                "FROM scratch\nLABEL io.dockyard.python=/opt/dockyard/env/bin/python "
                f"io.dockyard.role={role} io.dockyard.user=1000:100\n")
            tag = f"localhost/dockyard-test/spec-{role}:1"
            podman.check("build", "-q", "-t", tag, str(ctx))
            tags.append(tag)
            suffix = "" if role == "notebook" else f"-{role}"
            podman.push(tag, f"{reg.host}/app:1{suffix}", tls_verify=False)
        try:
            code, out = run_cli("cluster", "spec", "--kind", "dask-kubernetes", "--project",
                                str(PROJECT), "--image", f"{reg.host}/app:1", "-o",
                                str(tmp_path / "c.yaml"))
            assert code == 0, out
            docs = list(yaml.safe_load_all((tmp_path / "c.yaml").read_text()))
            spec = docs[1]["spec"]
            for role, key in (("scheduler", "scheduler"), ("worker", "worker")):
                want = subprocess.run(
                    ["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}",
                     f"docker://{reg.host}/app:1-{role}"],
                    capture_output=True, text=True, check=True).stdout.strip()
                image = spec[key]["spec"]["containers"][0]["image"]
                assert image == f"{reg.host}/app@{want}"
            # a scheduler image that is not one: named, with what to do
            code, out = run_cli("cluster", "spec", "--kind", "dask-kubernetes", "--project",
                                str(PROJECT), "--image", f"{reg.host}/app:1",
                                "--scheduler-image", f"{reg.host}/app:1-worker")
            assert code == 2 and "is not a scheduler image" in out
        finally:
            podman.cli("rmi", "-f", *tags)
