"""Helpers of the engine-less tests: `dockyard build --engine none` as a call."""

from __future__ import annotations

import re

from dockyard.testing.cli import run_cli


def build(project, base, *extra, ok: bool = True):
    """`dockyard build --engine none ...`: (the image's digest, the output)."""
    code, out = run_cli("build", "--base", base, "--project", str(project), "--engine", "none",
                        *extra)
    if not ok:
        return code, out
    assert code == 0, out
    return re.search(r"assembled\s+(sha256:[0-9a-f]{64})", out).group(1), out
