"""Hostile and broken image archives: a clear error, bounded memory, nothing read outside.

Every archive is made here, byte by byte (dockyard.testing.archives): bombs,
traversal, bad digests, truncation, malformed documents. `dockyard check`
runs as a real process where its peak memory is what is checked.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from dockyard.audit.scan import MEMORY_BUDGET, scan_layer
from dockyard.audit.sources import parse_ref, read_image
from dockyard.errors import AuditError
from dockyard.testing import archives as A

from .procs import DOCKYARD

RSS_LIMIT = 256 << 20


def peak_rss(args: list[str], cwd: Path) -> tuple[int, str, int]:
    """Run ARGS; its exit code, output and its own peak RSS (wait4), in bytes."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=cwd,
                            env={**os.environ, "COLUMNS": "200"})
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, out.decode("utf-8", "replace"), usage.ru_maxrss * 1024


def dockyard_check(target: str, cwd: Path) -> tuple[int, str, int]:
    return peak_rss([*DOCKYARD, "check", target, "--fail-on", "never"], cwd)


def assert_clean_error(code: int, out: str, *needles: str) -> None:
    assert code == 2, out
    assert "Traceback" not in out, out
    assert "error:" in out, out
    for needle in needles:
        assert needle in out, out


# ---- bombs -----------------------------------------------------------------------------

@pytest.mark.parametrize("kind, what", [(b"L", "long name"), (b"K", "long name"),
                                        (b"x", "pax header"), (b"g", "pax header")])
def test_a_gzipped_giant_header_is_refused_in_bounded_memory(tmp_path, kind, what):
    """The issue's case: a 1 GiB long-name header gzipped to 1 MB took 8.4 GB (here 256 MiB,
    enough to need 2 GB the old way)."""
    bomb = A.long_name_bomb(tmp_path / "bomb.tar.gz", 256 << 20, kind)
    assert bomb.stat().st_size < 1 << 20
    for how, make in (("oci-archive", A.oci_archive), ("oci", A.oci_layout)):
        target = tmp_path / f"image-{how}"
        make(target, [bomb.read_bytes()], config=A.config_for([b""]))
        code, out, rss = dockyard_check(f"{how}:{target}", tmp_path)
        assert_clean_error(code, out, what, f"{256 << 20} bytes")
        assert rss < RSS_LIMIT, f"{how}: {rss >> 20} MiB"


def test_a_giant_header_in_the_outer_archive(tmp_path):
    """The long name is in the archive itself, not in a layer."""
    path = tmp_path / "outer.tar"
    name = b"a" * (64 << 20)
    path.write_bytes(A.header("././@LongLink", size=len(name), kind=b"L") + name + A.END)
    code, out, rss = dockyard_check(f"docker-archive:{path}", tmp_path)
    assert_clean_error(code, out, "not a readable image archive", "long name")
    assert rss < RSS_LIMIT


def test_huge_paths_and_many_files_stop_at_the_memory_budget(tmp_path):
    """Paths of 1 MiB each (pax), then: past the budget, a clear error, not a swollen process."""
    blob = tmp_path / "paths.tar.gz"
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(blob, "wb") as out:
        for i in range(MEMORY_BUDGET // (1 << 20) + 20):
            out.write(comp.compress(A.pax({"path": f"{i}/" + "p" * ((1 << 20) - 200)})
                                    + A.header("x", size=0)))
        out.write(comp.compress(A.END) + comp.flush())
    A.oci_layout(tmp_path / "layout", [blob.read_bytes()], config=A.config_for([b""]))
    code, out, rss = dockyard_check(f"oci:{tmp_path / 'layout'}", tmp_path)
    assert_clean_error(code, out, "holds in memory")
    assert rss < RSS_LIMIT, rss >> 20


def test_half_a_million_empty_files_stop_at_the_budget(tmp_path):
    blob = tmp_path / "many.tar.gz"
    comp = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(blob, "wb") as out:
        for i in range(0, 600_000, 1000):
            out.write(comp.compress(b"".join(A.header(f"d/{j}", size=0)
                                             for j in range(i, i + 1000))))
        out.write(comp.compress(A.END) + comp.flush())
    A.oci_layout(tmp_path / "layout", [blob.read_bytes()], config=A.config_for([b""]))
    code, out, rss = dockyard_check(f"oci:{tmp_path / 'layout'}", tmp_path)
    assert_clean_error(code, out, "holds in memory")
    assert rss < RSS_LIMIT, rss >> 20


# ---- malformed tar ---------------------------------------------------------------------

def _scan(data: bytes) -> None:
    scan_layer(io.BytesIO(data), "sha256:test")


@pytest.mark.parametrize("data, needle", [
    (A.header("PaxHeader", size=6, kind=b"x") + b"0 a=b\n".ljust(512, b"\0") + A.END,
     "malformed pax record"),                                   # length 0 looped forever
    (A.header("PaxHeader", size=8, kind=b"x") + b"x a=bcd\n".ljust(512, b"\0") + A.END,
     "malformed pax record"),
    (A.header("PaxHeader", size=8, kind=b"x") + b"99 a=bc\n".ljust(512, b"\0") + A.END,
     "malformed pax record"),
    (A.pax({"size": "-5"}) + A.header("f", size=0) + A.END, "is not a number"),
    (A.pax({"size": "9" * 30}) + A.header("f", size=0) + A.END, "a pax size"),
    (A.header("f", size_field=b"\xff" + b"\xff" * 11) + A.END, "a size of -1"),
    (A.header("f", size=3, checksum=1) + b"abc".ljust(512, b"\0") + A.END, "checksum"),
    (A.header("f", size_field=b"zzzzzzzzzzz\0") + A.END, "bad size field"),
    (A.member("f", b"x" * 1000)[:700], "unexpected end of data"),
    (A.member("f", b"abc")[:300], "ends inside a header"),
    (A.header("././@LongLink", size=2000, kind=b"L") + b"a" * 600, "ends inside an extended"),
    (gzip.compress(A.tar({"a": random.Random(1).randbytes(100_000)}))[:-200],
     "compressed stream ends early"),
    (b"\x1f\x8b" + b"\0" * 100, "readable tar"),
    (b"\x28\xb5\x2f\xfd" + b"\xff" * 100, "corrupt compressed data"),
])
def test_malformed_layers_give_a_clear_error(data, needle):
    with pytest.raises(AuditError, match="is not a readable tar") as err:
        _scan(data)
    assert needle in str(err.value)


# ---- OCI layouts: traversal, digests, documents -----------------------------------------

def _layout(tmp_path, **kw) -> Path:
    tar = A.tar({"etc/hello": b"hello\n"})
    return A.oci_layout(tmp_path / "layout", [A.compress(tar, "gzip")], **kw)


def _read(target: str):
    return read_image(parse_ref(target))


def _index_with(digest: str) -> dict:
    return {"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest,
         "size": 10}]}


