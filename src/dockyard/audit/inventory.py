"""RawImage -> Inventory (pure): stack the layers, then find environments, packages, CUDA.

Layers are applied in order as an overlay filesystem would: a later entry
replaces an earlier one, `.wh.NAME` deletes NAME and what is below it,
`.wh..wh..opq` hides a directory's lower content. Whatever is replaced or
deleted still weighs in the image: it is `Removed` (wasted bytes).
"""

from __future__ import annotations

import csv
import io
import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable

from .model import (
    DIR,
    FILE,
    CudaLib,
    Distribution,
    Entry,
    Environment,
    ImageConfig,
    Inventory,
    Kernel,
    Layer,
    RawImage,
    Removed,
    SecretHit,
)

_SITE = re.compile(r"^(?P<prefix>.*?)/lib/python(?P<ver>\d\.\d+)/(?:site|dist)-packages(?:/|$)")
_DEBIAN_SITE = re.compile(r"^(?P<prefix>/usr)/lib/python3/dist-packages(?:/|$)")
_VENV_VERSION = re.compile(r"(?m)^\s*version(?:_info)?\s*=\s*(\d+\.\d+)")
_STDLIB = re.compile(r"^(?P<prefix>.*?)/lib/python(?P<ver>\d\.\d+)/os\.py$")
_CUDA_LIB = re.compile(
    r"^lib(?P<lib>cudart|cublasLt|cublas|cudnn(?:_[a-z_]+)?|cufftw|cufft|curand|cusolverMg|cusolver"
    r"|cusparseLt|cusparse|nccl|nvrtc(?:-builtins)?|nvJitLink|nvToolsExt|cupti|nvblas|npp[a-z]*)"
    r"\.so(?:\.(?P<ver>\d[\d.]*))?$")
_TOOLKIT = re.compile(r"^/usr/local/cuda(?:-(?P<ver>\d+\.\d+))?/")
_TORCH_CUDA = re.compile(r"""^cuda\s*(?::[^=]*)?=\s*['"](?P<ver>[\d.]+)['"]""", re.M)


def normalize_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_inventory(image: RawImage, base: ImageConfig | None = None) -> Inventory:
    base_layers = _base_layers(image.config, base)
    live, removed = _stack(image)
    files = {p: (e.size, layer, e.sha256) for p, (layer, e) in live.items() if e.kind == FILE}
    contents = _contents(image, live)

    layer_wasted: dict[int, int] = defaultdict(int)
    for r in removed:
        layer_wasted[r.layer] += r.size
    created = _created_by(image)
    layers = tuple(
        Layer(index=i, digest=(image.config.diff_ids[i] if i < len(image.config.diff_ids)
                               else scan.digest),
              size=scan.size, wasted=layer_wasted[i],
              files=sum(1 for e in scan.entries if e.kind == FILE),
              created_by=created[i], from_base=i < base_layers)
        for i, scan in enumerate(image.layers))

    envs = _environments(files, contents, base_layers)
    dpkg = dpkg_files(contents)
    dists = _distributions(files, contents, envs, dpkg)
    owners = _owners(files, contents, dists, dpkg)
    return Inventory(
        ref=image.ref, total=sum(x.size for x in layers),
        final=sum(s for s, _, _ in files.values()),
        layers=layers, environments=envs, distributions=dists,
        cuda=_cuda(files, owners, dpkg, toolkit_versions(contents)), removed=tuple(removed),
        kernels=_kernels(files, contents), secrets=_secrets(image, live),
        config=image.config, files=files,
        owners={p: d.name for p, d in owners.items() if p in files},
        torch_cuda=_torch_cuda(contents),
        base=base, base_layers=base_layers,
    )


def _base_layers(config: ImageConfig, base: ImageConfig | None) -> int:
    if base is None:
        return 0
    n = 0
    for a, b in zip(config.diff_ids, base.diff_ids, strict=False):
        if a != b:
            break
        n += 1
    return n if n == len(base.diff_ids) else 0


