"""What a Python environment holds, read from inside it: one plain function, stdlib only.

    inventory(paths=None, prefix=None, lock=None) -> dict      (JSON-ready)

This file is self-contained on purpose: it imports nothing from dockyard and
nothing outside the standard library, and runs on Python 3.6 or newer. The
same code is therefore run wherever an environment must be proved:

- in-process: `from dockyard.cluster.inventory import inventory`;
- in a Dask scheduler or worker: `dockyard.cluster.check` ships `source()` as
  text and evaluates it there (`Client.run(eval, remote_expression())`), so
  nothing of dockyard need be installed on the cluster;
- on a host over SSH, or in any interpreter: `PYTHON - [--path DIR]...
  [--prefix DIR] [--lock FILE] < inventory.py` prints the JSON document on
  stdout (exit 0), whatever the interpreter's own packages.

Arguments (all optional):
    paths   directories searched for distributions, in order (default:
            `sys.path`, what an `import` in this interpreter sees);
    prefix  the environment's prefix, where `conda-meta/` is read (default:
            `sys.prefix`);
    lock    the image's lock file (default: `$DOCKYARD_LOCK`, else
            /opt/dockyard/dockyard.lock, where `dockyard build` puts it).

The document (schema "dockyard-inventory/1"):

    host, pid           socket.gethostname(), os.getpid()
    python              {version: "3.12.11", implementation, executable, prefix,
                         base_prefix, platform: sysconfig.get_platform()}
    lock                {path, sha256, inputs_hash} of the image's lock, or null
    left_out            names the image's role deliberately left out (a light
                        scheduler's /opt/dockyard/left-out.txt), else []
    distributions       one per distribution name, the first on the search
                        path (the one `import` finds), sorted by name:
                        {name (PEP 503 normalized), version, location, installer,
                         source: "index" | "git" | "vcs" | "dir" | "editable" |
                                 "archive" | "conda",
                         url (credentials removed) , commit (git/vcs), record
                         ("sha256:..." over the RECORD's sorted path,hash lines of
                         the installed files: the content, whatever the installer),
                         modules (top-level import names)}
    shadowed            the same name found again later on the path: {name, version,
                        location}; `import` never sees these
    conda               one per conda-meta record: {name, version, build, channel,
                         subdir}, sorted by name
    errors              what could not be read, as text (never raises for a bad file)

No credential is ever part of the document: userinfo and token query values
are removed from every URL read from direct_url.json or conda-meta.
"""

import hashlib
import json
import os
import re
import socket
import sys
import sysconfig

SCHEMA = "dockyard-inventory/1"
DEFAULT_LOCK = "/opt/dockyard/dockyard.lock"
LEFT_OUT = "left-out.txt"  # beside the lock: names a light role leaves out, one per line

_USERINFO = re.compile(r"([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@\s]+@")
_TOKEN_PATH = re.compile(r"/t/[^/]+/")  # conda's token-in-path URLs
_QUERY = re.compile(r"([?&](?:token|access_token|password|secret|key|sig|signature)=)[^&\s]+",
                    re.IGNORECASE)
# written by the installer, not part of what was installed (uv records its cache info)
_INSTALLER_FILES = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json", "uv_cache.json",
                    "uv_build.json")


