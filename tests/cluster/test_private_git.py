"""A private git dependency with a credential, as in the founding case, never written down.

A package is served by `git http-backend` behind basic auth on loopback. A project that
depends on it is locked and built into role images, pushed to a registry on loopback and
described by `cluster spec`, with the credential given through the environment (a git
credential helper reading two variables) or through netrc. The token then reaches no
lock, log, error, layer (every layer of every role image, and every blob in the
registry), build history, image config or manifest: checked with `dockyard check` and a
byte search of all of them.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import textwrap
from pathlib import Path

import pytest

from dockyard.cluster.images import role_tags
from dockyard.testing.cli import run_cli
from dockyard.testing.gitserver import private_git_server
from dockyard.testing.registry import local_registry

pytestmark = [pytest.mark.podman, pytest.mark.network]

PACKAGE = {
    "pyproject.toml": textwrap.dedent("""\
        [project]
        name = "oeilnc-utils"
        version = "0.3.0"
        dependencies = ["toolz"]

        [build-system]
        requires = ["hatchling>=1.24"]
        build-backend = "hatchling.build"

        [tool.hatch.build.targets.wheel]
        packages = ["oeilnc_utils"]
        """),
    "oeilnc_utils/__init__.py": "def ping():\n    return 'pong from the private package'\n",
}


def _project(root: Path, url: str) -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [project]
        name = "gitcase"
        version = "0.1.0"
        requires-python = ">=3.12"
        dependencies = [
            "oeilnc-utils @ git+{url}@main",
            "dask>=2025.1",
            "distributed>=2025.1",
            "dask-gateway>=2024.1",
        ]

        [build-system]
        requires = ["hatchling>=1.24"]
        build-backend = "hatchling.build"

        [tool.hatch.metadata]
        allow-direct-references = true
        """))
    (root / "gitcase").mkdir()
    (root / "gitcase" / "__init__.py").write_text("from oeilnc_utils import ping\n")
    (root / "dockyard.toml").write_text(textwrap.dedent("""\
        [target]
        python = "3.13"

        [cluster.env]
        COMMUN_PATH = "/mnt/commun/"
        """))
    return root


def _grep_blob(data: bytes, token: bytes) -> bool:
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    elif data[:4] == b"\x28\xb5\x2f\xfd":
        import zstandard

        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    return token in data


def test_private_git_dependency_credential_goes_nowhere(podman, platform_base, tmp_path,
                                                         monkeypatch):
    with private_git_server() as git:
        url, commit = git.add_repo("bilbo/bilbo-packages", PACKAGE)
        token = git.token.encode()
        project = _project(tmp_path / "gitcase", url)
        outputs: dict[str, str] = {}

        # without the credential: a clear error, no traceback
        monkeypatch.setenv("GIT_TERMINAL_PROMPT", "0")
        code, out = run_cli("lock", "--project", str(project))
        assert code != 0 and "Traceback" not in out, out
        assert git.refused >= 1
        outputs["lock without credential"] = out
        # the case's habit, a token pasted into the URL: stripped when read, never shown
        py = project / "pyproject.toml"
        clean = py.read_text()
        py.write_text(clean.replace("git+http://", f"git+http://{git.user}:{git.token}@"))
        code, out = run_cli("-vv", "lock", "--project", str(project))
        assert code != 0 and "Traceback" not in out
        outputs["lock with a token in the URL"] = out
        py.write_text(clean)

        # through the environment
        for key, value in git.credential_env().items():
            monkeypatch.setenv(key, value)
        code, out = run_cli("-vv", "lock", "--project", str(project))
        assert code == 0, out
        outputs["lock"] = out
        lock = (project / "dockyard.lock").read_text()
        assert commit in lock and f"git+{url}" in lock

        tag = "localhost/dockyard-test/gitcase:1"
        with local_registry() as reg:
            dest = f"{reg.host}/gitcase:1"
            try:
                code, out = run_cli("-vv", "cluster", "build", "--project", str(project),
                                    "--base", platform_base, "-t", tag, "--push", dest,
                                    width=300)
                assert code == 0, out
                outputs["cluster build"] = out
                for kind in ("dask-kubernetes", "dask-gateway"):
                    target = tmp_path / f"{kind}.yaml"
                    code, out = run_cli("cluster", "spec", "--kind", kind, "--project",
                                        str(project), "--image", dest, "-o", str(target))
                    assert code == 0, out
                    outputs[kind] = out + target.read_text()
                assert "@sha256:" in outputs["dask-kubernetes"]

                done = podman.run(tag, ["/opt/dockyard/env/bin/python", "-c",
                                        "import gitcase; print(gitcase.ping())"])
                assert done.stdout.strip() == "pong from the private package", done.stderr

                code, out = run_cli("check", tag, "--json", str(tmp_path / "check.json"))
                outputs["check"] = out
                findings = json.loads((tmp_path / "check.json").read_text())["findings"]
                assert not [f for f in findings if f["code"] == "secret"
                            and f["severity"] == "error"], findings

                images = list(role_tags(tag).values())
                for image in images:
                    outputs[f"history {image}"] = podman.check(
                        "history", "--no-trunc", image).stdout
                    outputs[f"inspect {image}"] = podman.check("image", "inspect", image).stdout
                # the roles share every layer: searching the notebook's searches them all
                assert len({podman.layers(image) for image in images}) == 1
                archive = tmp_path / "image"
                podman.check("save", "--format", "oci-dir", "-o", str(archive), tag)
                for blob in (archive / "blobs" / "sha256").iterdir():
                    assert not _grep_blob(blob.read_bytes(), token), f"{tag}: {blob.name}"
                subprocess.run(["rm", "-rf", str(archive)], check=True)
                blobs = [p for p in reg.root.rglob("data") if p.is_file()]
                assert len(blobs) > 5
                for blob in blobs:  # every layer, config and manifest the registry holds
                    assert not _grep_blob(blob.read_bytes(), token), blob
            finally:
                for image in role_tags(tag).values():
                    podman.cli("rmi", "-f", image)

        # through netrc: the same lock, from a fresh resolution
        for key in git.credential_env():
            monkeypatch.delenv(key)
        home = tmp_path / "home"
        home.mkdir()
        (home / ".netrc").write_text(f"machine 127.0.0.1 login {git.user} "
                                     f"password {git.token}\n")
        os.chmod(home / ".netrc", 0o600)
        monkeypatch.setenv("HOME", str(home))
        monkeypatch.setenv("UV_CACHE_DIR", str(tmp_path / "uv-cache"))  # not HOME's
        (project / "dockyard.lock").unlink()
        code, out = run_cli("lock", "--project", str(project))
        assert code == 0, out
        outputs["lock with netrc"] = out
        assert (project / "dockyard.lock").read_text() == lock

    outputs["dockyard.lock"] = lock
    assert _grep_blob(gzip.compress(b"x" + token + b"y"), token)  # the search can fail
    for name, text in outputs.items():
        assert git.token not in text, f"the token is in {name}"
        assert "tok" + git.token[3:9] not in text