def _stack(image: RawImage) -> tuple[dict[str, tuple[int, Entry]], list[Removed]]:
    live: dict[str, tuple[int, Entry]] = {}
    children: dict[str, set[str]] = defaultdict(set)
    removed: list[Removed] = []

    def drop(path: str, by: int, how: str) -> None:
        old = live.pop(path, None)
        if old is not None and old[1].size:
            removed.append(Removed(path, old[1].size, old[0], by, how))
        for child in children.pop(path, ()):
            drop(posixpath.join(path, child), by, how)

    for i, scan in enumerate(image.layers):
        for d in scan.opaques:
            for child in list(children.get(d, ())):
                drop(posixpath.join(d, child), i, "deleted")
            children.pop(d, None)
        for path in scan.whiteouts:
            drop(path, i, "deleted")
            children[posixpath.dirname(path)].discard(posixpath.basename(path))
        for entry in scan.entries:
            old = live.get(entry.path)
            if old is not None and not (old[1].kind == DIR and entry.kind == DIR):
                drop(entry.path, i, "overwritten")
            live[entry.path] = (i, entry)
            if entry.path != "/":
                children[posixpath.dirname(entry.path)].add(posixpath.basename(entry.path))
    return live, removed


def _contents(image: RawImage, live: dict[str, tuple[int, Entry]]) -> dict[str, bytes]:
    """The kept small files as the final filesystem shows them."""
    out: dict[str, bytes] = {}
    for i, scan in enumerate(image.layers):
        for path, data in scan.contents.items():
            if live.get(path, (None,))[0] == i:
                out[path] = data
    return out


def _created_by(image: RawImage) -> list[str]:
    steps = [h["created_by"] for h in image.config.history if not h.get("empty_layer")]
    if len(steps) != len(image.layers):
        return [""] * len(image.layers)
    return steps


def _environments(files, contents, base_layers: int) -> tuple[Environment, ...]:
    kinds: dict[str, str] = {}
    for path in contents:
        if "/conda-meta/" in path:
            kinds[path.split("/conda-meta/")[0] or "/"] = "conda"
    pythons: dict[str, set[str]] = defaultdict(set)
    for path, data in contents.items():
        if path.endswith("/pyvenv.cfg"):
            prefix = posixpath.dirname(path) or "/"
            kinds.setdefault(prefix, "venv")
            m = _VENV_VERSION.search(data.decode("utf-8", "replace"))
            if m:
                pythons[prefix].add(m[1])
    roots: dict[str, str] = {p + "/": p for p in kinds}
    for path in files:
        m = _SITE.match(path) or _DEBIAN_SITE.match(path) or _STDLIB.match(path)
        if not m:
            continue
        prefix = m["prefix"] or "/"
        ver = m.groupdict().get("ver") or "3"
        owner = roots.get(prefix + "/") or _longest(prefix + "/", roots)
        if owner is not None and kinds.get(owner) in ("conda", "venv"):
            pythons[owner].add(ver)
            continue
        pythons[prefix].add(ver)
        if prefix not in kinds:
            kinds[prefix] = ("system" if prefix in ("/usr", "/usr/local")
                             else "user" if "/.local" in prefix else "python")
        if kinds[prefix] == "system":
            root = f"{prefix}/lib/python{ver}/" if ver != "3" else "/usr/lib/python3/"
            roots[root] = prefix
        else:
            roots[prefix + "/"] = prefix
    sizes: dict[str, int] = defaultdict(int)
    layers: dict[str, set[int]] = defaultdict(set)
    for path, (size, layer, _) in files.items():
        owner = _longest(path, roots)
        if owner is not None:
            sizes[owner] += size
            layers[owner].add(layer)
    envs = [Environment(prefix=p, kind=k,
                        python=", ".join(sorted(pythons[p] - {"3"} or pythons[p])),
                        size=sizes[p], layers=tuple(sorted(layers[p])),
                        from_base=bool(layers[p]) and min(layers[p]) < base_layers,
                        roots=tuple(sorted(r for r, owner in roots.items() if owner == p)))
            for p, k in kinds.items()]
    return tuple(sorted(envs, key=lambda e: e.prefix))


def _longest(path: str, roots: dict[str, str]) -> str | None:
    """The environment whose root is the deepest ancestor of path."""
    probe = path
    while True:
        cut = probe.rfind("/", 0, len(probe) - 1)
        if cut < 0:
            return None
        probe = probe[: cut + 1]
        if probe in roots:
            return roots[probe]


