"""Builder images in a Podman storage of the test's own: listed with what they add to their
base, removed by `dockyard cache clean`, and nothing else removed."""

from __future__ import annotations

import json

import pytest

from dockyard import caches
from dockyard.audit.units import human
from dockyard.engines import get_engine
from dockyard.testing.cli import run_cli

pytestmark = pytest.mark.podman
BUILDER = "localhost/dockyard-builder"


def _build(podman, tmp_path, tag: str, *, label: str | None, size: int = 100_000,
           parent: str = "scratch", again: str = "") -> str:
    ctx = tmp_path / (tag.replace("/", "_").replace(":", "_") + again)
    ctx.mkdir()
    (ctx / "data").write_bytes(bytes(range(256)) * (size // 256))
    lines = [f"FROM {parent}", "COPY data /data-" + ctx.name]
    if label:   # last: from scratch, podman records no parent of a step's image
        lines.append(f"LABEL io.dockyard.builder={label}")
    (ctx / "Containerfile").write_text("\n".join(lines) + "\n")
    done = podman.check("build", "-q", "-t", tag, str(ctx), what="build")
    return done.stdout.strip().splitlines()[-1]


def _ids(podman) -> dict[str, list[str]]:
    images = json.loads(podman.cli("images", "-a", "--format", "json").stdout or "[]")
    return {i["Id"][:12]: i.get("Names") or [] for i in images}


def test_builder_images_are_listed_and_cleaned_and_others_kept(cache, tmp_path):
    podman = get_engine("podman")
    assert not _ids(podman), "not the test's own storage"
    base = _build(podman, tmp_path, "localhost/test/base:1", label=None, size=300_000)
    ours = _build(podman, tmp_path, f"{BUILDER}/app:aaa", label="app", size=2_000_000,
                  parent="localhost/test/base:1")
    user_named = _build(podman, tmp_path, "localhost/mine/builder:1", label="app2")
    no_label = _build(podman, tmp_path, f"{BUILDER}/fake:1", label=None)
    in_use = _build(podman, tmp_path, f"{BUILDER}/busy:bbb", label="busy")
    # an interrupted build's builder: labelled, untagged
    dangling = _build(podman, tmp_path, f"{BUILDER}/old:ccc", label="old", size=50_000)
    _build(podman, tmp_path, f"{BUILDER}/old:ccc", label="old", size=60_000, again="2")
    assert podman.exists(dangling) and not podman.inspect(dangling).get("RepoTags")
    container = podman.check("create", "--name", "dockyard-cache-test-busy",
                             f"{BUILDER}/busy:bbb", "/bin/true").stdout.strip()

    found = caches.survey(podman)
    builders = next(c for c in found.caches if c.name == "builders")
    by_name = {e.name: e for e in builders.entries}
    assert set(by_name) == {"app:aaa", "busy:bbb", "old:ccc",
                            f"{dangling[:12]} (untagged, old)"}
    assert 1_900_000 < by_name["app:aaa"].size < 2_100_000     # over its base, not with it
    assert 50_000 < by_name[f"{dangling[:12]} (untagged, old)"].size < 100_000
    code, out = run_cli("cache", width=200)
    assert code == 0 and f"podman: {BUILDER}/*" in out, out

    code, out = run_cli("cache", "clean")
    assert code == 0, out
    assert "kept busy:bbb (an image a container or another name uses)" in out, out
    left = _ids(podman)
    assert ours[:12] not in left and dangling[:12] not in left
    for keep in (base, user_named, no_label, in_use):
        assert keep[:12] in left, (keep, left)
    freed = sum(e.size for e in builders.entries if e.name != "busy:bbb")
    assert f"builders: {human(freed)} freed" in out and freed > 2_000_000, out
    podman.cli("rm", "-f", container)


def test_build_ends_with_the_caches_size_when_large(cache, monkeypatch):
    from dockyard.cli import cache as cache_cli
    from dockyard.testing.cli import recording_ui

    (cache / "artifacts" / "x").mkdir(parents=True)
    (cache / "artifacts" / "x" / "a.conda").write_bytes(b"x" * 300_000)
    ui, out, _ = recording_ui()
    cache_cli.mention_if_large(ui, get_engine("podman"))
    assert out.export_text() == ""                             # 2 GB: not yet
    monkeypatch.setattr(cache_cli, "LARGE", 100_000)
    ui, out, _ = recording_ui()
    cache_cli.mention_if_large(ui, get_engine("podman"))
    said = out.export_text()
    assert "dockyard's caches hold 3" in said and " kB (" in said, said
    assert "`dockyard cache clean`" in said, said


def test_no_engine_lists_files_only(cache, monkeypatch):
    (cache / "probes").mkdir(parents=True)
    (cache / "probes" / "p.txt").write_text("x")
    monkeypatch.setenv("PATH", "/nonexistent")
    code, out = run_cli("cache")
    assert code == 0 and "probes/" in out and "podman" not in out, out
