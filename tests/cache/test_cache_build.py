"""`dockyard cache clean` while a real build runs: the clean waits for it, the build's image
is whole, and the clean then removes what the build left in the cache.

The build: the bundled example assembled without an engine, cold (but for the fetched
artifacts, hard-linked from the session's cache), in the test's own cache, on the
platform-like base read from Podman's storage (exported into the cache's bases/,
whose blobs the assembly then reads). The clean runs with a Podman storage of the
test's own (it removes builder images machine-wide).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard import caches

pytestmark = [pytest.mark.podman, pytest.mark.network]


def _dockyard(*argv: str, storage: bool = True) -> subprocess.Popen:
    env = {**os.environ, "COLUMNS": "300"}
    if not storage:    # the machine's Podman storage, where the base is
        env.pop("CONTAINERS_STORAGE_CONF")
    return subprocess.Popen([sys.executable, "-c", "from dockyard.cli import run; run()", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _layout_is_whole(layout: Path) -> int:
    """Every blob the layout's image names is there with its digest; how many."""
    def blob(digest: str) -> bytes:
        data = (layout / "blobs" / "sha256" / digest.split(":")[1]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest.split(":")[1], digest
        return data

    index = json.loads((layout / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]["digest"]))
    blob(manifest["config"]["digest"])
    for layer in manifest["layers"]:
        blob(layer["digest"])
    return len(manifest["layers"])


def test_clean_waits_for_a_running_build_whose_image_stays_whole(example, platform_base, podman,
                                                                 cache, tmp_path):
    project = tmp_path / "minicase"
    shutil.copytree(example, project)
    fetched = example.parents[1] / "artifacts"   # the session's cache: spare the downloads
    if fetched.is_dir():
        cache.mkdir(parents=True)
        subprocess.run(["cp", "-al", str(fetched), str(cache / "artifacts")], check=True)
    layout = tmp_path / "oci"
    build = _dockyard("build", "--base", platform_base, "--project", str(project), "--engine",
                      "none", "--output", f"oci:{layout}", "-t", "minicase:1", storage=False)
    deadline = time.monotonic() + 120
    while not any(f"pid {build.pid}:" in u for u in caches.users()):
        assert build.poll() is None and time.monotonic() < deadline, build.communicate()[0]
        time.sleep(0.05)
    clean = _dockyard("cache", "clean")
    said = clean.stdout.readline() + clean.stdout.readline()
    assert "waiting for the dockyard commands using the caches to finish" in said, said
    assert f"pid {build.pid}: dockyard build" in said, said
    assert build.poll() is None
    out = build.communicate(timeout=900)[0]
    assert build.returncode == 0, out
    assert (cache / "layers").is_dir() and (cache / "bases").is_dir()   # it filled the cache
    rest = said + clean.communicate(timeout=300)[0]
    assert clean.returncode == 0, rest
    assert "freed " in rest and "Traceback" not in rest
    base = json.loads(subprocess.run([podman.binary, "image", "inspect", platform_base],
                                     capture_output=True, text=True,
                                     env={k: v for k, v in os.environ.items()
                                          if k != "CONTAINERS_STORAGE_CONF"}).stdout)[0]
    assert _layout_is_whole(layout) == len(base["RootFS"]["Layers"]) + 3
    left = [p for p in cache.rglob("*") if p.is_file() and p.name != ".lock"]
    assert left == [], left[:5]
    assert os.listdir(layout / "blobs" / "sha256")
