"""dockyard.lock: the one lock across conda and PyPI.

A TOML file, versioned, sorted and deterministic: `dumps(lock)` gives the
same bytes for the same lock. `loads` validates what it reads back (the one
model in dockyard that comes from disk and so needs checking).

Shape:

    version = 1
    inputs-hash = "sha256:..."
    [target]     platform, python, glibc, cuda, virtual-packages
    [[source]]   channels and indexes used (credentials never stored)
    [[package]]  name, version, owner ("conda"|"pypi"), reason, provides,
                 build/subdir (conda), commit (git), [[package.artifact]] url+sha256
    [[note]]     decisions worth telling (tools dropped, sources chosen)
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, replace
from typing import Any, Literal

import tomli_w

from ..errors import LockError
from ..redact import has_credentials

LOCK_VERSION = 1
LOCK_FILENAME = "dockyard.lock"


@dataclass(frozen=True, slots=True)
class Artifact:
    url: str
    sha256: str
    filename: str = ""


@dataclass(frozen=True, slots=True)
class LockedPackage:
    name: str  # conda name (owner conda) or canonical PyPI name (owner pypi)
    version: str
    owner: Literal["conda", "pypi"]
    source: str  # channel URL, index URL, or git URL
    reason: str  # why this owner: "environment.yml:5", "dependency of esmpy", ...
    artifacts: tuple[Artifact, ...] = ()
    build: str = ""  # conda build string
    subdir: str = ""  # conda subdir (linux-64, noarch)
    commit: str = ""  # git dependencies: the full commit hash
    provides: tuple[str, ...] = ()  # PyPI distributions a conda package installs
    depends: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # project groups that asked for it (empty: transitive)

    @property
    def key(self) -> tuple[str, str]:
        return (self.owner, self.name)


@dataclass(frozen=True, slots=True)
class Target:
    platform: str = "linux-64"
    python: str = ""  # full version of the interpreter in the lock, e.g. "3.12.11"
    glibc: str = "2.28"
    cuda: str = ""
    virtual_packages: tuple[str, ...] = ()  # "__glibc=2.28", "__cuda=12.6", ...


@dataclass(frozen=True, slots=True)
class Source:
    kind: Literal["channel", "index"]
    name: str
    url: str


@dataclass(frozen=True, slots=True)
class Note:
    subject: str  # a package name or "*"
    message: str


@dataclass(frozen=True, slots=True)
class Lock:
    inputs_hash: str
    target: Target
    packages: tuple[LockedPackage, ...] = ()
    sources: tuple[Source, ...] = ()
    notes: tuple[Note, ...] = ()
    version: int = LOCK_VERSION

    def by_owner(self, owner: str) -> tuple[LockedPackage, ...]:
        return tuple(p for p in self.packages if p.owner == owner)

    def get(self, name: str) -> LockedPackage | None:
        """Find a package by conda name, PyPI name, or a PyPI distribution it provides."""
        for p in self.packages:
            if p.name == name or name in p.provides:
                return p
        return None

    def normalized(self) -> Lock:
        """Sorted everywhere, so serialization is deterministic."""
        pkgs = tuple(
            sorted(
                (
                    replace(
                        p,
                        artifacts=tuple(sorted(p.artifacts, key=lambda a: a.url)),
                        provides=tuple(sorted(set(p.provides))),
                        depends=tuple(sorted(set(p.depends))),
                        groups=tuple(sorted(set(p.groups))),
                    )
                    for p in self.packages
                ),
                key=lambda p: (p.name, p.owner),
            )
        )
        return replace(
            self,
            packages=pkgs,
            sources=tuple(sorted(set(self.sources), key=lambda s: (s.kind, s.name, s.url))),
            notes=tuple(sorted(set(self.notes), key=lambda n: (n.subject, n.message))),
            target=replace(
                self.target, virtual_packages=tuple(sorted(self.target.virtual_packages))
            ),
        )


def hash_inputs(parts: dict[str, bytes]) -> str:
    """sha256 over sorted (name, content) pairs: the lock's fingerprint of its inputs."""
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(name.encode() + b"\0" + hashlib.sha256(parts[name]).digest())
    return "sha256:" + h.hexdigest()


def _drop_empty(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v not in ("", (), [], None)}