def file_env(envs: tuple[Environment, ...]) -> Callable[[str], str | None]:
    """path -> prefix of the environment whose bytes it counts in (None: no environment)."""
    roots = {root: e.prefix for e in envs for root in e.roots}
    return lambda path: _longest(path, roots)


def env_of(path: str, envs: tuple[Environment, ...]) -> str:
    best = ""
    for e in envs:
        if (path + "/").startswith(e.prefix.rstrip("/") + "/") and len(e.prefix) > len(best):
            best = e.prefix
    return best


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


def _distributions(files, contents, envs, dpkg) -> tuple[Distribution, ...]:
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
    dists += _system_distributions(files, contents, envs, dpkg)
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


def _system_distributions(files, contents, envs, dpkg) -> list[Distribution]:
    """Python distributions without a RECORD (Debian's python3-*): sized by dpkg's file list."""
    out = []
    for path, data in contents.items():
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


def _owners(files, contents, dists, dpkg) -> dict[str, Distribution]:
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


def toolkit_versions(contents) -> dict[str, str]:
    """/usr/local/cuda-X.Y -> the toolkit's version, from its version.json or version.txt."""
    out = {}
    for path, data in contents.items():
        m = re.match(r"^(/usr/local/cuda[^/]*)/version\.(json|txt)$", path)
        if not m:
            continue
        text = data.decode("utf-8", "replace")
        if m[2] == "json":
            try:
                version = str((json.loads(text).get("cuda") or {}).get("version", ""))
            except (ValueError, AttributeError):
                version = ""
        else:
            found = re.search(r"CUDA Version ([\d.]+)", text)
            version = found[1] if found else ""
        if version:
            out[m[1]] = version
    return out


def _cuda(files, owners, dpkg, toolkits: dict[str, str]) -> tuple[CudaLib, ...]:
    libs = []
    for path, (size, layer, sha) in files.items():
        m = _CUDA_LIB.match(posixpath.basename(path))
        if not m:
            continue
        version = m["ver"] or ""
        owner = owners.get(path)
        toolkit = _TOOLKIT.match(path)
        if owner is not None:
            kind = ("conda" if owner.installer == "conda" else "apt"
                    if owner.installer.startswith("apt:") else "wheel")
            who = f"{kind}:{owner.name}"
            if version.count(".") < 1 and owner.version[:1].isdigit():
                version = owner.version
        elif toolkit:
            who = "toolkit"
            root = path.split("/")[:4]
            if version.count(".") < 1:
                version = toolkits.get("/".join(root)) or toolkit["ver"] or version
        elif path in dpkg:
            who = f"apt:{dpkg[path][0]}"
        else:
            who = "system"
        libs.append(CudaLib(path=path, lib=m["lib"], version=version, owner=who, size=size,
                            sha256=sha, layer=layer))
    return tuple(sorted(libs, key=lambda c: c.path))


def _kernels(files, contents) -> tuple[Kernel, ...]:
    out = []
    for path, data in contents.items():
        if not path.endswith("/kernel.json") or "/kernels/" not in path:
            continue
        try:
            argv = json.loads(data).get("argv") or [""]
        except ValueError:
            argv = [""]
        out.append(Kernel(name=posixpath.basename(posixpath.dirname(path)), path=path,
                          argv0=str(argv[0]), layer=files[path][1]))
    return tuple(sorted(out, key=lambda k: k.path))


def _torch_cuda(contents) -> tuple[tuple[str, str], ...]:
    out = []
    for path, data in contents.items():
        if path.endswith("/torch/version.py"):
            m = _TORCH_CUDA.search(data.decode("utf-8", "replace"))
            if m:
                out.append((path, m["ver"]))
    return tuple(sorted(out))


def _secrets(image: RawImage, live) -> tuple[SecretHit, ...]:
    out = list(image.secrets)
    for i, scan in enumerate(image.layers):
        for hit in scan.secrets:
            path = hit.where.rsplit(":", 1)[0]
            still = live.get(path, (None,))[0] == i
            out.append(SecretHit(hit.kind, hit.where, hit.preview, layer=i, deleted=not still))
    return tuple(out)
