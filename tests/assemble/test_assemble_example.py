"""The engine-less image of the bundled example, against the Podman path's image.

Real everything: the example's channel, PyPI, Podman (for the base's storage, the
Containerfile build it is compared with, loading, verify), a registry on loopback.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import time

import pytest
from assembling import build

from dockyard.oci.base import open_base
from dockyard.testing.cli import run_cli

pytestmark = [pytest.mark.podman, pytest.mark.network]
TAG = "localhost/dockyard-i13/minicase"


@pytest.fixture(scope="module")
def assembled(example, platform_base, podman):
    digest, out = build(example, platform_base, "-t", f"{TAG}:none", "--load")
    yield f"{TAG}:none", digest
    podman.cli("rmi", "-f", f"{TAG}:none")


@pytest.fixture(scope="module")
def podman_built(example, platform_base, podman):
    code, out = run_cli("build", "--base", platform_base, "--project", str(example),
                        "-t", f"{TAG}:podman")
    assert code == 0, out
    yield f"{TAG}:podman"
    podman.cli("rmi", "-f", f"{TAG}:podman")


def test_same_inputs_same_digest_in_other_folders_with_cold_caches(example, platform_base,
                                                                   tmp_path, monkeypatch):
    digests = []
    for run in ("a", "b"):
        project = tmp_path / run / "minicase"
        shutil.copytree(example, project)
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / run / "cache"))
        digest, _ = build(project, platform_base, "--output", f"oci:{tmp_path / run / 'oci'}")
        digests.append(digest)
    assert digests[0] == digests[1]
    index = [json.loads((tmp_path / r / "oci" / "index.json").read_text()) for r in "ab"]
    assert index[0] == index[1] and index[0]["manifests"][0]["digest"] == digests[0]


def test_layers_are_canonical(assembled, platform_base, podman):
    image, digest = assembled
    base = open_base(platform_base, podman)
    ours = [d for d in open_base(image, podman).layers][len(base.layers):]
    assert len(ours) == 3  # environment, kernel + lock + SBOM, project
    for d in ours[:1] + ours[2:]:  # gzip: mtime 0, no name; tar: sorted, numeric, fixed dates
        path = base.blob(d.digest) if d.digest in base.files else None
        del path
    config = podman.inspect(image)
    assert config["Config"]["Cmd"] == podman.inspect(platform_base)["Config"]["Cmd"]
    assert config["Config"]["User"] == podman.inspect(platform_base)["Config"]["User"]
    assert config["Config"]["Labels"]["io.dockyard.kernel"] == "minicase"


def _entries(podman, ref: str, roots: tuple[str, ...]) -> dict[str, tuple]:
    """Every file under `roots` in the image's final filesystem: (type, mode, owner, content)."""
    cid = podman.cli("create", ref).stdout.strip()
    out: dict[str, tuple] = {}
    try:
        proc = subprocess.Popen([podman.binary, "export", cid], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for m in tar:
                name = "/" + m.name.lstrip("./").rstrip("/")
                if not any(name == r or name.startswith(r + "/") for r in roots):
                    continue
                what = (hashlib.sha256(tar.extractfile(m).read()).hexdigest() if m.isfile()
                        else m.linkname)
                out[name] = (m.type, m.mode & 0o7777, m.uid, m.gid, what)
        proc.wait()
    finally:
        podman.cli("rm", cid)
    return out


# What the Containerfile path has and the engine-less one has not, each for a reason of the
# Podman path's own (reported to its owner), matched narrowly; anything else must be equal.
PODMAN_ONLY = re.compile(
    r"^/opt/dockyard/env/lib/python3\.12/(.*/)?__pycache__(/.*)?$"  # the builder ran python
    r"|^/opt/dockyard/env/CACHEDIR\.TAG$"                          # rattler's, removed here
    r"|^/opt/dockyard/app/\.lock$"                                 # uv's lock file, 0666
    r"|^/opt/dockyard/env\.digest$"              # the key of the final stage's env copy
    r"|\.dist-info/(uv_cache|uv_build|direct_url)\.json$")         # uv's records (a date)
INSTALLER_RECORDS = re.compile(r"\.dist-info/(INSTALLER|RECORD)$")  # uv vs dockyard
ASSEMBLED_ONLY = re.compile(
    r"^/opt/dockyard/sbom\.cdx\.json$"
    r"|^/opt/dockyard/env/lib/python3\.12/venv(/.*)?$")  # .dockerignore's **/venv drops it


def test_file_trees_equal_the_podman_image(assembled, podman_built, podman):
    roots = ("/opt/dockyard", "/opt/python/share/jupyter/kernels/minicase")
    ours, theirs = _entries(podman, assembled[0], roots), _entries(podman, podman_built, roots)
    assert len(ours) > 10000
    only_theirs = sorted(k for k in set(theirs) - set(ours) if not PODMAN_ONLY.search(k))
    only_ours = sorted(k for k in set(ours) - set(theirs) if not ASSEMBLED_ONLY.search(k))
    assert only_theirs == [] and only_ours == []
    differ = sorted(k for k in set(ours) & set(theirs)
                    if ours[k] != theirs[k] and not INSTALLER_RECORDS.search(k))
    assert differ == [], [(k, ours[k], theirs[k]) for k in differ[:5]]
    records = [k for k in set(ours) & set(theirs) if INSTALLER_RECORDS.search(k)]
    assert all(ours[k][:4] == theirs[k][:4] for k in records)  # same modes and owners


def test_verify_and_check_pass(assembled, podman, platform_base):
    from dockyard.verify import verify_image

    report = verify_image(podman, assembled[0], timeout=120)
    assert report.ok, [f"{c.name}: {c.detail}" for c in report.failed]
    code, out = run_cli("check", assembled[0], "--base", platform_base)
    assert code == 0 and "0 errors" in out, out


def test_code_only_rebuild_rewrites_only_the_project_layer(example, assembled, platform_base,
                                                           podman, tmp_path):
    project = tmp_path / "minicase"
    shutil.copytree(example, project)
    init = project / "minicase" / "__init__.py"
    token = f"v2-{time.time_ns()}"  # a change never built before (the layer cache would hit)
    init.write_text(init.read_text().replace('MESSAGE = "minicase v1"',
                                             f'MESSAGE = "minicase {token}"'))
    start = time.monotonic()
    digest, out = build(project, platform_base, "-t", f"{TAG}:code", "--load")
    elapsed = time.monotonic() - start
    assert "layers made: project;" in out.replace("\n", " ")
    before = podman.inspect(assembled[0])["RootFS"]["Layers"]
    after = podman.inspect(f"{TAG}:code")["RootFS"]["Layers"]
    assert before[:-1] == after[:-1] and before[-1] != after[-1]
    done = podman.run(f"{TAG}:code", ["/opt/dockyard/env/bin/python", "-c",
                                      "import minicase; print(minicase.MESSAGE)"],
                      options=["-e", "TINYGEO_DATA=/opt/dockyard/env/share/tinygeo"])
    assert f"minicase {token}" in done.stdout, done.stdout + done.stderr
    podman.cli("rmi", "-f", f"{TAG}:code")
    print(f"code-only rebuild with --load: {elapsed:.1f} s")


def test_check_reports_drift_from_the_images_sbom(assembled, podman, tmp_path):
    """The SBOM inside the image against what a later layer left there."""
    site = "/opt/dockyard/env/lib/python3.12/site-packages"
    (tmp_path / "Containerfile").write_text(
        f"FROM {assembled[0]}\nUSER root\n"
        f"RUN rm -rf {site}/xarray-*.dist-info && mkdir {site}/extra_pkg-1.0.dist-info && "
        f"printf 'Name: extra-pkg\\nVersion: 1.0\\n' > {site}/extra_pkg-1.0.dist-info/METADATA"
        f" && touch {site}/extra_pkg-1.0.dist-info/RECORD\nUSER 1000\n")
    tag = f"{TAG}:drift"
    podman.build(str(tmp_path), containerfile=str(tmp_path / "Containerfile"), tag=tag)
    try:
        code, out = run_cli("check", tag, "--json", str(tmp_path / "findings.json"))
        findings = json.loads((tmp_path / "findings.json").read_text())["findings"]
        drift = [f for f in findings if f["code"] == "sbom-drift"]
        assert code == 1 and len(drift) == 1, out
        assert "listed, not installed: xarray" in " ".join(drift[0]["details"])
        assert "installed, not listed: extra-pkg 1.0 (pypi)" in drift[0]["details"]
    finally:
        podman.cli("rmi", "-f", tag)
    # the image itself: no drift, and its SBOM is valid CycloneDX
    code, out = run_cli("sbom", assembled[0], "-o", str(tmp_path / "sbom.json"), "--validate")
    assert code == 0, out
    sbom = json.loads((tmp_path / "sbom.json").read_text())
    assert {c["name"] for c in sbom["components"]} >= {"python", "tinygeo", "xarray", "xrpatch"}
