"""The self-extracting script's header: `hostside/header.sh` with the pack's values (pure).

Every value whose size is known only after the payload is written (its size,
its sha256, the pack id, the longest prefix) has a fixed width, so the header
is written first as a blank of the right length and filled in at the end.
"""

from __future__ import annotations

import re
from pathlib import Path

TEMPLATE = Path(__file__).parent / "hostside" / "header.sh"
_WIDTH = {"PAYLOAD_SIZE": 16, "MAX_PREFIX": 4, "PAYLOAD_OFFSET": 12}


def _value(key: str, value: str | int) -> str:
    text = str(value)
    if key in _WIDTH:
        if len(text) > _WIDTH[key]:
            raise ValueError(f"{key}={text} is wider than {_WIDTH[key]}")
        return text.ljust(_WIDTH[key])  # trailing blanks end a sh assignment harmlessly
    if not re.fullmatch(r"[A-Za-z0-9._+-]*", text):
        raise ValueError(f"{key}={text!r} has characters a sh header cannot carry")
    return text


def render_header(fields: dict[str, str | int]) -> bytes:
    """The header's bytes; PAYLOAD_OFFSET (its own length) is filled in here."""
    text = TEMPLATE.read_text()
    for key, value in fields.items():
        text = text.replace(f"@{key}@", _value(key, value))
    blank = text.replace("@PAYLOAD_OFFSET@", " " * _WIDTH["PAYLOAD_OFFSET"])
    length = len(blank.encode())
    out = text.replace("@PAYLOAD_OFFSET@", _value("PAYLOAD_OFFSET", length)).encode()
    left = re.findall(rb"@[A-Z_]+@", out)
    if left:
        raise ValueError(f"header fields not given: {left}")
    return out