@pytest.mark.parametrize("digest", ["sha256:../../../outside/secret", "sha256:" + "A" * 64,
                                    "md5:" + "0" * 32, "sha256:" + "0" * 63, "../index.json",
                                    "sha256:" + "0" * 64 + "/../../x", 42])
def test_a_digest_that_is_not_one_is_refused_before_any_file_is_opened(tmp_path, digest):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text('{"manifests": [], "hostfile": "read"}')
    layout = _layout(tmp_path, index=_index_with(digest))
    with pytest.raises(AuditError, match="which is not one") as err:
        _read(f"oci:{layout}")
    assert "hostfile" not in str(err.value)


def test_a_blob_symlinked_outside_the_layout_is_refused(tmp_path):
    layout = _layout(tmp_path)
    index = json.loads((layout / "index.json").read_text())
    digest = index["manifests"][0]["digest"]
    blob = layout / "blobs" / "sha256" / digest.split(":")[1]
    (tmp_path / "elsewhere.json").write_bytes(blob.read_bytes())
    blob.unlink()
    blob.symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(AuditError, match="leads outside the layout"):
        _read(f"oci:{layout}")


def _manifest_of(layout: Path) -> tuple[Path, dict]:
    index = json.loads((layout / "index.json").read_text())
    path = layout / "blobs" / "sha256" / index["manifests"][0]["digest"].split(":")[1]
    return path, json.loads(path.read_bytes())