def canonical(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def clean_url(url: str) -> str:
    """A URL without any credential in it (userinfo, conda token path, token queries)."""
    url = _USERINFO.sub(r"\1", url)
    url = _TOKEN_PATH.sub("/", url)
    return _QUERY.sub(r"\1***", url)


def _read(path: str, limit: int = -1) -> bytes:
    with open(path, "rb") as f:
        return f.read(limit)


def _headers(text: str) -> dict:
    """Name and Version from a METADATA / PKG-INFO (email headers, first block)."""
    out = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, sep, value = line.partition(":")
        if sep and key in ("Name", "Version") and key not in out:
            out[key] = value.strip()
    return out


def _record(info: str) -> tuple:
    """(content hash, top-level modules) from a dist-info RECORD."""
    path = os.path.join(info, "RECORD")
    if not os.path.isfile(path):
        return "", []
    entries, modules = [], set()
    dist_info = os.path.basename(info)
    for line in _read(path).decode("utf-8", "replace").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) != 3 or not parts[0]:
            continue
        name, digest = parts[0].replace("\\", "/"), parts[1]
        if name.startswith("..") or name.startswith("/") or "__pycache__/" in name \
                or name.endswith(".pyc"):
            continue  # scripts (their shebang names the prefix), bytecode written later
        top = name.split("/", 1)[0]
        if top == dist_info:
            if name.split("/", 1)[-1] in _INSTALLER_FILES:
                continue  # written by the installer, not part of the distribution's content
        elif "/" in name and not top.endswith((".data", ".dist-info", ".egg-info", ".libs")):
            modules.add(top)
        elif name.endswith(".py") or name.endswith(".so") or name.endswith(".pyd"):
            modules.add(name.split(".", 1)[0])
        entries.append(name + "," + digest)
    content = "\n".join(sorted(entries)).encode()
    return "sha256:" + hashlib.sha256(content).hexdigest(), sorted(
        m for m in modules if m.isidentifier())


def _direct_url(info: str) -> dict:
    path = os.path.join(info, "direct_url.json")
    if not os.path.isfile(path):
        return {}
    doc = json.loads(_read(path).decode("utf-8"))
    url = clean_url(str(doc.get("url", "")))
    vcs = doc.get("vcs_info") or {}
    if vcs:
        kind = "git" if vcs.get("vcs") == "git" else "vcs"
        return {"source": kind, "url": url, "commit": str(vcs.get("commit_id", ""))}
    if (doc.get("dir_info") or {}).get("editable"):
        return {"source": "editable", "url": url}
    if "dir_info" in doc:
        return {"source": "dir", "url": url}
    return {"source": "archive", "url": url}


def _distribution(info: str, errors: list):
    is_egg = info.endswith(".egg-info")
    meta = os.path.join(info, "PKG-INFO" if is_egg else "METADATA")
    if not os.path.isfile(meta):
        return None
    head = _headers(_read(meta, 64 << 10).decode("utf-8", "replace"))
    if "Name" not in head:
        errors.append(f"{info}: no Name in its metadata")
        return None
    installer = ""
    if os.path.isfile(os.path.join(info, "INSTALLER")):
        installer = _read(os.path.join(info, "INSTALLER"), 256).decode("utf-8", "replace").strip()
    dist = {
        "name": canonical(head["Name"]), "version": head.get("Version", ""),
        "location": os.path.dirname(info), "installer": installer,
        "source": "conda" if installer == "conda" else "index",
        "url": "", "commit": "", "record": "", "modules": [],
    }
    try:
        dist.update(_direct_url(info))
    except (OSError, ValueError) as exc:
        errors.append(f"{info}/direct_url.json: {exc}")
    if not is_egg:
        dist["record"], dist["modules"] = _record(info)
    elif os.path.isfile(os.path.join(info, "top_level.txt")):
        text = _read(os.path.join(info, "top_level.txt")).decode("utf-8", "replace")
        dist["modules"] = sorted(x.strip() for x in text.splitlines() if x.strip())
    return dist


def _distributions(paths, errors: list) -> tuple:
    found, shadowed, seen_dirs = {}, [], set()
    for entry in paths:
        if not entry or not os.path.isabs(entry) or not os.path.isdir(entry):
            continue  # '' (the current directory) and zip files hold no installed dists
        real = os.path.realpath(entry)
        if real in seen_dirs:
            continue
        seen_dirs.add(real)
        try:
            names = sorted(os.listdir(entry))
        except OSError as exc:
            errors.append(f"{entry}: {exc}")
            continue
        for name in names:
            if not (name.endswith(".dist-info") or name.endswith(".egg-info")):
                continue
            info = os.path.join(entry, name)
            if not os.path.isdir(info):
                continue
            try:
                dist = _distribution(info, errors)
            except (OSError, ValueError) as exc:
                errors.append(f"{info}: {exc}")
                continue
            if dist is None:
                continue
            if dist["name"] in found:
                shadowed.append({k: dist[k] for k in ("name", "version", "location")})
            else:
                found[dist["name"]] = dist
    return [found[k] for k in sorted(found)], sorted(
        shadowed, key=lambda d: (d["name"], d["location"]))


