"""`dockyard cache` on real files in a cache of the test's own: what it lists, what `clean`
removes and keeps, what it says it freed, and the lock that keeps a running command safe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dockyard import caches
from dockyard.audit.units import human
from dockyard.errors import CacheError
from dockyard.testing.cli import run_cli

MB = 1 << 20
DAY = 86400


def _file(path: Path, size: int, age_days: float = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    if age_days:
        _age(path, age_days)
    return path


def _age(path: Path, days: float) -> None:
    when = time.time() - days * DAY
    for p in [*path.rglob("*"), path] if path.is_dir() else [path]:
        os.utime(p, (when, when), follow_symlinks=False)


def _layer(cache: Path, kind: str, digest: str, size: int, age_days: float = 0) -> None:
    _file(cache / "blobs" / "sha256" / digest, size, age_days)
    meta = cache / "layers" / f"{kind}-{digest[:8]}.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"digest": f"sha256:{digest}", "size": size}))
    if age_days:
        _age(meta, age_days)


@pytest.fixture
def filled(cache, tmp_path):
    """A cache as builds leave it: downloads, derived trees sharing hard links, our layers,
    a registry blob, leftovers; plus what dockyard did not make, in and beside it."""
    a = _file(cache / "artifacts" / ("a" * 64) / "numpy-1.26.conda", 3 * MB)
    _file(cache / "artifacts" / ("b" * 64) / "xarray-2024.whl", 2 * MB)
    _file(cache / "pkgs" / "cc" / ("c" * 64 + "-python-3.12.conda"), 1 * MB)
    _file(cache / "sources" / "xrpatch-0123" / "setup.py", 64 << 10)
    _file(cache / "blobs" / "sha256" / ("d" * 64), 2 * MB)        # a base layer, fetched
    _layer(cache, "env", "e" * 64, 4 * MB)
    _layer(cache, "app", "f" * 64, 1 * MB)
    rattler = _file(cache / "rattler" / "pkgs" / "numpy-1.26-0" / "lib.so", 5 * MB)
    env = cache / "conda-envs" / "k1" / "lib" / "lib.so"
    env.parent.mkdir(parents=True)
    os.link(rattler, env)                                          # one file, two names
    os.link(a, cache / "conda-envs" / "k1" / "numpy.conda")
    _file(cache / "bases" / "podman-1234" / "blobs" / "sha256" / "x", 2 * MB)
    _file(cache / "build-envs" / "k2" / "bin" / "python", 100 << 10)
    _file(cache / "tmp" / "dockyard-assemble-x" / "env.tar.gz", 1 * MB)
    _file(cache / "probes" / "img-abc.txt", 1000)
    ro = cache / "conda-envs" / "k1" / "share" / "readonly"
    _file(ro / "data", 1000)
    ro.chmod(0o555)                                                # rattler leaves some
    _file(cache / "example" / "minicase" / "pyproject.toml", 1000)
    _file(cache / ".example.lock", 0)                              # the example's lock file
    _file(cache / "mystuff" / "notes.txt", 1000)                   # not dockyard's
    _file(tmp_path / "xdg" / "pip" / "wheel.whl", 1000)            # another tool's cache
    return cache


def test_lists_each_cache_with_its_size_entries_and_total(filled):
    code, out = run_cli("cache", width=160)
    assert code == 0, out
    for name in ("artifacts/", "pkgs/", "sources/", "blobs/", "layers/", "bases/",
                 "conda-envs/", "rattler/", "build-envs/", "tmp/", "probes/"):
        assert name in out, name
    found = caches.survey()
    sizes = {c.name: c.size for c in found.caches}
    assert 5 * MB < sizes["artifacts"] < 5 * MB + 64_000
    assert 5 * MB < sizes["layers"] < 5 * MB + 64_000              # json + blob, per layer
    line = next(x for x in out.splitlines() if "artifacts/" in x)
    assert human(sizes["artifacts"]) in line and " 2 " in line and "(download)" in line
    line = next(x for x in out.splitlines() if "layers/" in x)
    assert human(sizes["layers"]) in line and " 2 " in line, line
    assert "not dockyard's, never removed" in out and "mystuff" in out
    assert ".example.lock" not in out and "example/" in out
    # the hard-linked files are in two caches each, and once in the total
    assert found.total < sum(sizes.values()) - 7 * MB
    assert "total " in out and "dockyard cache clean" in out


def test_clean_removes_what_dockyard_made_and_nothing_else(filled, tmp_path):
    before = caches.survey().total
    code, out = run_cli("cache", "clean")
    assert code == 0, out
    assert sorted(p.name for p in filled.iterdir()) == sorted(
        [".example.lock", ".lock", "mystuff", *(c.folder for c in caches.CACHES
                               if (filled / c.folder).exists())])
    assert sorted(p for p in filled.rglob("*") if not p.is_dir()) == [
        filled / ".example.lock", filled / ".lock", filled / "mystuff" / "notes.txt"]
    assert (filled / "mystuff" / "notes.txt").is_file()
    assert (tmp_path / "xdg" / "pip" / "wheel.whl").is_file()
    freed = caches.survey().total
    assert freed < 64 << 10
    said = float(out.split("freed ")[-1].split(" MB")[0])
    assert abs(said * 1e6 - before) < 0.05 * before, (said, before, out)


def test_keep_downloads_keeps_what_was_fetched(filled):
    code, out = run_cli("cache", "clean", "--keep-downloads")
    assert code == 0, out
    for kept in ("artifacts", "pkgs", "sources"):
        assert any((filled / kept).iterdir()), kept
    blobs = {p.name for p in (filled / "blobs" / "sha256").iterdir()}
    assert blobs == {"d" * 64}                        # the fetched base layer, not ours
    assert not any((filled / "layers").iterdir())
    assert not any((filled / "conda-envs").iterdir())
    assert not any(p.is_file() for p in (filled / "rattler").rglob("*"))
    # the environment's hard link to an artifact freed nothing: the artifact is kept
    assert (filled / "artifacts" / ("a" * 64) / "numpy-1.26.conda").stat().st_nlink == 1
    assert "kept (downloads)" in out


def test_older_than_keeps_what_was_used_recently(filled):
    from dockyard.render.stage import _cached

    for path in filled.iterdir():
        if path.name != "mystuff":
            _age(path, 40)
    _layer(filled, "app", "9" * 64, 1 * MB)           # made today
    # a build reuses an old conda environment: the cache hit marks it used
    made = _cached("conda-envs", "k1", lambda folder: pytest.fail("rebuilt a cached env"))
    assert made == filled / "conda-envs" / "k1"
    code, out = run_cli("cache", "clean", "--older-than", "30d")
    assert code == 0, out
    assert (filled / "conda-envs" / "k1" / "lib" / "lib.so").is_file()
    assert (filled / "blobs" / "sha256" / ("9" * 64)).is_file()
    assert (filled / "layers" / f"app-{'9' * 8}.json").is_file()
    assert not (filled / "blobs" / "sha256" / ("e" * 64)).exists()
    assert not (filled / "artifacts" / ("b" * 64)).exists()
    assert not (filled / "tmp" / "dockyard-assemble-x").exists()


def test_dry_run_removes_nothing(filled):
    before = sorted(str(p) for p in filled.rglob("*"))
    code, out = run_cli("cache", "clean", "--dry-run")
    assert code == 0, out
    assert "would remove artifacts: 2 entries" in out and "nothing removed" in out
    assert sorted(str(p) for p in filled.rglob("*") if p.name != ".lock") == \
        [p for p in before if not p.endswith("/.lock")]


@pytest.mark.parametrize("argv,said", [
    (["clean", "--older-than", "1x"], "--older-than '1x': expected a number and a unit"),
    (["--keep-downloads"], "go with `clean`"),
])
def test_wrong_flags_are_errors_not_tracebacks(cache, argv, said):
    code, out = run_cli("cache", *argv)
    assert code == 2 and said in out and "Traceback" not in out, out


def test_empty_cache(cache):
    code, out = run_cli("cache")
    assert code == 0 and "no cache yet" in out, out
    code, out = run_cli("cache", "clean")
    assert code == 0 and "freed 0 B" in out, out


def test_uv_cache_mount_of_an_older_build_is_listed_and_removed(cache, tmp_path):
    mount = _file(tmp_path / "tmp" / "buildah-cache" / "dockyard-uv" / "wheels" / "x.whl", MB)
    other = _file(tmp_path / "tmp" / "buildah-cache" / "someone-else" / "x", 1000)
    code, out = run_cli("cache", width=400)
    assert "uv cache mount" in out and "buildah-cache/dockyard-uv" in out, out
    code, out = run_cli("cache", "clean")
    assert code == 0, out
    assert not mount.exists() and other.exists()


def _hold(mode: str, cache: Path) -> subprocess.Popen:
    """A process holding the cache lock (`in_use` or `exclusive`) until its stdin closes."""
    code = (f"import sys\nfrom dockyard import caches\nwith caches.{mode}():\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _dockyard(*argv: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from dockyard.cli import run; run()", *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_clean_waits_for_a_running_command_and_says_which(filled):
    user = _hold("in_use", filled)
    assert any(f"pid {user.pid}" in u for u in caches.users())
    clean = _dockyard("cache", "clean")
    time.sleep(3)
    assert clean.poll() is None, clean.communicate()[0]        # still waiting
    assert (filled / "artifacts").is_dir() and any((filled / "artifacts").iterdir())
    user.stdin.close()
    user.wait()
    out = clean.communicate(timeout=60)[0]
    assert clean.returncode == 0, out
    assert f"waiting for the dockyard commands using the caches to finish: pid {user.pid}" \
        in out, out
    assert not any((filled / "artifacts").iterdir())


def test_a_command_waits_for_a_clean(filled):
    cleaner = _hold("exclusive", filled)
    cmd = _dockyard("sbom", "--lock", str(filled / "missing.lock"))
    time.sleep(2)
    assert cmd.poll() is None
    cleaner.stdin.close()
    cleaner.wait()
    out = cmd.communicate(timeout=60)[0]
    assert "waiting for `dockyard cache clean` to finish" in out, out
    assert "Traceback" not in out


def test_a_process_using_the_cache_cannot_clean_it(cache):
    with caches.in_use(), pytest.raises(CacheError, match="itself uses"):
        with caches.exclusive():
            pass
