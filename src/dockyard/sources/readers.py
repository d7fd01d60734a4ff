"""The edge: read a file, turn decode errors into SpecErrors naming file, line and fix.

Everything after this module works on plain mappings and strings.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SpecError
from .locate import Positions, toml_positions, yaml_positions
from .pep508 import safe_text

MAX_FILE = 64 << 20   # the largest lock files (pixi, conda-lock, many platforms) are ~20 MB
_TOML_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOML_EOF = re.compile(r"\(at end of document\)")


@dataclass(frozen=True, slots=True)
class Loaded:
    """One file as read: its document, where each path sits, and its bytes' hash."""

    name: str  # relative to the project root (what messages and Origins show)
    doc: Any
    positions: Positions
    sha256: str
    text: str


def _read_text(path: Path, name: str) -> tuple[str, str]:
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_FILE + 1)
    except FileNotFoundError:
        raise SpecError("file not found", where=name, hint=f"check the path {path}") from None
    except OSError as exc:
        raise SpecError(f"cannot read the file: {exc.strerror}", where=name,
                        hint="check its permissions") from None
    if len(raw) > MAX_FILE:
        raise SpecError(f"larger than {MAX_FILE >> 20} MiB: not a project file dockyard reads",
                        where=name, hint="is it the right file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError("not UTF-8 text", where=f"{name}:{line}",
                        hint="save the file as UTF-8") from None
    return text, hashlib.sha256(raw).hexdigest()


def load_text(path: Path, name: str | None = None) -> Loaded:
    name = name or path.name
    text, digest = _read_text(path, name)
    return Loaded(name, text, Positions(name), digest, text)


def _toml_hint(what: str) -> str:
    if "overwrite" in what or "declare" in what.lower():
        return "a key or table is defined twice: keep one of them"
    return ("fix the TOML syntax there: a missing quote, comma or bracket is the usual "
            "cause, and inline tables { ... } must fit on one line")


def loads_toml(text: str, name: str) -> Any:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise SpecError("not valid TOML: arrays or tables nested too deeply", where=name,
                        hint="no project file nests that deep: is it the right file?") from None
    except tomllib.TOMLDecodeError as exc:
        raw = str(exc)
        m = _TOML_AT.search(raw)
        what = safe_text(_TOML_AT.sub("", _TOML_EOF.sub("", raw)).strip())
        line = getattr(exc, "lineno", None) or (int(m[1]) if m else None)
        col = getattr(exc, "colno", None) or (int(m[2]) if m else None)
        lines = text.splitlines()
        if line and not _TOML_EOF.search(raw):
            where = f"{name}:{line}"
            detail = f"{what} at column {col}"
            if line <= len(lines) and lines[line - 1].strip():
                detail += f": {safe_text(lines[line - 1].strip())!r}"
        else:
            where, detail = name, f"{what} at the end of the file"
        raise SpecError(f"not valid TOML: {detail}", where=where, hint=_toml_hint(what)) from None


def read_toml(path: Path, name: str | None = None) -> Any:
    """The document of a TOML file; a syntax error becomes a SpecError at its line."""
    return load_toml(path, name).doc


def load_toml(path: Path, name: str | None = None) -> Loaded:
    """A TOML file with the positions of its keys (see `read_toml`)."""
    name = name or path.name
    text, digest = _read_text(path, name)
    doc = loads_toml(text, name)
    return Loaded(name, doc, Positions(name, toml_positions(text)), digest, text)


def loads_yaml(text: str, name: str) -> tuple[Any, Positions]:
    import yaml  # type: ignore[import-untyped]

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        doc = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = safe_text(" ".join(p for p in (exc.context, exc.problem) if p))
        where = f"{name}:{line}" if line else name
        if _cut_off(text):
            raise SpecError(
                "not valid YAML: the file starts in the middle of a list, so it looks cut off "
                f"(the parser says: {problem})", where=where,
                hint="restore its first lines: the top-level keys (`name:`, `channels:`) are "
                     "missing, as when a file is pasted without its beginning") from None
        raise SpecError(f"not valid YAML: {problem}", where=where,
                        hint="fix the YAML syntax there: check the indentation, and that every "
                             "list item starts with '- ' under its key") from None
    except yaml.YAMLError as exc:
        raise SpecError(f"not valid YAML: {safe_text(str(exc))}", where=name,
                        hint="fix the YAML syntax") from None
    except RecursionError:
        raise SpecError("not valid YAML: lists or mappings nested too deeply", where=name,
                        hint="no project file nests that deep: is it the right file?") from None
    return doc, Positions(name, yaml_positions(node))


def _cut_off(text: str) -> bool:
    """The first content line is indented or a list item: the top of the file is missing."""
    first = next((raw for raw in text.splitlines()
                  if raw.strip() and not raw.lstrip().startswith("#")), "")
    return first[:1] in (" ", "\t") or first.startswith("- ")


def read_yaml(path: Path, name: str | None = None) -> Any:
    """The document of a YAML file; a syntax error becomes a SpecError at its line."""
    return load_yaml(path, name).doc


def load_yaml(path: Path, name: str | None = None) -> Loaded:
    """A YAML file with the positions of its keys (see `read_yaml`)."""
    name = name or path.name
    text, digest = _read_text(path, name)
    doc, positions = loads_yaml(text, name)
    return Loaded(name, doc, positions, digest, text)


def yaml_document(text: str, name: str) -> Any:
    """A large YAML document (a conda or pixi lock) without positions: C loader when present."""
    import yaml  # type: ignore[import-untyped]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        raise SpecError(f"not valid YAML: {safe_text(str(getattr(exc, 'problem', exc)))}",
                        where=where, hint="regenerate the lock file with its tool") from None
