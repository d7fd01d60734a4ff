"""`dockyard check` end to end: exit codes, JSON, HTML in a real headless Chromium, no secret."""

from __future__ import annotations

import io
import json
import shutil
import subprocess

import pytest
from rich.console import Console

from dockyard.cli import main
from dockyard.cli.ui import Ui

from .images import TOKEN

pytestmark = pytest.mark.podman


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    ui = Ui(console=Console(file=out, width=200), err=Console(file=err, width=200))
    code = main(argv, ui)
    return code, out.getvalue() + err.getvalue()


@pytest.fixture(scope="module")
def outputs(naive, debian_trixie, tmp_path_factory):
    tag, _ = naive
    where = tmp_path_factory.mktemp("check")
    code, text = run(["check", tag, "--base", debian_trixie, "--cuda", "12.6", "--budget", "20GB",
                      "--json", str(where / "findings.json"), "--html", str(where / "report.html")])
    return code, text, where


def test_exit_code_and_terminal_report(outputs):
    code, text, _ = outputs
    assert code == 1
    for expected in ("Layers", "Environments", "Largest distributions", "CUDA libraries",
                     "numpy is installed in 3 environments", "CMD differs from the base's",
                     "https://***@pypi.example.org"):
        assert expected in text
    assert TOKEN not in text


def test_json_shape_and_no_secret(outputs):
    _, _, where = outputs
    raw = (where / "findings.json").read_text()
    assert TOKEN not in raw
    data = json.loads(raw)
    assert data["schema"] == "dockyard-check/1"
    assert data["summary"]["errors"] == sum(f["severity"] == "error" for f in data["findings"])
    assert data["summary"]["budget_bytes"] == 20_000_000_000
    assert {f["code"] for f in data["findings"]} >= {
        "duplicate-distribution", "duplicate-file", "cache", "secret", "runs-as-root",
        "cmd-changed", "cuda-mismatch", "wasted-bytes"}
    assert len(data["layers"]) == 9 and data["layers"][0]["from_base"]


def test_fail_on_and_usage_errors(naive):
    tag, _ = naive
    assert run(["check", tag, "--fail-on", "never"])[0] == 0
    code, text = run(["check", tag, "--budget", "twenty gigs"])
    assert code == 2 and "--budget" in text
    code, text = run(["check", "localhost/dockyard-test/no-such-image:1"])
    assert code == 2 and "not in podman storage" in text
    code, text = run(["check", "oci-archive:/nonexistent.tar"])
    assert code == 2 and "no such archive" in text


def _colours(png, rows: int = 700) -> int:
    """Distinct colours in the top `rows` of an 8-bit RGB(A) PNG, decoded with zlib alone."""
    import struct
    import zlib

    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, bpp = 8, b"", 0, 4
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8: pos + 8 + length]
        if kind == b"IHDR":
            width, _, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (2, 6)
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for row in range(min(rows, len(raw) // (stride + 1))):
        kind = raw[row * (stride + 1)]
        line = bytearray(raw[row * (stride + 1) + 1: (row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 255
            elif kind == 4:
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[i] = (line[i] + pred) & 255
        if row % 10 == 0:
            colours.update(bytes(line[i:i + 3]) for i in range(0, stride, bpp * 4))
        prev = line
    return len(colours)


@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is not installed")
def test_html_renders_the_treemap_in_headless_chromium(outputs, tmp_path):
    _, _, where = outputs
    page = where / "report.html"
    text = page.read_text()
    assert TOKEN not in text
    for outside in ("<script src", "<link", "@import", "url(http"):   # opens offline
        assert outside not in text
    flags = ["chromium", "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,1000"]
    png = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={png}", page.as_uri()], check=True,
                   capture_output=True, timeout=120)
    assert png.stat().st_size > 20_000
    assert _colours(png) >= 8
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], check=True, capture_output=True,
                         text=True, timeout=120).stdout
    rendered = dom.count('class="leaf"') + dom.count('class="group"')
    assert rendered >= 10
    assert "numpy" in dom and "layer 0 (base)" in dom