def _rewrite_manifest(layout: Path, doc: dict) -> None:
    """Store a new manifest under its own digest and point index.json at it."""
    data = json.dumps(doc).encode()
    digest = A.sha256(data)
    (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    (layout / "index.json").write_text(json.dumps(_index_with(digest)))


@pytest.mark.parametrize("change, needle", [
    (lambda m: m.pop("config"), "names no config"),
    (lambda m: m.pop("layers"), "no list of layers"),
    (lambda m: m.update(layers="nope"), "no list of layers"),
    (lambda m: m.update(config={"size": 3}), "not a descriptor with a digest"),
    (lambda m: m["layers"].append({"digest": "sha256:" + "1" * 64}), "missing from the layout"),
    (lambda m: m["config"].update(digest="sha256:" + "2" * 64), "missing from the layout"),
])
def test_broken_manifests_give_a_clear_error(tmp_path, change, needle):
    layout = _layout(tmp_path)
    _, manifest = _manifest_of(layout)
    change(manifest)
    _rewrite_manifest(layout, manifest)
    with pytest.raises(AuditError, match=needle):
        _read(f"oci:{layout}")


@pytest.mark.parametrize("index, needle", [
    (b"{not json", "index.json is not valid JSON"),
    (b"[1, 2]", "index.json is not a JSON object"),
    (b'{"manifests": []}', "lists no image"),
    (b'{"manifests": {}}', "no list of manifests"),
    (b"{}", "no list of manifests"),
    (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    (b'{"manifests": [{"nodigest": 1}]}', "not a descriptor"),
])
def test_broken_index_json_gives_a_clear_error(tmp_path, index, needle):
    layout = _layout(tmp_path)
    (layout / "index.json").write_bytes(index)
    with pytest.raises(AuditError, match=needle):
        _read(f"oci:{layout}")


def test_an_oversized_document_is_not_read_whole(tmp_path):
    layout = _layout(tmp_path)
    (layout / "index.json").write_bytes(b'{"x": "' + b"a" * (9 << 20) + b'"}')
    with pytest.raises(AuditError, match="larger than 8 MiB"):
        _read(f"oci:{layout}")


def test_indexes_nested_without_end_are_refused(tmp_path):
    layout = _layout(tmp_path)
    digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    for _ in range(6):   # each index points at the one before: deeper than allowed
        data = json.dumps({"schemaVersion": 2, "manifests": [{"digest": digest}]}).encode()
        digest = A.sha256(data)
        (layout / "blobs" / "sha256" / digest[7:]).write_bytes(data)
    (layout / "index.json").write_text(json.dumps(_index_with(digest)))
    with pytest.raises(AuditError, match="nested more than"):
        _read(f"oci:{layout}")


# ---- digests verified while streaming -----------------------------------------------------

def test_a_layer_whose_bytes_do_not_match_the_manifest_stops_the_check(tmp_path):
    good = A.compress(A.tar({"etc/hello": b"hello\n"}), "gzip")
    layout = A.oci_layout(tmp_path / "layout", [good])
    evil = A.compress(A.tar({"etc/hello": b"evil!\n"}), "gzip")
    (layout / "blobs" / "sha256" / A.sha256(good)[7:]).write_bytes(evil)
    code, out, _ = dockyard_check(f"oci:{layout}", tmp_path)
    assert_clean_error(code, out, "does not match its digest", A.sha256(good)[:19])


def test_a_layer_whose_content_does_not_match_the_diff_id_stops_the_check(tmp_path):
    tar = A.tar({"etc/hello": b"hello\n"})
    config = A.config_for([A.tar({"etc/hello": b"other\n"})])
    layout = A.oci_layout(tmp_path / "layout", [A.compress(tar, "gzip")], config=config)
    with pytest.raises(AuditError, match=r"layer 0's content \(diff_id\) does not match"):
        _read(f"oci:{layout}")


def test_archives_check_blob_names_and_diff_ids(tmp_path):
    tar = A.tar({"etc/hello": b"hello\n"})
    ok = A.oci_archive(tmp_path / "ok.tar", [A.compress(tar, "zstd")])
    assert _read(f"oci-archive:{ok}").layers[0].diff_id == A.sha256(tar)
    bad = A.docker_archive(tmp_path / "bad.tar", [tar],
                           config=A.config_for([A.tar({"x": b"y"})]))
    with pytest.raises(AuditError, match="diff_id"):
        _read(f"docker-archive:{bad}")
    ok = A.docker_archive(tmp_path / "ok-docker.tar", [tar])
    assert [e.path for e in _read(f"docker-archive:{ok}").layers[0].entries] == ["/etc/hello"]


def test_an_archive_blob_that_is_not_what_its_name_says(tmp_path):
    tar = A.tar({"etc/hello": b"hello\n"})
    index, files = A.oci_blobs([A.compress(tar, "gzip")])
    config_name = next(n for n, d in files.items() if d.startswith(b'{"architecture"'))
    files[config_name] = files[config_name].replace(b'"User": "1000"', b'"User": "0"   ')
    path = tmp_path / "a.tar"
    path.write_bytes(A.tar({"index.json": json.dumps(index).encode(), **files}))
    with pytest.raises(AuditError, match="does not match its digest"):
        _read(f"oci-archive:{path}")


@pytest.mark.parametrize("manifest, needle", [
    ([], "lists no image"), ([{"Layers": []}], "names no Config"),
    ([{"Config": "c.json"}], "no list of Layers"), ({"a": 1}, "not a JSON array"),
    ([{"Config": "missing.json", "Layers": []}], "the config (missing.json) is missing"),
])
def test_broken_docker_manifests(tmp_path, manifest, needle):
    path = A.docker_archive(tmp_path / "d.tar", [A.tar({"a": b"b"})], manifest=manifest)
    with pytest.raises(AuditError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        _read(f"docker-archive:{path}")


@pytest.mark.parametrize("config, needle", [
    ({"config": {"Env": "PATH=/x"}}, "config.Env is not a list of strings"),
    ({"config": [1]}, "config is not an object"),
    ({"history": [1]}, "history is not a list of objects"),
    ({"rootfs": {"diff_ids": "x"}}, "rootfs.diff_ids is not a list"),
    ({"config": {"User": 0}}, "config.User is not a string"),
])
def test_config_fields_of_the_wrong_type(tmp_path, config, needle):
    layout = A.oci_layout(tmp_path / "layout", [], config=config)
    with pytest.raises(AuditError, match=needle):
        _read(f"oci:{layout}")


def test_every_case_above_is_clean_from_the_command_line(tmp_path):
    """One of the malformed cases through `dockyard check`: a message, exit 2, no traceback."""
    layout = _layout(tmp_path, index=_index_with("sha256:../../../etc/passwd"))
    code, out, _ = dockyard_check(f"oci:{layout}", tmp_path)
    assert_clean_error(code, out, "which is not one", "hint:")
    assert "root:" not in out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__]))
