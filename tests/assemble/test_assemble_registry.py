"""Pushing the engine-less image to a real registry (Debian's docker-registry on loopback),
with and without basic auth; the base mounted from its repository; the SBOM as a referrer;
a base read from the registry and probed from its layers (no engine used)."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest
from assembling import build

from dockyard.oci.base import open_base
from dockyard.oci.probe import probe_layers
from dockyard.probe import probe_base
from dockyard.testing.registry import local_registry

pytestmark = [pytest.mark.podman, pytest.mark.network]


def _get(url: str, accept: str = "", auth: str = "") -> bytes:
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    if auth:
        req.add_header("Authorization", auth)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def _push_base(podman, base: str, dest: str) -> None:
    done = podman.cli("push", "--tls-verify=false", base, f"docker://{dest}")
    assert done.ok, done.stderr


def test_push_mounts_the_base_and_attaches_the_sbom(example, platform_base, podman, tmp_path):
    with local_registry() as reg:
        _push_base(podman, platform_base, f"{reg.host}/platform/jupyter:1")
        base = f"docker://{reg.host}/platform/jupyter:1"
        digest, out = build(example, base, "--push", f"{reg.host}/team/minicase:1")
        flat = " ".join(out.split())
        assert "0 blobs mounted" not in flat and "blobs mounted from the base" not in flat
        mounted = int(flat.split(" mounted from the base's repository")[0].rsplit(",", 1)[1])
        assert mounted == len(open_base(base).layers)  # no base layer was sent again
        seen = subprocess.run(["skopeo", "inspect", "--tls-verify=false",
                               f"docker://{reg.host}/team/minicase:1"],
                              capture_output=True, text=True)
        assert seen.returncode == 0 and json.loads(seen.stdout)["Digest"] == digest
        # the SBOM: a referrer of the image (the referrers tag schema on this registry)
        index = json.loads(_get(f"{reg.url}/v2/team/minicase/manifests/"
                                f"{digest.replace(':', '-')}",
                                "application/vnd.oci.image.index.v1+json"))
        (ref,) = index["manifests"]
        assert ref["artifactType"] == "application/vnd.cyclonedx+json"
        art = json.loads(_get(f"{reg.url}/v2/team/minicase/manifests/{ref['digest']}",
                              "application/vnd.oci.image.manifest.v1+json"))
        assert art["subject"]["digest"] == digest
        sbom = json.loads(_get(f"{reg.url}/v2/team/minicase/blobs/"
                               f"{art['layers'][0]['digest']}"))
        assert sbom["metadata"]["component"]["name"] == "minicase"
        assert any(c["type"] == "container" and c["version"].startswith("sha256:")
                   for c in sbom["components"])
        # the pushed image reads back: dockyard check and dockyard sbom from the registry
        from dockyard.testing.cli import run_cli

        code, text = run_cli("sbom", f"docker://{reg.host}/team/minicase:1", "-o",
                             str(tmp_path / "sbom.json"))
        assert code == 0 and json.loads((tmp_path / "sbom.json").read_text()) == sbom
        # pushing again sends nothing
        _, again = build(example, base, "--push", f"{reg.host}/team/minicase:1")
        assert "0 blobs sent" in " ".join(again.split())


def test_push_with_basic_auth(example, platform_base, tmp_path, monkeypatch):
    monkeypatch.delenv("DOCKYARD_REGISTRY_USERNAME", raising=False)
    monkeypatch.delenv("DOCKYARD_REGISTRY_PASSWORD", raising=False)
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "none.json"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    with local_registry(auth=("ci", "pa55-word")) as reg:
        dest = f"{reg.host}/minicase:1"
        code, out = build(example, platform_base, "--push", dest, ok=False)
        assert code == 2 and "refused (401)" in out and "DOCKYARD_REGISTRY_USERNAME" in out
        assert "pa55" not in out
        monkeypatch.setenv("DOCKYARD_REGISTRY_USERNAME", "ci")
        monkeypatch.setenv("DOCKYARD_REGISTRY_PASSWORD", "pa55-word")
        digest, out = build(example, platform_base, "--push", dest)
        assert "pa55" not in out
        monkeypatch.delenv("DOCKYARD_REGISTRY_PASSWORD")
        import base64

        token = base64.b64encode(b"ci:pa55-word").decode()
        (tmp_path / "auth.json").write_text(json.dumps({"auths": {reg.host: {"auth": token}}}))
        monkeypatch.setenv("REGISTRY_AUTH_FILE", str(tmp_path / "auth.json"))  # podman login's
        again, out = build(example, platform_base, "--push", f"{reg.host}/minicase:2")
        assert again == digest
        manifest = json.loads(_get(f"{reg.url}/v2/minicase/manifests/2",
                                   "application/vnd.oci.image.manifest.v1+json",
                                   f"Basic {token}"))
        assert manifest["layers"][-1]["mediaType"].endswith("tar+gzip")


def test_the_probe_from_layers_agrees_with_the_engine(platform_base, podman):
    engine = probe_base(podman, platform_base)
    layers = probe_layers(platform_base, podman)  # the same image, read without running it
    for field in ("os_id", "os_version", "glibc", "libc", "jupyter", "user", "cmd",
                  "entrypoint", "env"):
        assert getattr(layers, field) == getattr(engine, field), field
    assert {(p.path, p.version) for p in engine.pythons} <= \
        {(p.path, p.version) for p in layers.pythons}
    assert layers.jupyter_python is not None
    assert layers.jupyter_python.version == engine.jupyter_python.version
