"""The payload writer: deterministic bytes, the placeholder found, links kept, no bytecode."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile

from dockyard.pack.archive import PayloadWriter

PH = "/ph_" + "x" * 28


def _tree(root):
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_text(f"#!{PH}/bin/python3.12\nprint(1)\n")
    (root / "bin" / "tool").chmod(0o775)
    (root / "lib").mkdir()
    (root / "lib" / "libx.so").write_bytes(b"\x7fELF\0" + PH.encode() + b"/lib\0\0")
    (root / "lib" / "plain.txt").write_text("no prefix here\n")
    os.link(root / "lib" / "libx.so", root / "lib" / "libx.so.1")
    os.symlink(f"{root}/lib/plain.txt", root / "lib" / "abs-link")
    os.symlink("plain.txt", root / "lib" / "rel-link")
    (root / "lib" / "__pycache__").mkdir()
    (root / "lib" / "__pycache__" / "m.cpython-312.pyc").write_bytes(b"\0")
    (root / "lib" / "m.pyc").write_bytes(b"\0")


def _pack(root, threads=2):
    buf = io.BytesIO()
    w = PayloadWriter(buf, level=1, threads=threads)
    summary = w.add_tree(root, PH)
    w.add_file(".dockyard/x", b"y")
    w.close()
    return buf.getvalue(), summary


def test_same_tree_same_bytes_whatever_the_threads(tmp_path):
    _tree(tmp_path / "a")
    _tree(tmp_path / "b")
    os.utime(tmp_path / "b" / "bin" / "tool", (1, 1))
    one, s1 = _pack(tmp_path / "a", threads=1)
    two, s2 = _pack(tmp_path / "b", threads=2)
    assert one == two and s1.content_id == s2.content_id


def test_placeholder_files_links_and_no_bytecode(tmp_path):
    _tree(tmp_path / "t")
    data, summary = _pack(tmp_path / "t")
    marked = {m.path: (m.mode, m.shebang) for m in summary.marked}
    assert marked == {"bin/tool": ("text", True), "lib/libx.so": ("binary", False),
                      "lib/libx.so.1": ("binary", False)}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert not [n for n in members if n.endswith(".pyc") or "__pycache__" in n]
    assert members["lib/abs-link"].linkname == "plain.txt"  # made relative: survives a move
    assert members["lib/libx.so.1"].islnk() and members["lib/libx.so.1"].linkname == "lib/libx.so"
    tool = members["bin/tool"]
    assert (tool.mode, tool.uid, tool.uname, tool.mtime) == (0o755, 0, "", 315532800)


def test_multi_member_gzip_reads_with_tar_and_gzip(tmp_path):
    _tree(tmp_path / "t")
    big = tmp_path / "t" / "big.bin"
    big.write_bytes(os.urandom(20 << 20))  # more than two gzip members
    data, _ = _pack(tmp_path / "t")
    (tmp_path / "p.tar.gz").write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    subprocess.run(f"gzip -dc {tmp_path}/p.tar.gz | tar -xf - -C {out}", shell=True, check=True)
    assert (out / "big.bin").read_bytes() == big.read_bytes()
    assert (out / "lib" / "rel-link").resolve() == (out / "lib" / "plain.txt")
