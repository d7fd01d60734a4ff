"""Installed distributions (pure): dist-info RECORDs, conda-meta records, Debian's dpkg lists.

Each distribution's bytes are the sizes, in the final filesystem, of the files
its own record lists: nothing is guessed from directory names.
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re

from .model import Distribution, Environment


def env_of(path: str, envs: tuple[Environment, ...]) -> str:
    best = ""
    for e in envs:
        if (path + "/").startswith(e.prefix.rstrip("/") + "/") and len(e.prefix) > len(best):
            best = e.prefix
    return best


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _record_paths(site: str, record: bytes) -> list[str]:
    rows = csv.reader(io.StringIO(record.decode("utf-8", "replace")))
    return [posixpath.normpath(posixpath.join(site, row[0])) for row in rows if row and row[0]]


def _metadata(data: bytes | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (data or b"").decode("utf-8", "replace").splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version"):
            out.setdefault(key, value.strip())
    return out


def _conda_files(path: str, data: bytes) -> tuple[dict, list[str]]:
    prefix = path.split("/conda-meta/")[0]
    try:
        doc = json.loads(data)
    except ValueError:
        return {}, []
    rel = doc.get("files") or [p.get("_path", "") for p in
                               (doc.get("paths_data") or {}).get("paths", [])]
    return doc, [posixpath.normpath(posixpath.join(prefix or "/", f)) for f in rel if f]


def distributions(files, contents, envs, dpkg) -> tuple[Distribution, ...]:
    dists: list[Distribution] = []
    conda_owned: set[str] = set()
    for path, data in contents.items():
        if "/conda-meta/" not in path or not path.endswith(".json"):
            continue
        doc, paths = _conda_files(path, data)
        if not doc.get("name"):
            continue
        conda_owned.update(paths)
        present = [p for p in paths if p in files]
        dists.append(Distribution(
            name=normalize_name(doc["name"]), version=str(doc.get("version", "")),
            env=env_of(path, envs), installer="conda",
            size=sum(files[p][0] for p in present), files=len(present),
            layer=files[path][1], where=path))
    for path, data in contents.items():
        if not path.endswith(".dist-info/RECORD") or not _installed(path):
            continue
        info = posixpath.dirname(path)
        installer = (contents.get(info + "/INSTALLER") or b"").decode("utf-8", "replace").strip()
        if path in conda_owned or installer == "conda":
            continue
        meta = _metadata(contents.get(info + "/METADATA"))
        stem = posixpath.basename(info)[: -len(".dist-info")]
        name, _, version = stem.partition("-")
        paths = set(_record_paths(posixpath.dirname(info), data))
        present = [p for p in paths if p in files]
        dists.append(Distribution(
            name=normalize_name(meta.get("Name", name)), version=meta.get("Version", version),
            env=env_of(info, envs), installer=installer or "unknown",
            size=sum(files[p][0] for p in present), files=len(present),
            layer=files[path][1], where=info))
    dists += _system_distributions(files, contents, envs, dpkg, conda_owned)
    return tuple(sorted(dists, key=lambda d: (-d.size, d.name, d.env)))


def _installed(meta_path: str) -> bool:
    """Metadata right inside a site directory is an installed distribution; metadata
    deeper down (setuptools/_vendor/packaging-*.dist-info) is a vendored copy."""
    parts = meta_path.split("/")
    i = next((k for k, part in enumerate(parts) if part.endswith((".dist-info", ".egg-info"))),
             None)
    return i is not None and i > 0 and parts[i - 1] in ("site-packages", "dist-packages")


def dpkg_files(contents) -> dict[str, tuple[str, list[str]]]:
    """Debian packages' file lists: path -> (package, its files), from /var/lib/dpkg/info."""
    owner: dict[str, tuple[str, list[str]]] = {}
    for path, data in contents.items():
        if path.startswith("/var/lib/dpkg/info/") and path.endswith(".list"):
            pkg = posixpath.basename(path)[: -len(".list")].split(":")[0]
            listed = [line for line in data.decode("utf-8", "replace").splitlines() if line]
            for p in listed:
                owner.setdefault(p, (pkg, listed))
    return owner


def _system_distributions(files, contents, envs, dpkg,
                          conda_owned: frozenset[str] | set[str] = frozenset(),
                          ) -> list[Distribution]:
    """Python distributions without a RECORD (Debian's python3-*): sized by dpkg's file list.

    A dist-info or egg-info that a conda record lists is that conda package's metadata
    (conda packages often ship one without RECORD), not a second install."""
    out = []
    for path, data in contents.items():
        if path in conda_owned:
            continue
        if path.endswith(".dist-info/METADATA"):
            info = posixpath.dirname(path)
            if info + "/RECORD" in contents:
                continue
        elif path.endswith(".egg-info/PKG-INFO"):
            info = posixpath.dirname(path)
        elif path.endswith(".egg-info"):
            info = path
        else:
            continue
        if not _installed(path):
            continue
        meta = _metadata(data)
        stem = posixpath.basename(info).rsplit(".", 1)[0]
        name, _, version = stem.partition("-")
        pkg, listed = dpkg.get(info, ("", []))
        present = [p for p in listed if p in files]
        out.append(Distribution(
            name=normalize_name(meta.get("Name", name)), version=meta.get("Version", version),
            env=env_of(info, envs), installer=f"apt:{pkg}" if pkg else "unknown",
            size=sum(files[p][0] for p in present), files=len(present),
            layer=files[path][1], where=info))
    return out


def owners_of(files, contents, dists, dpkg) -> dict[str, Distribution]:
    """Which distribution owns each file (for CUDA libraries' owners and versions)."""
    by_where = {d.where: d for d in dists}
    owners: dict[str, Distribution] = {}
    for d in dists:
        if d.installer.startswith("apt:"):
            for p in dpkg.get(d.where, ("", []))[1]:
                owners[p] = d
    for path, data in contents.items():
        if path in by_where and "/conda-meta/" in path:
            for p in _conda_files(path, data)[1]:
                owners[p] = by_where[path]
        elif path.endswith(".dist-info/RECORD") and posixpath.dirname(path) in by_where:
            info = posixpath.dirname(path)
            for p in _record_paths(posixpath.dirname(info), data):
                owners.setdefault(p, by_where[info])
    return owners
