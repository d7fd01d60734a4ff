"""dockyard.toml -> Settings: the deployment's choices, checked key by key.

Unknown keys are errors that list the valid ones; wrong types say what was
expected (`target.cuda: expected a string like "12.6", got 12.6`).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import SpecError
from ..spec import Index, Settings
from .locate import OriginOf, Path_, format_field, no_positions
from .pep508 import clean_channel, clean_url, safe_text
from .readers import load_toml

FILENAME = "dockyard.toml"
PLATFORMS = ("linux-64", "linux-aarch64", "linux-ppc64le", "osx-64", "osx-arm64", "win-64")
PRIORITIES = ("strict", "flexible", "disabled")
OWNERS = ("conda", "pypi")

_VERSION = re.compile(r"\d+(\.\d+){1,2}")

# table -> key -> (checker, example); None as the key set marks a free-form name -> value table
_Check = Callable[[Any], bool]


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _version(v: Any) -> bool:
    return isinstance(v, str) and bool(_VERSION.fullmatch(v))


def _bool(v: Any) -> bool:
    return isinstance(v, bool)


def _strlist(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


SCHEMA: dict[str, dict[str, tuple[_Check, str]]] = {
    "target": {
        "platform": (lambda v: v in PLATFORMS, f"one of {', '.join(PLATFORMS)}"),
        "python": (_version, 'a string like "3.12"'),
        "glibc": (_version, 'a string like "2.28"'),
        "cuda": (_version, 'a string like "12.6"'),
        "base": (lambda v: _str(v) and bool(v), 'an image reference string like '
                 '"registry.example/cuda12.6-jupyter-py3.13:2026.11"'),
    },
    "install": {
        "groups": (_strlist, 'a list of group names like ["dev"]'),
        "extras": (_strlist, 'a list of extra names like ["gpu"]'),
        "constraints": (_strlist, 'a list of PEP 508 strings like ["pyarrow<26"]'),
        "honour-project-lock": (_bool, "true or false"),
        "unpin": (_strlist, 'a list of package names like ["xesmf"]'),
        "kernel": (_bool, "true or false"),
    },
    "conda": {
        "channels": (_strlist, 'a list of channel names like ["conda-forge"]'),
        "channel-priority": (lambda v: v in PRIORITIES, f"one of {', '.join(PRIORITIES)}"),
        "environment": (lambda v: v is False or (_str(v) and bool(v) and not v.startswith("/")),
                        'a path in the project like "ci/environment.yml", or false'),
    },
    "index": {
        "name": (lambda v: _str(v) and bool(v), 'a name like "pytorch-cu126"'),
        "url": (lambda v: _str(v) and "://" in v, 'a URL like "https://download.pytorch.org/whl/cu126"'),
        "explicit": (_bool, "true or false"),
        "default": (_bool, "true or false"),
    },
    "cuda": {
        "accept-mismatch": (_bool, "true or false"),
    },
    "secrets": {
        "allow": (_strlist, 'a list of paths or globs like ["tests/data/test.key"]'),
    },
}
FREE_TABLES = {
    "sources": ((lambda v: v in OWNERS), '"conda" or "pypi"'),
    "routes": ((lambda v: _str(v) and bool(v)), "the name of an [[index]]"),
}
# Tables read by their own commands (`dockyard cluster`: dockyard.cluster.settings): they say
# where and how the image runs, not what it holds, so they stay out of the lock's inputs.
# [secrets] is read here (build checks it) but allowing a file changes no resolution.
DEPLOYMENT_TABLES = ("cluster", "secrets")
TOP = tuple(dict.fromkeys((*SCHEMA, *FREE_TABLES, *DEPLOYMENT_TABLES)))


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return safe_text(repr(value) if isinstance(value, str) else str(value))


def _fail(path: Path_, message: str, hint: str, origin_of: OriginOf) -> SpecError:
    origin = origin_of(path)
    where = origin.file if origin.line is None else f"{origin.file}:{origin.line}"
    return SpecError(f"{format_field(path)}: {message}", where=where, hint=hint)


def _check(path: Path_, value: Any, check: _Check, expected: str, origin_of: OriginOf) -> Any:
    if not check(value):
        hint = f"write {path[-1]} = {expected.split('like ', 1)[1]}" if "like " in expected \
            else f"use {expected}"
        raise _fail(path, f"expected {expected}, got {_shown(value)}", hint, origin_of)
    return value


def _table(doc: Mapping[str, Any], key: str, origin_of: OriginOf) -> dict[str, Any]:
    table = doc.get(key, {})
    if not isinstance(table, Mapping):
        raise _fail((key,), f"expected a table [{key}], got {_shown(table)}",
                    f"write it as a [{key}] section", origin_of)
    return dict(table)


def _known(path: Path_, table: Mapping[str, Any], valid: tuple[str, ...],
           origin_of: OriginOf) -> None:
    for key in table:
        if key not in valid:
            where = "top level" if not path else f"[{format_field(path)}]"
            raise _fail(path + (key,), f"unknown key {key!r} in the {where}",
                        f"valid keys: {', '.join(valid)}", origin_of)


def parse_settings(doc: Mapping[str, Any], origin_of: OriginOf | None = None) -> Settings:
    """A dockyard.toml mapping -> Settings (pure)."""
    origin_of = origin_of or no_positions(FILENAME)
    _known((), doc, TOP, origin_of)
    values: dict[str, Any] = {}
    for table_name, keys in SCHEMA.items():
        if table_name == "index":
            continue
        table = _table(doc, table_name, origin_of)
        _known((table_name,), table, tuple(keys), origin_of)
        for key, value in table.items():
            values[f"{table_name}.{key}"] = _check((table_name, key), value, *keys[key], origin_of)
    for i, text in enumerate(values.get("install.constraints", [])):
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            raise _fail(("install", "constraints", i), "not a PEP 508 requirement: "
                        f"{safe_text(repr(text))} ({safe_text(str(exc))})",
                        'write it like "pyarrow<26"', origin_of) from None
    free: dict[str, tuple[tuple[str, str], ...]] = {}
    for table_name, (check, expected) in FREE_TABLES.items():
        table = _table(doc, table_name, origin_of)
        free[table_name] = tuple(sorted(
            (canonicalize_name(k), _check((table_name, k), v, check, expected, origin_of))
            for k, v in table.items()))
    indexes = _indexes(doc, origin_of)
    t = {k.split(".", 1)[1]: v for k, v in values.items() if k.startswith("target.")}
    return Settings(
        platform=t.get("platform", "linux-64"),
        python=t.get("python"),
        glibc=t.get("glibc", "2.28"),
        cuda=t.get("cuda"),
        base=t.get("base"),
        groups=tuple(values.get("install.groups", ())),
        extras=tuple(values.get("install.extras", ())),
        constraints=tuple(values.get("install.constraints", ())),
        sources=free["sources"],  # type: ignore[arg-type]
        channels=tuple(clean_channel(c) for c in values.get("conda.channels", ())),
        channel_priority=values.get("conda.channel-priority"),
        indexes=indexes,
        routes=free["routes"],
        honour_project_lock=values.get("install.honour-project-lock", True),
        unpin=tuple(canonicalize_name(n) for n in values.get("install.unpin", ())),
        environment=values.get("conda.environment"),
        kernel=values.get("install.kernel", True),
        accept_cuda_mismatch=values.get("cuda.accept-mismatch", False),
        allow_secrets=tuple(values.get("secrets.allow", ())),
        origin=origin_of(()),
    )


def _indexes(doc: Mapping[str, Any], origin_of: OriginOf) -> tuple[Index, ...]:
    entries = doc.get("index", [])
    if not isinstance(entries, list):
        raise _fail(("index",), "expected [[index]] entries (an array of tables)",
                    "write each index as its own [[index]] section with name and url", origin_of)
    keys = SCHEMA["index"]
    out: list[Index] = []
    for i, entry in enumerate(entries):
        path: Path_ = ("index", i)
        if not isinstance(entry, Mapping):
            raise _fail(path, f"expected a table, got {_shown(entry)}",
                        "write it as an [[index]] section", origin_of)
        _known(path, entry, tuple(keys), origin_of)
        for key in ("name", "url"):
            if key not in entry:
                raise _fail(path, f"an [[index]] needs a {key}",
                            f"add {key} = {keys[key][1].split('like ', 1)[1]}", origin_of)
        for key, value in entry.items():
            _check(path + (key,), value, *keys[key], origin_of)
        if any(x.name == entry["name"] for x in out):
            raise _fail(path + ("name",), f"index name {entry['name']!r} is used twice",
                        "give each [[index]] its own name", origin_of)
        out.append(Index(name=entry["name"], url=clean_url(entry["url"]),
                         explicit=entry.get("explicit", False),
                         default=entry.get("default", False), origin=origin_of(path)))
    return tuple(out)


_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_\-\"' .]+?)\s*\]\]?\s*(#.*)?$")


def lock_digest(text: str, doc: Mapping[str, Any]) -> str:
    """The sha256 the lock's inputs record for dockyard.toml: its bytes without the
    DEPLOYMENT_TABLES, so that editing [cluster] does not make the lock stale. A file
    whose deployment tables cannot be cut out by their headers is hashed whole."""
    if not any(t in doc for t in DEPLOYMENT_TABLES):
        return hashlib.sha256(text.encode()).hexdigest()
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        m = _HEADER.match(line)
        if m:
            top = m[1].split(".", 1)[0].strip().strip("\"'")
            skipping = top in DEPLOYMENT_TABLES
        if not skipping:
            kept.append(line)
    rest = "".join(kept)
    try:
        same = tomllib.loads(rest) == {k: v for k, v in doc.items()
                                       if k not in DEPLOYMENT_TABLES}
    except tomllib.TOMLDecodeError:
        same = False
    return hashlib.sha256((rest if same else text).encode()).hexdigest()


def read_settings(path: Path, name: str | None = None) -> Settings:
    """Read and check a dockyard.toml."""
    loaded = load_toml(Path(path), name or Path(path).name)
    return parse_settings(loaded.doc, loaded.positions)