def _conda(prefix: str, errors: list) -> list:
    meta = os.path.join(prefix, "conda-meta")
    if not os.path.isdir(meta):
        return []
    out = []
    for name in sorted(os.listdir(meta)):
        if not name.endswith(".json"):
            continue
        path = os.path.join(meta, name)
        try:
            doc = json.loads(_read(path).decode("utf-8"))
            record = {k: str(doc.get(k) or "")
                      for k in ("name", "version", "build", "channel", "subdir")}
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: {exc}")
            continue
        if not record["name"]:
            errors.append(f"{path}: no name")
            continue
        record["channel"] = clean_url(record["channel"])
        out.append(record)
    return sorted(out, key=lambda r: r["name"])


def _lock(path: str, errors: list) -> tuple:
    """({path, sha256, inputs_hash} or None, left-out names)."""
    if not path or not os.path.isfile(path):
        return None, []
    try:
        raw = _read(path)
    except OSError as exc:
        errors.append(f"{path}: {exc}")
        return None, []
    m = re.search(rb'^inputs-hash\s*=\s*"([^"]*)"', raw, re.MULTILINE)
    left_out = []
    extra = os.path.join(os.path.dirname(path), LEFT_OUT)
    if os.path.isfile(extra):
        text = _read(extra).decode("utf-8", "replace")
        left_out = sorted({canonical(x.split("#", 1)[0].strip()) for x in text.splitlines()
                           if x.split("#", 1)[0].strip()})
    return {"path": path, "sha256": "sha256:" + hashlib.sha256(raw).hexdigest(),
            "inputs_hash": m.group(1).decode() if m else ""}, left_out


def inventory(paths=None, prefix=None, lock=None) -> dict:
    """The environment this interpreter sees (or `paths`/`prefix`), as a JSON-ready dict."""
    errors: list = []
    dists, shadowed = _distributions(list(sys.path if paths is None else paths), errors)
    lock_path = lock if lock is not None else os.environ.get("DOCKYARD_LOCK", DEFAULT_LOCK)
    lock_doc, left_out = _lock(lock_path, errors)
    v = sys.version_info
    return {
        "schema": SCHEMA,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "python": {
            "version": f"{v[0]}.{v[1]}.{v[2]}",
            "implementation": sys.implementation.name,
            "executable": sys.executable,
            "prefix": sys.prefix,
            "base_prefix": getattr(sys, "base_prefix", sys.prefix),
            "platform": sysconfig.get_platform(),
        },
        "lock": lock_doc,
        "left_out": left_out,
        "distributions": dists,
        "shadowed": shadowed,
        "conda": _conda(prefix or sys.prefix, errors),
        "errors": errors,
    }


def source() -> str:
    """This module's text: what is shipped to run elsewhere."""
    with open(__file__, encoding="utf-8") as f:
        return f.read()


def remote_expression(text=None) -> str:
    """A Python expression that runs this module's `inventory()` where it is evaluated.

    `eval` is pickled by reference and the source travels as a string, so it
    runs under any Python version, with nothing of dockyard installed there.
    """
    return ("(lambda ns: (exec(compile(%r, 'dockyard-inventory', 'exec'), ns), "
            "ns['inventory']())[1])({'__name__': 'dockyard_inventory'})" % (text or source()))


def _main(argv) -> int:
    paths, prefix, lock = None, None, None
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag in ("--path", "--prefix", "--lock") and args:
            value = args.pop(0)
            if flag == "--path":
                paths = (paths or []) + [value]
            elif flag == "--prefix":
                prefix = value
            else:
                lock = value
        else:
            sys.stderr.write("usage: python inventory.py [--path DIR]... [--prefix DIR] "
                             "[--lock FILE]\n")
            return 2
    json.dump(inventory(paths, prefix, lock), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
