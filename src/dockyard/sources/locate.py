"""Where things are in a file: 1-based lines for dotted paths.

tomllib gives values but no positions, so `toml_positions` scans the text of
a file tomllib has already accepted and records the line of every key, table
header and array element, keyed by path: ``("project", "dependencies", 3)``.
`yaml_positions` does the same from PyYAML's node marks. `Positions` turns a
path into an `Origin` for the parsers (``pyproject.toml:22 (project.dependencies[3])``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from ..spec import Origin

Path_ = tuple[str | int, ...]
OriginOf = Callable[[Path_], Origin]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def format_field(path: Path_) -> str:
    """``("tool", "poetry", "source", 0, "url")`` -> ``tool.poetry.source[0].url``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = part if _BARE.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += f".{text}" if out else text
    return out


class Positions:
    """An `OriginOf` for one file: the line of a path, or of its nearest known parent."""

    def __init__(self, file: str, lines: Mapping[Path_, int] | None = None):
        self.file = file
        self.lines = dict(lines or {})

    def line(self, path: Path_) -> int | None:
        for end in range(len(path), -1, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return None

    def __call__(self, path: Path_) -> Origin:
        return Origin(self.file, self.line(path), format_field(path) or None)


def no_positions(file: str) -> Positions:
    """Origins naming the file and field only: what pure parser tests use."""
    return Positions(file)


# --- TOML ---------------------------------------------------------------------------------


def _unescape(raw: str) -> str:
    if "\\" not in raw:
        return raw
    try:
        return str(json.loads(f'"{raw}"'))
    except ValueError:
        return raw


class _TomlScanner:
    """Just enough TOML to know where keys and array elements start.

    Runs only on text that tomllib accepted, so it never reports errors; if
    something unexpected shows up it stops and keeps what it found.
    """

    def __init__(self, text: str):
        self.t = text
        self.i = 0
        self.line = 1
        self.pos: dict[Path_, int] = {}
        self.aot: dict[tuple[str, ...], int] = {}  # array-of-tables key -> current index
        self.counts: dict[Path_, int] = {}  # array-of-tables path -> elements so far

    def mark(self, path: Path_, line: int) -> None:
        """`path` starts at `line`; implicit parents (dotted keys, headers) start there too."""
        for end in range(1, len(path) + 1):
            self.pos.setdefault(path[:end], line)

    def peek(self, k: int = 1) -> str:
        return self.t[self.i : self.i + k]

    def adv(self, n: int = 1) -> None:
        chunk = self.t[self.i : self.i + n]
        self.line += chunk.count("\n")
        self.i += len(chunk)

    def skip(self, newlines: bool) -> None:
        while self.i < len(self.t):
            c = self.t[self.i]
            if c in " \t\r" or (newlines and c == "\n"):
                self.adv()
            elif c == "#":
                end = self.t.find("\n", self.i)
                self.adv((len(self.t) if end < 0 else end) - self.i)
            else:
                return

    def string(self) -> str:
        quote = self.t[self.i]
        multi = self.peek(3) == quote * 3
        close = quote * 3 if multi else quote
        self.adv(3 if multi else 1)
        start = self.i
        while self.i < len(self.t):
            if quote == '"' and self.t[self.i] == "\\":
                self.adv(2)
                continue
            if self.peek(len(close)) == close:
                text = self.t[start : self.i]
                self.adv(len(close))
                if multi:  # up to two extra quotes may belong to the string
                    while self.peek() == quote:
                        self.adv()
                return text
            self.adv()
        return self.t[start:]

    def key(self) -> tuple[str, ...]:
        parts: list[str] = []
        while True:
            self.skip(newlines=False)
            c = self.peek()
            if c in ('"', "'"):
                raw = self.string()
                parts.append(_unescape(raw) if c == '"' else raw)
            else:
                m = _BARE.match(self.t, self.i)
                if not m:
                    raise ValueError("no key")
                parts.append(m.group())
                self.adv(m.end() - self.i)
            self.skip(newlines=False)
            if self.peek() != ".":
                return tuple(parts)
            self.adv()

    def value(self, path: Path_) -> None:
        self.skip(newlines=False)
        c = self.peek()
        if c in ('"', "'"):
            self.string()
        elif c == "[":
            self.adv()
            index = 0
            while True:
                self.skip(newlines=True)
                if self.peek() in ("]", ""):
                    self.adv()
                    return
                self.pos[path + (index,)] = self.line
                self.value(path + (index,))
                index += 1
                self.skip(newlines=True)
                if self.peek() == ",":
                    self.adv()
        elif c == "{":
            self.adv()
            while True:
                self.skip(newlines=True)
                if self.peek() in ("}", ""):
                    self.adv()
                    return
                line = self.line
                sub = path + self.key()
                self.skip(newlines=False)
                self.adv()  # "="
                self.mark(sub, line)
                self.value(sub)
                self.skip(newlines=True)
                if self.peek() == ",":
                    self.adv()
        else:
            m = re.compile(r"[^,\]}\n#]*").match(self.t, self.i)
            assert m is not None
            self.adv(m.end() - self.i)

    def table(self, key: tuple[str, ...]) -> Path_:
        """Header key -> path, with the current index of every array of tables on the way."""
        out: list[str | int] = []
        for end in range(1, len(key) + 1):
            out.append(key[end - 1])
            index = self.aot.get(key[:end])
            if index is not None and end < len(key):
                out.append(index)
        return tuple(out)

    def document(self) -> dict[Path_, int]:
        table: Path_ = ()
        while True:
            self.skip(newlines=True)
            if self.i >= len(self.t):
                return self.pos
            line = self.line
            before = self.i
            if self.peek() == "[":
                array = self.peek(2) == "[["
                self.adv(2 if array else 1)
                key = self.key()
                self.adv(2 if array else 1)
                if array:
                    parent = self.table(key)
                    index = self.counts.get(parent, -1) + 1
                    self.counts[parent] = self.aot[key] = index
                    table = parent + (index,)
                else:
                    table = self.table(key)
                self.mark(table, line)
                self.pos[table] = line
            else:
                path = table + self.key()
                self.skip(newlines=False)
                self.adv()  # "="
                self.mark(path, line)
                self.value(path)
            if self.i == before:
                return self.pos


def toml_positions(text: str) -> dict[Path_, int]:
    """Line of every key, header and array element in valid TOML text."""
    scanner = _TomlScanner(text)
    try:
        return scanner.document()
    except (ValueError, IndexError):  # not expected on valid TOML; keep what we have
        return scanner.pos


# --- YAML ---------------------------------------------------------------------------------


def yaml_positions(node: Any) -> dict[Path_, int]:
    """Line of every mapping key and sequence item under a composed PyYAML node."""
    import yaml  # type: ignore[import-untyped]

    out: dict[Path_, int] = {}
    seen: set[int] = set()   # an alias is walked once: `&a [*a, *a]` chains grow as 9**n
    todo: list[tuple[Any, Path_]] = [(node, ())] if node is not None else []
    if node is not None:
        out[()] = node.start_mark.line + 1
    while todo:   # iterative: a deeply nested document must not overflow the stack
        n, path = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                sub = path + (str(k.value),)
                out.setdefault(sub, k.start_mark.line + 1)
                todo.append((v, sub))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                out[path + (index,)] = item.start_mark.line + 1
                todo.append((item, path + (index,)))
    return out
