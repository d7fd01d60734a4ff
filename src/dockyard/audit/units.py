"""Byte sizes as people write and read them."""

from __future__ import annotations

import re

from ..errors import AuditError

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9,
          "gb": 10**9, "t": 10**12, "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30,
          "tib": 2**40}


def parse_size(text: str, *, field: str = "--budget") -> int:
    """"20GB" -> 20_000_000_000; "1.5GiB" -> 1610612736."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m[2].lower() not in _UNITS:
        raise AuditError(f"{field}: expected a size like 20GB or 512MiB, got {text!r}",
                         where=field, hint="units: B, KB, MB, GB, TB (powers of 1000) or "
                                           "KiB, MiB, GiB, TiB (powers of 1024)")
    return int(float(m[1]) * _UNITS[m[2].lower()])


def human(n: int) -> str:
    """1234567 -> "1.2 MB" (powers of 1000, as `podman images` shows sizes)."""
    value = float(n)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")
