"""Inventories against the lock and against each other (pure): differences by role and host.

    compare(members, lock=None, reference=None, ignore=()) -> Comparison

A `Member` is one process whose environment was inventoried (by
`dockyard.cluster.inventory.inventory`, wherever it ran): its role
("client", "scheduler", "worker", "host", ...), where it runs (a hostname, a
worker's address) and the inventory document, or the error that kept it
from being taken. Each member is compared

- with the lock (when given): the interpreter (the conda `python` record, or
  the lock's target minor version for a venv of the base's Python), every
  locked conda package (version, build, channel), every locked PyPI
  distribution (version; the commit of a git dependency), and any
  distribution the lock does not account for (the project's own packages,
  installed from a local directory or archive, excepted);
- with the reference member (the client, when given): the full Python
  version, the image's lock file (its sha256: an older image shows here),
  every distribution (version, commit, and the content hash of its RECORD
  when the versions agree: the project's own package rebuilt at another
  commit shows here) and every conda record.

A difference seen against both is one row, carrying both expectations. What
a light role leaves out by design (its inventory's `left_out`) is a note,
not a difference. Used by `dockyard cluster check` and by deploy's proof on
hosts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from packaging.version import InvalidVersion, Version

from ..lock.model import Lock
from ..plan.model import APP_DIR

ROLE_ORDER = {"client": 0, "scheduler": 1, "worker": 2, "host": 3}
OWN_SOURCES = ("dir", "editable", "archive")  # built from a local tree: the project's own


@dataclass(frozen=True, slots=True)
class Member:
    role: str
    host: str
    inventory: Mapping[str, Any] | None
    error: str = ""  # why there is no inventory

    @property
    def label(self) -> str:
        return f"{self.role} {self.host}"


@dataclass(frozen=True, slots=True)
class Difference:
    role: str
    host: str
    package: str  # a distribution or conda package, or "python", "lock", "inventory"
    what: str  # missing, extra, version, build, channel, commit, content, python, lock, ...
    found: str  # what this member has ("-" when absent)
    lock: str = ""  # what the lock says ("" when not compared with the lock)
    reference: str = ""  # what the reference member has ("" when not compared with it)
    detail: str = ""

    @property
    def key(self) -> tuple[int, str, str, str, str]:
        return (ROLE_ORDER.get(self.role, 9), self.role, self.host, self.package, self.what)


@dataclass(frozen=True, slots=True)
class Comparison:
    members: tuple[Member, ...]
    differences: tuple[Difference, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.differences

    def by_member(self) -> dict[tuple[str, str], list[Difference]]:
        out: dict[tuple[str, str], list[Difference]] = {}
        for d in self.differences:
            out.setdefault((d.role, d.host), []).append(d)
        return out


def _same_version(a: str, b: str) -> bool:
    if a == b:
        return True
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return False


def _channel(url: str, subdir: str = "") -> str:
    from .inventory import clean_url

    url = clean_url(url).rstrip("/")
    for tail in (subdir, "noarch", "linux-64", "linux-aarch64", "osx-64", "osx-arm64", "win-64"):
        if tail and url.endswith("/" + tail):
            url = url[: -len(tail) - 1]
    return url


def _dists(inv: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {d["name"]: d for d in inv.get("distributions", ())}


def _conda(inv: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {r["name"]: r for r in inv.get("conda", ())}


def _dist_text(d: Mapping[str, Any] | None) -> str:
    if d is None:
        return "-"
    commit = f" @{d['commit'][:12]}" if d.get("commit") else ""
    return f"{d.get('version', '')}{commit}"


def _is_own(d: Mapping[str, Any]) -> bool:
    return d.get("source") in OWN_SOURCES or d.get("location", "").startswith(APP_DIR)


def _python(inv: Mapping[str, Any]) -> str:
    return str(inv.get("python", {}).get("version", ""))


def against_lock(member: Member, lock: Lock) -> list[Difference]:
    """What `member` has that the lock does not say, and the reverse."""
    inv = member.inventory or {}
    dists, conda = _dists(inv), _conda(inv)
    left_out = set(inv.get("left_out", ()))
    out: list[Difference] = []

    def diff(package: str, what: str, found: str, expected: str, detail: str = "") -> None:
        out.append(Difference(member.role, member.host, package, what, found, lock=expected,
                              detail=detail))

    conda_python = next((p for p in lock.by_owner("conda") if p.name == "python"), None)
    py = _python(inv)
    if conda_python is None and lock.target.python:
        want = ".".join(lock.target.python.split(".")[:2])
        if ".".join(py.split(".")[:2]) != want:
            diff("python", "python", py or "-", want + ".*")
    provided: set[str] = set()
    for p in lock.packages:
        if p.owner == "conda":
            provided |= set(p.provides) | {p.name}
            rec = conda.get(p.name)
            if rec is None:
                if p.name not in left_out:
                    diff(p.name, "missing", "-", f"{p.version} {p.build}".strip(), "conda")
                continue
            if rec["version"] != p.version:
                diff(p.name, "version", rec["version"], p.version, "conda")
            elif p.build and rec.get("build") and rec["build"] != p.build:
                diff(p.name, "build", rec["build"], p.build, "conda")
            want = _channel(p.source, p.subdir)
            have = _channel(rec.get("channel", ""), rec.get("subdir", ""))
            if want and have and want != have:
                diff(p.name, "channel", have, want, "conda")
            continue
        provided.add(p.name)
        d = dists.get(p.name)
        if d is None:
            if p.name not in left_out:
                diff(p.name, "missing", "-", _lock_text(p.version, p.commit))
            continue
        if not _same_version(d.get("version", ""), p.version):
            diff(p.name, "version", _dist_text(d), _lock_text(p.version, p.commit))
        elif p.commit and d.get("commit") and d["commit"] != p.commit:
            diff(p.name, "commit", _dist_text(d), _lock_text(p.version, p.commit))
    for name, d in dists.items():
        if name in provided or d.get("installer") == "conda" or _is_own(d):
            continue
        diff(name, "extra", _dist_text(d), "-", "not in the lock")
    return out


def _lock_text(version: str, commit: str) -> str:
    return f"{version} @{commit[:12]}" if commit else version


def against(member: Member, ref: Member) -> list[Difference]:
    """What differs between `member`'s environment and the reference's."""
    inv, rinv = member.inventory or {}, ref.inventory or {}
    left_out = set(inv.get("left_out", ()))
    out: list[Difference] = []

    def diff(package: str, what: str, found: str, expected: str, detail: str = "") -> None:
        out.append(Difference(member.role, member.host, package, what, found,
                              reference=expected, detail=detail))

    if _python(inv) != _python(rinv):
        diff("python", "python", _python(inv) or "-", _python(rinv) or "-")
    mine, theirs = inv.get("lock"), rinv.get("lock")
    if (mine or {}).get("sha256") != (theirs or {}).get("sha256"):
        diff("lock", "lock", _lock_label(mine), _lock_label(theirs),
             "built from another lock: an older image?")
    dists, rdists = _dists(inv), _dists(rinv)
    for name in sorted(set(dists) | set(rdists)):
        d, r = dists.get(name), rdists.get(name)
        if d is None:
            if name not in left_out:
                diff(name, "missing", "-", _dist_text(r), _own_detail(r))
            continue
        if r is None:
            diff(name, "extra", _dist_text(d), "-", _own_detail(d))
            continue
        if not _same_version(d.get("version", ""), r.get("version", "")):
            diff(name, "version", _dist_text(d), _dist_text(r), _own_detail(r))
        elif d.get("commit") != r.get("commit"):
            diff(name, "commit", _dist_text(d), _dist_text(r), _own_detail(r))
        elif d.get("record") and r.get("record") and d["record"] != r["record"]:
            diff(name, "content", _short(d["record"]), _short(r["record"]),
                 "same version, other files (rebuilt from other sources?)")
    conda, rconda = _conda(inv), _conda(rinv)
    for name in sorted(set(conda) | set(rconda)):
        c, r = conda.get(name), rconda.get(name)
        if c is None and name in left_out:
            continue
        if c is None or r is None:
            diff(name, "missing" if c is None else "extra", _conda_text(c), _conda_text(r), "conda")
        elif (c["version"], c.get("build")) != (r["version"], r.get("build")):
            diff(name, "version" if c["version"] != r["version"] else "build",
                 _conda_text(c), _conda_text(r), "conda")
        elif _channel(c.get("channel", ""), c.get("subdir", "")) != \
                _channel(r.get("channel", ""), r.get("subdir", "")):
            diff(name, "channel", c.get("channel", ""), r.get("channel", ""), "conda")
    return out


def _conda_text(rec: Mapping[str, Any] | None) -> str:
    return f"{rec['version']} {rec.get('build', '')}".strip() if rec else "-"


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def _lock_label(doc: Mapping[str, Any] | None) -> str:
    if not doc:
        return "-"
    return "inputs " + _short(doc.get("inputs_hash", "") or doc.get("sha256", ""))


def _own_detail(d: Mapping[str, Any] | None) -> str:
    if d and _is_own(d):
        return "the project's own package"
    if d and d.get("source") in ("git", "vcs"):
        return "git dependency"
    return ""


def _merge(diffs: Iterable[Difference]) -> list[Difference]:
    merged: dict[tuple, Difference] = {}
    for d in diffs:
        k = (d.role, d.host, d.package, d.what)
        if k in merged:
            m = merged[k]
            d = replace(m, lock=m.lock or d.lock, reference=m.reference or d.reference,
                        detail=m.detail or d.detail)
        merged[k] = d
    return sorted(merged.values(), key=lambda d: d.key)


def compare(members: Iterable[Member], lock: Lock | None = None, reference: Member | None = None,
            ignore: Iterable[str] = ()) -> Comparison:
    """Every member against the lock and the reference; `ignore` names packages to skip."""
    from .inventory import canonical

    members = tuple(members)
    skip = {canonical(n) for n in ignore}
    diffs: list[Difference] = []
    notes: list[str] = []
    for m in members:
        if m.inventory is None:
            diffs.append(Difference(m.role, m.host, "inventory", "unreachable", "-",
                                    detail=m.error or "no inventory"))
            continue
        if lock is not None:
            diffs += against_lock(m, lock)
        if reference is not None and reference is not m and reference.inventory is not None:
            diffs += against(m, reference)
        left = m.inventory.get("left_out", ())
        if left:
            notes.append(f"{m.label} leaves out {len(left)} distributions by design "
                         f"(a light {m.role}): {', '.join(left[:8])}"
                         + (", ..." if len(left) > 8 else ""))
        for err in m.inventory.get("errors", ()):
            notes.append(f"{m.label}: could not read {err}")
        for s in m.inventory.get("shadowed", ()):
            notes.append(f"{m.label}: {s['name']} {s['version']} in {s['location']} is "
                         "shadowed by an earlier copy on sys.path")
    diffs = [d for d in diffs if d.package not in skip]
    return Comparison(members, tuple(_merge(diffs)), tuple(notes))


__all__ = ["Comparison", "Difference", "Member", "against", "against_lock", "compare"]
