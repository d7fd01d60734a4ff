"""Pure parsing of an engine's image config and of the probe script's output."""

from __future__ import annotations

import json
import re
import shlex
from typing import Any

from .facts import BaseFacts, CudaFacts, JupyterFacts, PythonFacts, UserFacts


def sections(output: str) -> dict[str, list[str]]:
    """Split the probe output on its `@@name` markers."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith("@@"):
            current = found.setdefault(line[2:].strip(), [])
        elif current is not None:
            current.append(line)
    return found


def _kv(lines: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def parse_glibc(glibc_lines: list[str], libc_lines: list[str]) -> tuple[str, str]:
    """("2.41", "glibc") from getconf/ldd output, else from the libc file names."""
    for line in glibc_lines:
        m = re.search(r"(?:glibc|GLIBC|GNU libc)\D*?(\d+\.\d+)", line) or re.search(
            r"\)\s*(\d+\.\d+)\s*$", line
        )
        if m:
            return m.group(1), "glibc"
    for line in libc_lines:
        m = re.search(r"libc-(\d+\.\d+)\.so", line)
        if m:
            return m.group(1), "glibc"
    if any("ld-musl" in line for line in libc_lines):
        return "", "musl"
    if any(line.strip().endswith("libc.so.6") for line in libc_lines):
        return "", "glibc"  # present, version unknown
    return "", ""


def parse_pythons(lines: list[str]) -> tuple[PythonFacts, ...]:
    seen: set[str] = set()
    out: list[PythonFacts] = []
    for line in lines:
        parts = line.split("\t")
        if len(parts) not in (4, 6) or not re.fullmatch(r"\d+\.\d+\.\d+", parts[2]):
            continue
        path, real, version, prefix = parts[:4]
        impl, abiflags = parts[4:6] if len(parts) == 6 else ("cpython", "")
        if path in seen:
            continue
        seen.add(path)
        out.append(PythonFacts(path=path, real=real, version=version, prefix=prefix,
                               implementation=impl or "cpython", abiflags=abiflags))
    return tuple(out)


def parse_jupyter(jup: list[str], paths: list[str]) -> JupyterFacts | None:
    kv = _kv(jup)
    if "path" not in kv:
        return None
    shebang = kv.get("shebang", "")
    python = ""
    if shebang.startswith("#!"):
        words = shlex.split(shebang[2:])
        if words and words[0].endswith("/env") and len(words) > 1:
            words = words[1:]
        python = words[0] if words else ""
    data: tuple[str, ...] = ()
    try:
        doc = json.loads("\n".join(paths)) if paths else {}
        data = tuple(str(d) for d in doc.get("data", ()))
    except json.JSONDecodeError:
        data = ()
    return JupyterFacts(path=kv["path"], python=python, data_dirs=data)


def _passwd(lines: list[str]) -> dict[str, tuple[str, int, int, str]]:
    """name -> (name, uid, gid, home)."""
    out = {}
    for line in lines:
        f = line.split(":")
        if len(f) >= 6 and f[2].isdigit() and f[3].isdigit():
            out[f[0]] = (f[0], int(f[2]), int(f[3]), f[5])
    return out


def _groups(lines: list[str]) -> dict[str, int]:
    out = {}
    for line in lines:
        f = line.split(":")
        if len(f) >= 3 and f[2].isdigit():
            out[f[0]] = int(f[2])
    return out


# Homes of system accounts that are not homes at all (a volume is never mounted there).
_NOT_HOMES = ("/", "/nonexistent", "/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/dev",
              "/var", "/run", "/proc", "/sys", "/etc", "/opt", "/usr/local", "/tmp")


def _homes(users: dict[str, tuple[str, int, int, str]], *extra: str) -> tuple[str, ...]:
    """Every directory a platform may mount a home volume over: root's and people's homes
    (uid 0 or >= 1000, or anything under /home), and the homes the ENV names."""
    found = {"/root", "/home"}
    for _, uid, _, home in users.values():
        if uid == 0 or uid >= 1000 or home.startswith("/home/"):
            found.add(home)
    found.update(extra)
    return tuple(sorted(h.rstrip("/") for h in found
                        if h.startswith("/") and h.rstrip("/") not in _NOT_HOMES))


def parse_user(config_user: str, env: dict[str, str], s: dict[str, list[str]]) -> UserFacts:
    ids = _kv(s.get("id", []))
    users = _passwd(s.get("passwd", []))
    groups = _groups(s.get("group", []))
    uid = int(ids["uid"]) if ids.get("uid", "").isdigit() else 0
    gid = int(ids["gid"]) if ids.get("gid", "").isdigit() else 0
    entry = next((u for u in users.values() if u[1] == uid), None)
    groupname = env.get("GROUPNAME", "")
    group_gid = groups.get(groupname) if groupname else None
    if not groupname:  # the name /etc/group gives the gid the files will be owned by
        groupname = next((name for name, g in groups.items() if g == gid), "")
    # $HOME as processes see it: the image's ENV wins over /etc/passwd
    home = env.get("HOME") or ids.get("home") or (entry[3] if entry else "")
    named = [users[n][3] for n in (env.get("USERNAME", ""), env.get("NB_USER", "")) if n in users]
    return UserFacts(
        config_user=config_user,
        uid=uid,
        gid=gid,
        name=entry[0] if entry else "",
        home=home,
        username=env.get("USERNAME", ""),
        groupname=groupname,
        group_gid=group_gid,
        workspace_dir=env.get("WORKSPACE_DIR", ""),
        nb_user=env.get("NB_USER", ""),
        homes=_homes(users, home, *(entry[3:4] if entry else ()), *named),
    )


def parse_cuda(env: dict[str, str], cuda: list[str], cuda_json: list[str]) -> CudaFacts:
    kv = _kv([line for line in cuda if line.startswith("env=")])
    version = kv.get("env", "") or env.get("CUDA_VERSION", "")
    if not version and cuda_json:
        try:
            version = json.loads("\n".join(cuda_json)).get("cuda", {}).get("version", "")
        except json.JSONDecodeError:
            version = ""
    paths = sorted({line.strip() for line in cuda if line.startswith("/")})
    roots = tuple(p for p in paths if "/lib" not in p.removeprefix("/usr/local/cuda"))
    cudart = tuple(p for p in paths if "/libcudart.so" in p)
    libraries = tuple(p for p in paths if p not in roots and p not in cudart)
    return CudaFacts(version=version, roots=roots, cudart=cudart, libraries=libraries)


def _pinned(ref: str, config: dict[str, Any]) -> str:
    """A FROM reference that cannot move: name@digest when the engine knows one, else the id."""
    name = ref.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    digests = list(config.get("RepoDigests") or [])
    for d in digests:
        repo = d.split("@", 1)[0]
        if repo == name or repo.endswith("/" + name):
            return d
    digest = config.get("Digest")
    if digest and "/" in name:
        return f"{name}@{digest}"
    if digests:
        return digests[0]
    return str(config.get("Id", ref)).removeprefix("sha256:")


def parse_facts(ref: str, config: dict[str, Any], output: str) -> BaseFacts:
    """BaseFacts from `image inspect` JSON and the probe script's output (pure)."""
    c = config.get("Config") or {}
    env_pairs = []
    for item in c.get("Env") or []:
        key, _, value = item.partition("=")
        env_pairs.append((key, value))
    env = dict(env_pairs)
    s = sections(output)
    osr = _kv(s.get("os", []))
    glibc, libc = parse_glibc(s.get("glibc", []), s.get("libc", []))
    tools = tuple(sorted(_kv(s.get("tools", [])).items()))
    return BaseFacts(
        ref=ref,
        image_id=str(config.get("Id", "")).removeprefix("sha256:"),
        pinned=_pinned(ref, config),
        architecture=str(config.get("Architecture", "")),
        size=int(config.get("Size") or 0),
        env=tuple(env_pairs),
        cmd=tuple(c["Cmd"]) if c.get("Cmd") else None,
        entrypoint=tuple(c["Entrypoint"]) if c.get("Entrypoint") else None,
        workdir=str(c.get("WorkingDir") or ""),
        labels=tuple(sorted((c.get("Labels") or {}).items())),
        os_id=osr.get("ID", ""),
        os_version=osr.get("VERSION_ID", ""),
        os_name=osr.get("PRETTY_NAME", ""),
        glibc=glibc,
        libc=libc,
        pythons=parse_pythons(s.get("pythons", [])),
        jupyter=parse_jupyter(s.get("jupyter", []), s.get("jupyter-paths", [])),
        user=parse_user(str(c.get("User") or ""), env, s),
        cuda=parse_cuda(env, s.get("cuda", []), s.get("cuda-json", [])),
        tools=tools,
    )
