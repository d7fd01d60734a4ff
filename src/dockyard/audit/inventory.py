"""RawImage -> Inventory (pure): stack the layers, then find environments, packages, CUDA.

Layers are applied in order as an overlay filesystem would: a later entry
replaces an earlier one, `.wh.NAME` deletes NAME and what is below it,
`.wh..wh..opq` hides a directory's lower content. Whatever is replaced or
deleted still weighs in the image: it is `Removed` (wasted bytes).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from collections.abc import Callable

from .cudalibs import cuda_libraries, toolkit_versions, torch_cuda
from .model import (
    DIR,
    FILE,
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
from .packages import distributions, dpkg_files, env_of, normalize_name, owners_of

__all__ = ["build_inventory", "env_of", "file_env", "normalize_name"]

_SITE = re.compile(r"^(?P<prefix>.*?)/lib/python(?P<ver>\d\.\d+)/(?:site|dist)-packages(?:/|$)")
_DEBIAN_SITE = re.compile(r"^(?P<prefix>/usr)/lib/python3/dist-packages(?:/|$)")
_VENV_VERSION = re.compile(r"(?m)^\s*version(?:_info)?\s*=\s*(\d+\.\d+)")
_STDLIB = re.compile(r"^(?P<prefix>.*?)/lib/python(?P<ver>\d\.\d+)/os\.py$")


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
    dists = distributions(files, contents, envs, dpkg)
    owners = owners_of(files, contents, dists, dpkg)
    return Inventory(
        ref=image.ref, total=sum(x.size for x in layers),
        final=sum(s for s, _, _ in files.values()),
        layers=layers, environments=envs, distributions=dists,
        cuda=cuda_libraries(files, owners, dpkg, toolkit_versions(contents)),
        removed=tuple(removed),
        kernels=_kernels(files, contents), secrets=_secrets(image, live),
        config=image.config, files=files,
        owners={p: d.name for p, d in owners.items() if p in files},
        torch_cuda=torch_cuda(contents),
        base=base, base_layers=base_layers,
        sbom=contents.get("/opt/dockyard/sbom.cdx.json", b""),
        world_writable=tuple(sorted(
            (p, layer) for p, (layer, e) in live.items()
            if e.kind in (FILE, DIR) and e.mode & 0o002 and not e.mode & 0o1000)),
        accounts={p: contents[p] for p in ("/etc/passwd", "/etc/group") if p in contents},
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
    # parent -> its children's paths: the same string objects as live's keys (no copies;
    # a child deleted or replaced since stays listed, and dropping it again does nothing)
    children: dict[str, set[str]] = defaultdict(set)
    removed: list[Removed] = []

    def drop(path: str, by: int, how: str) -> None:
        todo = [path]
        while todo:   # iterative: a hostile image may nest directories very deep
            p = todo.pop()
            old = live.pop(p, None)
            if old is not None and old[1].size:
                removed.append(Removed(p, old[1].size, old[0], by, how))
            todo.extend(children.pop(p, ()))

    for i, scan in enumerate(image.layers):
        for d in scan.opaques:
            for child in children.pop(d, ()):
                drop(child, i, "deleted")
        for path in scan.whiteouts:
            drop(path, i, "deleted")
        for entry in scan.entries:
            old = live.get(entry.path)
            if old is not None and not (old[1].kind == DIR and entry.kind == DIR):
                drop(entry.path, i, "overwritten")
            live[entry.path] = (i, entry)
            if entry.path != "/":
                children[posixpath.dirname(entry.path)].add(entry.path)
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


def _secrets(image: RawImage, live) -> tuple[SecretHit, ...]:
    out = list(image.secrets)
    for i, scan in enumerate(image.layers):
        for hit in scan.secrets:
            path = hit.where.rsplit(":", 1)[0]
            still = live.get(path, (None,))[0] == i
            out.append(SecretHit(hit.kind, hit.where, hit.preview, layer=i, deleted=not still))
    return tuple(out)