def dumps(lock: Lock) -> str:
    lock = lock.normalized()
    doc: dict[str, Any] = {
        "version": lock.version,
        "inputs-hash": lock.inputs_hash,
        "target": _drop_empty(
            {
                "platform": lock.target.platform,
                "python": lock.target.python,
                "glibc": lock.target.glibc,
                "cuda": lock.target.cuda,
                "virtual-packages": list(lock.target.virtual_packages),
            }
        ),
        "source": [{"kind": s.kind, "name": s.name, "url": s.url} for s in lock.sources],
        "package": [
            _drop_empty(
                {
                    "name": p.name,
                    "version": p.version,
                    "owner": p.owner,
                    "build": p.build,
                    "subdir": p.subdir,
                    "source": p.source,
                    "commit": p.commit,
                    "reason": p.reason,
                    "groups": list(p.groups),
                    "provides": list(p.provides),
                    "depends": list(p.depends),
                    "artifact": [
                        _drop_empty({"url": a.url, "sha256": a.sha256, "filename": a.filename})
                        for a in p.artifacts
                    ],
                }
            )
            for p in lock.packages
        ],
        "note": [{"subject": n.subject, "message": n.message} for n in lock.notes],
    }
    text = tomli_w.dumps(_drop_empty(doc))
    if has_credentials(text):  # a programmer bug upstream: never write one
        raise LockError("refusing to write a lock that contains credentials in a URL")
    return "# dockyard.lock: generated by `dockyard lock`; do not edit.\n" + text


def _need(table: dict[str, Any], key: str, kind: type, where: str) -> Any:
    value = table.get(key)
    if not isinstance(value, kind):
        raise LockError(
            f"field {key!r} missing or not a {kind.__name__}",
            where=where,
            hint="regenerate it with `dockyard lock`",
        )
    return value


def loads(text: str, filename: str = LOCK_FILENAME) -> Lock:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise LockError(f"not valid TOML: {exc}", where=filename,
                        hint="regenerate it with `dockyard lock`") from None
    version = _need(doc, "version", int, filename)
    if version != LOCK_VERSION:
        raise LockError(
            f"lock version {version} is not supported (this dockyard reads {LOCK_VERSION})",
            where=filename, hint="regenerate it with `dockyard lock`",
        )
    t = doc.get("target", {})
    target = Target(
        platform=t.get("platform", "linux-64"), python=t.get("python", ""),
        glibc=t.get("glibc", "2.28"), cuda=t.get("cuda", ""),
        virtual_packages=tuple(t.get("virtual-packages", ())),
    )
    packages = []
    for i, p in enumerate(doc.get("package", [])):
        where = f"{filename} (package[{i}])"
        owner = _need(p, "owner", str, where)
        if owner not in ("conda", "pypi"):
            raise LockError(f"owner must be 'conda' or 'pypi', got {owner!r}", where=where)
        packages.append(
            LockedPackage(
                name=_need(p, "name", str, where),
                # a path dependency's version is whatever its folder builds: none is locked
                version=(str(p.get("version", "")) if str(p.get("source", "")).startswith(
                    "path:") else _need(p, "version", str, where)),
                owner=owner, source=p.get("source", ""), reason=p.get("reason", ""),
                artifacts=tuple(
                    Artifact(_need(a, "url", str, where), _need(a, "sha256", str, where),
                             a.get("filename", ""))
                    for a in p.get("artifact", [])
                ),
                build=p.get("build", ""), subdir=p.get("subdir", ""), commit=p.get("commit", ""),
                provides=tuple(p.get("provides", ())), depends=tuple(p.get("depends", ())),
                groups=tuple(p.get("groups", ())),
            )
        )
    return Lock(
        version=version,
        inputs_hash=_need(doc, "inputs-hash", str, filename),
        target=target,
        packages=tuple(packages),
        sources=tuple(Source(s["kind"], s["name"], s["url"]) for s in doc.get("source", [])),
        notes=tuple(Note(n["subject"], n["message"]) for n in doc.get("note", [])),
    )


def empty(target: Target | None = None) -> Lock:
    return Lock(inputs_hash="", target=target or Target(), packages=(), sources=(), notes=())


__all__ = [
    "Artifact", "LOCK_FILENAME", "LOCK_VERSION", "Lock", "LockedPackage", "Note", "Source",
    "Target", "dumps", "empty", "hash_inputs", "loads",
]
