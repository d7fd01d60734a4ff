"""Facts about a base image read from its layers, for machines without an engine.

`probe_layers(ref)` reads the base's layers once (tar headers, whiteouts
applied, a few small files kept), writes what the probe script would have
printed inside a container (`probe.script`), and parses it with the same
`parse_facts`: /etc/os-release, /etc/passwd and /etc/group, glibc (from the
libc's own version string or dpkg), every Python on PATH and under /opt and
/usr/local with its version (pyvenv.cfg, dpkg, or the interpreter's version
string), `jupyter` with its shebang and its data paths as jupyter_core
computes them, CUDA roots and libraries, tools on PATH. Nothing runs: the
user the image runs as comes from its USER and its passwd. Cached by the
base's manifest digest.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import BuildError
from ..probe import BaseFacts, parse_facts
from ..render.stage import cache_dir
from .base import BaseImage, open_base

_KEEP_EXACT = {"etc/os-release", "usr/lib/os-release", "etc/passwd", "etc/group",
               "var/lib/dpkg/status", "usr/local/cuda/version.json"}
_CUDA_LIB = re.compile(r"^usr/local/cuda[^/]*/(lib64|targets/[^/]+/lib)/lib[^/]*\.so\.[^/]*$|"
                       r"^usr/lib/x86_64-linux-gnu/lib(cudnn|nccl)[^/]*\.so\.[^/]*$")
_TOOLS = ("uv", "pip", "pip3", "conda", "mamba", "micromamba", "gcc", "cc", "git")


def _keep(path: str, size: int) -> bool:
    if path in _KEEP_EXACT or path.endswith("/pyvenv.cfg"):
        return True
    name = posixpath.basename(path)
    if name == "jupyter" and "/bin/" in f"/{path}":
        return True
    if re.fullmatch(r"libc(-[\d.]+)?\.so(\.6)?", name) and size < 16 << 20:
        return True
    return bool(re.fullmatch(r"python3(\.\d+)?", name) and size < 64 << 20
                and "/bin/" in f"/{path}")


def _norm(name: str) -> str:
    """A tar member's name as a path from the image's root, without a leading / or ./"""
    return posixpath.normpath(name.lstrip("./")).lstrip("/")


def _under(paths, folder: str) -> list[str]:
    """Those of `paths` inside `folder` (not `folder` itself)."""
    below = folder + "/"
    return [p for p in paths if p.startswith(below)]


def _open_tar(stream) -> tarfile.TarFile:
    """A layer's tar as a stream: plain, zstd or gzip read across all its members
    (`audit.scan.open_layer`; tarfile's own "r|gz" stops after the first member)."""
    from ..audit.scan import open_layer

    return tarfile.open(fileobj=open_layer(stream), mode="r|")


class _Tree:
    """The merged filesystem's entries (type, link target) and the small files kept."""

    def __init__(self, keep=None) -> None:
        self.keep = keep or _keep
        self.entries: dict[str, tuple[str, str]] = {}
        self.data: dict[str, bytes] = {}
        self.dirs: dict[str, tuple[int, int, int]] = {}  # folder -> (mode, uid, gid)
        # every folder that has (or had) something below it: only those are searched for
        # what a removal takes with it (a search of every entry for each of an
        # environment's 13,000 files took minutes)
        self.parents: set[str] = set()

    def _add(self, path: str, entry: tuple[str, str]) -> None:
        self.entries[path] = entry
        parent = posixpath.dirname(path)
        while parent and parent not in self.parents:
            self.parents.add(parent)
            parent = posixpath.dirname(parent)

    def _remove(self, path: str, keep_self: bool = False) -> None:
        doomed = [] if keep_self else [path]
        if path in self.parents:
            doomed += _under(self.entries, path)
        for p in doomed:
            self.entries.pop(p, None)
            self.data.pop(p, None)
            self.dirs.pop(p, None)

    def add_layer(self, stream) -> None:
        with _open_tar(stream) as tar:
            self.add_members(tar)

    def add_members(self, tar: tarfile.TarFile) -> None:
        for m in tar:
            path = _norm(m.name)
            base = posixpath.basename(path)
            parent = posixpath.dirname(path)
            if base == ".wh..wh..opq":
                self._remove(parent, keep_self=True)
                continue
            if base.startswith(".wh."):
                self._remove(posixpath.join(parent, base[4:]))
                continue
            if m.isdir():
                self._add(path, ("dir", ""))
                self.dirs[path] = (m.mode & 0o7777, m.uid, m.gid)
                continue
            self._remove(path)
            if m.issym():
                self._add(path, ("link", m.linkname))
            elif m.islnk():
                target = _norm(m.linkname)
                self._add(path, self.entries.get(target, ("file", "")))
                if target in self.data:
                    self.data[path] = self.data[target]
            elif m.isfile():
                self._add(path, ("file", ""))
                if self.keep(path, m.size):
                    f = tar.extractfile(m)
                    self.data[path] = f.read() if f else b""

    def resolve(self, path: str, depth: int = 0) -> str:
        """`path` with every symlink in it followed (like readlink -f)."""
        parts = path.strip("/").split("/")
        done = ""
        for i, part in enumerate(parts):
            cur = posixpath.join(done, part) if done else part
            kind, target = self.entries.get(cur, ("", ""))
            if kind == "link" and depth < 40:
                nxt = target.lstrip("/") if target.startswith("/") else \
                    posixpath.normpath(posixpath.join(done, target))
                rest = "/".join(parts[i + 1:])
                return self.resolve(posixpath.join(nxt, rest) if rest else nxt, depth + 1)
            done = cur
        return done

    def exists(self, path: str) -> bool:
        return self.resolve(path) in self.entries

    def read(self, path: str) -> bytes | None:
        return self.data.get(self.resolve(path))

    def listdir(self, path: str) -> list[str]:
        top = self.resolve(path)
        return sorted(p[len(top) + 1:] for p in self.entries
                      if p.startswith(top + "/") and "/" not in p[len(top) + 1:])


def _dpkg_versions(status: bytes | None) -> dict[str, str]:
    out = {}
    for block in (status or b"").decode("utf-8", "replace").split("\n\n"):
        fields = dict(re.findall(r"^(Package|Version): (.*)$", block, re.M))
        if "Package" in fields and "Version" in fields:
            out[fields["Package"]] = fields["Version"]
    return out


def _python_version(tree: _Tree, path: str, real: str, dpkg: dict[str, str]) -> str:
    minor = re.search(r"python(\d+\.\d+)", real) or re.search(r"python(\d+\.\d+)", path)
    prefix = posixpath.dirname(posixpath.dirname(path))
    cfg = tree.read(f"{prefix}/pyvenv.cfg")
    if cfg:
        m = re.search(rb"^(?:version_info|version)\s*=\s*(\d+\.\d+\.\d+)", cfg, re.M)
        if m:
            return m.group(1).decode()
    if minor and real.startswith("usr/bin/"):
        v = dpkg.get(f"python{minor.group(1)}-minimal") or dpkg.get(f"python{minor.group(1)}")
        if v:
            return re.match(r"\d+\.\d+\.\d+", v).group(0) if re.match(r"\d+\.\d+\.\d+", v) else ""
    data = tree.data.get(real, b"")
    libs = [p for p in tree.data if "libpython" in p]
    for blob in [data] + [tree.data[p] for p in libs]:
        for m in re.finditer(rb"\x00(3\.\d+\.\d+)(?:\+)?\x00", blob):
            v = m.group(1).decode()
            if not minor or v.startswith(minor.group(1) + "."):
                return v
    return ""


def _output(tree: _Tree, config: dict) -> str:
    conf = config.get("config") or {}
    env = dict(e.partition("=")[::2] for e in conf.get("Env") or [])
    path_dirs = [d.strip("/") for d in env.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(":")
                 if d]
    out = ["@@os", (tree.read("etc/os-release") or tree.read("usr/lib/os-release")
                    or b"").decode("utf-8", "replace")]
    out.append("@@glibc")
    libc = next((p for p in ("lib/x86_64-linux-gnu/libc.so.6", "lib64/libc.so.6",
                             "usr/lib64/libc.so.6", "lib/libc.so.6") if tree.exists(p)), "")
    data = tree.read(libc) if libc else None
    m = re.search(rb"release version (\d+\.\d+)", data or b"")
    dpkg = _dpkg_versions(tree.read("var/lib/dpkg/status"))
    if m:
        out.append(f"ldd (GNU libc) {m.group(1).decode()}")
    elif dpkg.get("libc6"):
        out.append(f"glibc {dpkg['libc6']}")
    out.append("@@libc")
    out += [f"/{p}" for p in ("lib/x86_64-linux-gnu/libc.so.6", "lib64/libc.so.6",
                              "usr/lib64/libc.so.6", "lib/libc.so.6") if tree.exists(p)]
    out += [f"/lib/{n}" for n in tree.listdir("lib") if n.startswith("ld-musl")]
    user = str(conf.get("User") or "")
    name_or_uid, _, group = user.partition(":")
    passwd = (tree.read("etc/passwd") or b"").decode("utf-8", "replace")
    users = [line.split(":") for line in passwd.splitlines() if line.count(":") >= 6]
    entry = next((u for u in users if name_or_uid and name_or_uid in (u[0], u[2])), None) \
        if name_or_uid else next((u for u in users if u[2] == "0"), None)
    uid = entry[2] if entry else (name_or_uid if name_or_uid.isdigit() else "0")
    gid = group if group.isdigit() else entry[3] if entry else "0"
    home = entry[5] if entry else "/"
    out += ["@@id", f"uid={uid}", f"gid={gid}", f"name={entry[0] if entry else ''}",
            f"home={env.get('HOME', home)}", "@@passwd", passwd, "@@group",
            (tree.read("etc/group") or b"").decode("utf-8", "replace"), "@@pythons"]
    cands: list[str] = []
    for d in path_dirs:
        cands += [f"{d}/{n}" for n in tree.listdir(d) if re.fullmatch(r"python(3(\.\d+)?)?", n)]
    for top in ("opt", "usr/local", "usr"):
        for sub in tree.listdir(top) if top == "opt" else [""]:
            bindir = f"{top}/{sub}/bin" if sub else f"{top}/bin"
            cands += [f"{bindir}/{n}" for n in tree.listdir(bindir)
                      if re.fullmatch(r"python3(\.\d+)?", n)]
    seen = set()
    for c in cands:
        if c in seen:
            continue
        seen.add(c)
        real = tree.resolve(c)
        if tree.entries.get(real, ("", ""))[0] != "file":
            continue
        version = _python_version(tree, c, real, dpkg)
        if version:
            prefix = posixpath.dirname(posixpath.dirname(c))
            out.append(f"/{c}\t/{real}\t{version}\t/{prefix}")
    jupyter = next((f"{d}/jupyter" for d in path_dirs if tree.exists(f"{d}/jupyter")), "")
    if jupyter:
        first = (tree.read(jupyter) or b"").split(b"\n", 1)[0].decode("utf-8", "replace")
        out += ["@@jupyter", f"path=/{jupyter}", f"shebang={first}", "@@jupyter-paths"]
        py = first[2:].strip().split()[-1] if first.startswith("#!") else ""
        prefix = posixpath.dirname(posixpath.dirname(py)) if py else ""
        data = [d for d in env.get("JUPYTER_PATH", "").split(":") if d]
        user = [f"{env.get('HOME', home).rstrip('/')}/.local/share/jupyter"]
        own = [f"{prefix}/share/jupyter"] if prefix else []
        # jupyter_core puts its environment's path first in a venv or an activated conda env
        prefer = env.get("JUPYTER_PREFER_ENV_PATH", "").lower()
        env_first = prefer not in ("", "0", "false", "no", "off") if prefer else bool(
            prefix and (tree.exists(f"{prefix.lstrip('/')}/pyvenv.cfg")
                        or env.get("CONDA_PREFIX") == prefix))
        data += own + user if env_first else user + own
        data += [d for d in ("/usr/local/share/jupyter", "/usr/share/jupyter") if d not in data]
        out.append(json.dumps({"data": data}))
    out += ["@@cuda", f"env={env.get('CUDA_VERSION', '')}"]
    out += [f"/{p}" for p in sorted(tree.entries) if re.fullmatch(r"usr/local/cuda(-[\d.]+)?", p)]
    out += [f"/{p}" for p in sorted(tree.entries) if _CUDA_LIB.match(p)]
    cuda_json = tree.read("usr/local/cuda/version.json")
    if cuda_json:
        out += ["@@cuda-json", cuda_json.decode("utf-8", "replace")]
    out.append("@@tools")
    for t in _TOOLS:
        hit = next((f"/{d}/{t}" for d in path_dirs if tree.exists(f"{d}/{t}")), "")
        if hit:
            out.append(f"{t}={hit}")
    out.append("@@end")
    return "\n".join(out) + "\n"


def _inspect_like(base: BaseImage) -> dict:
    """The base's config in the shape `image inspect` gives it (what parse_facts reads)."""
    conf = base.config.get("config") or {}
    return {"Id": base.config_digest, "Digest": base.manifest_digest,
            "RepoDigests": [base.pinned] if "@" in base.pinned else [],
            "Architecture": base.config.get("architecture", ""),
            "Size": sum(d.size for d in base.layers), "Config": conf}


@contextlib.contextmanager
def _layer(base: BaseImage, digest: str) -> Iterator[tarfile.TarFile]:
    """One of `base`'s layers as a tar stream; a damaged one is a BuildError naming it."""
    from ..audit.scan import read_errors

    try:
        with open(base.blob(digest), "rb") as f, _open_tar(f) as tar:
            yield tar
    except read_errors() as exc:
        raise BuildError(f"{base.ref}: layer {digest[:19]} cannot be read as a tar "
                         f"({type(exc).__name__}: {str(exc)[:200]})",
                         hint="pull or export the image again; check that its blobs are "
                         "complete") from None


def _add_layers(tree: _Tree, base: BaseImage) -> None:
    """Every layer of `base` into `tree`, in order."""
    for d in base.layers:
        with _layer(base, d.digest) as tar:
            tree.add_members(tar)


def _top_down(base: BaseImage, wanted: set[str]) -> dict[str, bytes] | None:
    """The files at `wanted` (no leading /), read from the top layer down, stopping once each
    is found or known deleted: the SBOM and the lock are in dockyard's last layers, so the
    environment's (GBs) is not read. None when a link is on the way (then: every layer)."""
    found: dict[str, bytes] = {}
    settled: set[str] = set()
    for d in reversed(base.layers):
        todo = wanted - settled
        if not todo:
            break
        here: dict[str, bytes] = {}
        gone: set[str] = set()
        with _layer(base, d.digest) as tar:
            for m in tar:
                path = _norm(m.name)
                name, parent = posixpath.basename(path), posixpath.dirname(path)
                if name == ".wh..wh..opq":  # the folder's lower contents are gone
                    gone.update(_under(todo, parent))
                elif name.startswith(".wh."):
                    removed = posixpath.join(parent, name[4:])
                    gone.update(_under(todo, removed), {removed} & todo)
                elif path in todo:
                    if m.islnk() or m.issym():
                        return None
                    if m.isfile():
                        extracted = tar.extractfile(m)
                        here[path] = extracted.read() if extracted else b""
                    else:  # a folder (or a device) where the file was
                        gone.add(path)
                elif not m.isdir() and _under(todo, path):
                    if m.issym():
                        return None
                    gone.update(_under(todo, path))
        found.update(here)  # what a layer holds wins over its own whiteouts (of lower layers)
        settled |= set(here) | gone
    return {p: data for p, data in found.items() if p in wanted}


def _read(base: BaseImage) -> tuple[str, dict[str, list[int]]]:
    """(probe output, folders' metadata) of the base, read once per base digest."""
    cache = cache_dir() / "probes" / f"layers-v2-{base.manifest_digest.replace(':', '-')}.json"
    if cache.is_file():
        doc = json.loads(cache.read_text())
        return doc["output"], doc["dirs"]
    tree = _Tree()
    _add_layers(tree, base)
    doc = {"output": _output(tree, base.config),
           "dirs": {k: list(v) for k, v in sorted(tree.dirs.items())}}
    cache.parent.mkdir(parents=True, exist_ok=True)
    part = Path(str(cache) + ".part")
    part.write_text(json.dumps(doc))
    part.replace(cache)
    return doc["output"], doc["dirs"]


def base_folders(base: BaseImage) -> dict[str, tuple[int, int, int]]:
    """Every folder of the base's filesystem: path (no leading /) -> (mode, uid, gid)."""
    return {k: (v[0], v[1], v[2]) for k, v in _read(base)[1].items()}


def read_files(base: BaseImage, paths: set[str]) -> dict[str, bytes]:
    """The files at `paths` (absolute) in the image's final filesystem, those present."""
    wanted = {p.lstrip("/") for p in paths}
    found = _top_down(base, wanted)
    if found is not None:
        return {"/" + p: data for p, data in found.items()}
    tree = _Tree(keep=lambda path, size: path in wanted)
    _add_layers(tree, base)
    return {"/" + p: data for p, data in tree.data.items() if p in wanted}


def probe_layers(ref: str, engine=None, base: BaseImage | None = None) -> BaseFacts:
    """BaseFacts of `ref` from its layers (see the module docstring)."""
    base = base or open_base(ref, engine)
    return parse_facts(ref, _inspect_like(base), _read(base)[0])


__all__ = ["base_folders", "probe_layers", "read_files"]
