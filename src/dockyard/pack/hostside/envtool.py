"""Run on a host, inside an environment that `dockyard pack` made: relocate, check, kernel.

    PREFIX/bin/python PREFIX/.dockyard/envtool.py relocate [--to PREFIX]
    PREFIX/bin/python PREFIX/.dockyard/envtool.py check [--json FILE]
    PREFIX/bin/python PREFIX/.dockyard/envtool.py kernel [--name NAME] [--user|--sys-prefix]
    PREFIX/bin/python PREFIX/.dockyard/envtool.py info

(`sh PREFIX/.dockyard/dockyard-env COMMAND` finds the interpreter for you.)
Standard library only: the host has no dockyard, no conda, no network. It runs
with the environment's own interpreter, which starts from any place (conda's
python finds its libraries relative to itself) before its files are relocated.

The pack was made for a placeholder prefix; `pack.json` lists every file that
names it, as text or binary. Relocation rewrites them for the final prefix the
way conda does: text files by plain replacement, then their shebangs (direct
when short enough, else the `/bin/sh` trampoline pip uses); binary files
string by string, the new prefix padded with NUL bytes to the same length, so
the prefix may not be longer than the placeholder. The prefix currently
written in the files is kept in `.dockyard/state.json`, so a moved environment
can be relocated again (or `check` says it was moved).

The check is `dockyard verify`'s, without Jupyter: verify's own probe module
(shipped here as verify_probe.py) runs the same interpreter, import and
version checks on the same list of locked distributions.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHEBANG_MAX = 127  # what older kernels read of a #! line (BINPRM_BUF_SIZE)
_MARK = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}


class Refused(Exception):
    """Something the user can act on: printed as one line and a hint, exit 2."""

    def __init__(self, message, hint=""):
        Exception.__init__(self, message)
        self.message, self.hint = message, hint


def _load(name):
    with open(os.path.join(HERE, name)) as fh:
        return json.load(fh)


def manifest():
    return _load("pack.json")


def state():
    return _load("state.json")


def _write_json(path, data):
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh, indent=1, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def physical(path):
    return os.path.realpath(path)


# ---- relocation --------------------------------------------------------------------


def binary_replace(data, old, new, room):
    """Replace `old` by `new` in every NUL-terminated string of `data`, keeping its length.

    `room`: the placeholder's length. Each occurrence was written over a
    placeholder that long, so a string with n occurrences of `old` is followed
    by n * (room - len(old)) padding NULs after its own terminator; the new
    string takes them back and pads again. Fails when `new` is longer than room.
    """
    if len(new) > room:
        raise Refused(f"the prefix {new.decode()!r} is {len(new)} characters long; this "
                      f"environment's binary files have room for {room}",
                      "choose a shorter prefix")
    out, pos = [], 0
    while True:
        start = data.find(old, pos)
        if start < 0:
            break
        end = data.find(b"\0", start)
        if end < 0:
            end = len(data)
        string = data[start:end]
        count = string.count(old)
        pad = count * (room - len(old))
        tail = data[end + 1:end + 1 + pad]
        if tail.strip(b"\0"):  # not our padding: the string was not written by us
            pad = 0
        if len(new) > len(old) and pad == 0:
            raise Refused("cannot grow a prefix in a binary file without its padding",
                          "unpack the pack again at the new prefix")
        replaced = string.replace(old, new)
        total = len(string) + 1 + pad
        out.append(data[pos:start])
        out.append(replaced + b"\0" * (total - len(replaced)))
        pos = end + 1 + pad
    out.append(data[pos:])
    result = b"".join(out)
    assert len(result) == len(data)
    return result


def fix_shebang(data, prefix):
    """A `#!PREFIX/bin/X` line the kernel cannot run (too long, a space) made runnable."""
    if not data.startswith(b"#!"):
        return data
    end = data.find(b"\n")
    line = data[2:end if end >= 0 else len(data)].strip()
    rest = data[end + 1:] if end >= 0 else b""
    if not line.startswith(prefix + b"/"):
        return data
    if len(line) + 2 <= SHEBANG_MAX and b" " not in prefix:
        return data
    exe_tail, _, args = line[len(prefix):].partition(b" ")
    exe = prefix + exe_tail
    name = os.path.basename(exe)
    if name.startswith(b"python"):
        # pip's trampoline: valid sh and a no-op Python string
        head = b"#!/bin/sh\n'''exec' \"" + exe + b"\"" + (b" " + args if args else b"") \
            + b' "$0" "$@"\n' + b"' '''\n"
        return head + rest
    return b"#!/usr/bin/env " + name + (b" " + args if args else b"") + b"\n" + rest


def relocate(new_prefix, root=ROOT, progress=None):
    """Rewrite every file that names the current prefix for `new_prefix`; write `activate`."""
    info, st = manifest(), state()
    old = st["prefix"].encode()
    new = new_prefix.encode()
    room = info["placeholder_length"]
    binaries = [f for f in info["files"] if f["mode"] == "binary"]
    if binaries and len(new) > room:
        raise Refused(f"the prefix {new_prefix} is {len(new)} characters long; this "
                      f"environment's binary files have room for {room}",
                      f"choose a prefix of at most {room} characters")
    if old != new:
        for i, entry in enumerate(info["files"]):
            path = os.path.join(root, entry["path"])
            with open(path, "rb") as fh:
                data = fh.read()
            if entry["mode"] == "binary":
                data2 = binary_replace(data, old, new, room)
            else:
                data2 = data.replace(old, new)
                if entry.get("shebang"):
                    data2 = fix_shebang(data2, new)
            if data2 != data:
                _rewrite(path, data2)
            if progress and i % 500 == 0:
                progress(f"relocating {i}/{len(info['files'])}")
        _write_json(os.path.join(HERE, "state.json"), dict(st, prefix=new_prefix))
    write_activate(root, new_prefix, info)


def _rewrite(path, data):
    mode = os.stat(path).st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".dockyard-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)  # a new inode: a hard link elsewhere keeps its bytes
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _sh(value):
    return "'" + value.replace("'", "'\"'\"'") + "'"


def write_activate(root, prefix, info):
    """`PREFIX/activate`: source it in sh, bash or zsh to use the environment."""
    p = _sh(prefix)
    text = (
        "# Activate the environment {} (made by dockyard pack {}).\n"
        "# Source it:  . {}/activate\n"
        "export CONDA_PREFIX={}\n"
        "export DOCKYARD_ENV={}\n"
        "PATH={}/bin:\"$PATH\"; export PATH\n"
        "for _dockyard_f in {}/etc/conda/activate.d/*.sh; do\n"
        "  [ -r \"$_dockyard_f\" ] && . \"$_dockyard_f\"\n"
        "done\n"
        "unset _dockyard_f\n"
        "hash -r 2>/dev/null || true\n"
    ).format(prefix, info.get("pack_id", ""), prefix, p, p, p, p)
    path = os.path.join(root, "activate")
    with open(path, "w") as fh:
        fh.write(text)
    os.chmod(path, 0o644)


# ---- the check: verify's probe, without Jupyter ---------------------------------------


def load_verify():
    """verify's probe module (shipped beside this file), with stand-ins for its imports.

    It imports `..lock.model.Lock` (annotations only) and `packaging`; the
    environment may not have packaging, so a stand-in compares versions as text.
    """
    import importlib.util
    import types

    top = "_dockyard_selfcheck"
    for name in (top, top + ".lock", top + ".verify"):
        mod = types.ModuleType(name)
        mod.__path__ = []
        sys.modules[name] = mod
    model = types.ModuleType(top + ".lock.model")
    model.Lock = object
    sys.modules[top + ".lock.model"] = model
    try:
        import packaging.utils  # noqa: F401
        import packaging.version  # noqa: F401
    except ImportError:
        _packaging_standin()
    loaded = {}
    for short, file in (("report", "verify_report.py"), ("probe", "verify_probe.py")):
        name = top + ".verify." + short
        spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
        module = importlib.util.module_from_spec(spec)
        module.__package__ = top + ".verify"
        sys.modules[name] = module
        spec.loader.exec_module(module)
        loaded[short] = module
    return loaded["probe"], loaded["report"]


def _packaging_standin():
    import types

    utils = types.ModuleType("packaging.utils")
    utils.canonicalize_name = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    version = types.ModuleType("packaging.version")

    class InvalidVersion(ValueError):
        pass

    class Version:
        def __init__(self, text):
            raise InvalidVersion(text)  # verify's _same_version then compares the text

    version.InvalidVersion, version.Version = InvalidVersion, Version
    pkg = types.ModuleType("packaging")
    pkg.__path__ = []
    sys.modules.update({"packaging": pkg, "packaging.utils": utils,
                        "packaging.version": version})


def _run_probe(code):
    scope = {}
    exec(compile(code, "<dockyard-verify>", "exec"), scope)  # noqa: S102 - verify's own code
    return json.loads(scope["_dockyard_result"])


def activation_env(prefix):
    sys.path.insert(0, HERE)
    try:
        from activate_env import activation_env as run
    finally:
        sys.path.remove(HERE)
    return run(prefix)


def location_check(info, st, check_cls):
    here = physical(ROOT)
    recorded = st["prefix"]
    if recorded == info["placeholder"]:
        return check_cls("location", "fail", "the environment was never relocated",
                         (f"run `sh {here}/.dockyard/dockyard-env relocate`",))
    if physical(recorded) != here:
        return check_cls(
            "location", "fail", f"installed for {recorded}, but it is now at {here}",
            (f"its files name {recorded}: run `sh {here}/.dockyard/dockyard-env relocate` "
             f"to rewrite them for {here}, or unpack the pack again there",))
    left = [f["path"] for f in info["files"] if _has(os.path.join(ROOT, f["path"]),
                                                      info["placeholder"].encode())]
    if left:
        return check_cls("location", "fail",
                         f"{len(left)} file(s) still name the pack's placeholder",
                         tuple(left[:20]))
    return check_cls("location", "pass", f"{recorded} ({len(info['files'])} files relocated)")


def _has(path, needle):
    try:
        with open(path, "rb") as fh:
            return needle in fh.read()
    except OSError:
        return False


def selfcheck(json_path=None, timeout=600, out=sys.stdout):
    info, st = manifest(), state()
    probe, report = load_verify()
    check_cls = report.Check
    checks = [location_check(info, st, check_cls)]
    prefix = st["prefix"]
    os.environ.update(activation_env(physical(prefix)))
    facts = _run_probe(probe.facts_code(None))
    lock = _Lock(info["target"]["python"])
    checks.append(probe.check_interpreter(facts, lock))
    wanted = tuple(probe.Wanted(w["dist"], w.get("version", ""), w.get("required", True))
                   for w in info["wanted"])
    results = _run_probe(probe.imports_code(wanted, timeout))
    checks.append(probe.check_imports(results))
    checks.append(probe.check_versions(results, wanted))
    ok = all(c.ok for c in checks)
    out.write("environment {} (pack {}, {})\n".format(prefix, info.get("pack_id", "?"),
                                                   info.get("project") or "no project"))
    for c in checks:
        out.write(f"{_MARK[c.status]} {c.name}: {c.detail}\n")
        for p in c.problems:
            out.write(f"       {p}\n")
    out.write("all checks passed\n" if ok else
              f"{sum(1 for c in checks if not c.ok)} check(s) failed\n")
    if json_path:
        _write_json(json_path, {
            "prefix": prefix, "pack_id": info.get("pack_id"), "ok": ok,
            "python": facts.get("python"), "executable": facts.get("executable"),
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail,
                        "problems": list(c.problems)} for c in checks],
            "imports": results,
        })
    return 0 if ok else 1


class _Lock:
    """What verify's check_interpreter reads of a lock: target.python."""

    def __init__(self, python):
        self.target = type("Target", (), {"python": python})()


# ---- a Jupyter kernel of the host's Jupyter ---------------------------------------


def kernel(name=None, display_name=None, scope="user", jupyter=None, out=sys.stdout):
    info, st = manifest(), state()
    prefix = st["prefix"]
    if not any(w["dist"] == "ipykernel" for w in info["wanted"]):
        raise Refused("the environment has no ipykernel, so it cannot be a Jupyter kernel",
                      "add it to the project ([install] kernel = true in dockyard.toml), "
                      "lock and pack again")
    jupyter = jupyter or shutil.which("jupyter")
    if not jupyter:
        raise Refused("no `jupyter` on PATH: the kernel is registered with the host's Jupyter",
                      "put the host's Jupyter on PATH or give --jupyter PATH")
    name = name or info["kernel"]["name"]
    spec = {
        "argv": [os.path.join(prefix, info["python"]), "-m", "ipykernel_launcher",
                 "-f", "{connection_file}"],
        "display_name": display_name or info["kernel"]["display_name"],
        "language": "python",
        "metadata": {"debugger": True, "dockyard": {"pack": info.get("pack_id"),
                                                    "prefix": prefix}},
    }
    env = activation_env(physical(prefix))
    if env:
        spec["env"] = dict(sorted(env.items()))
    tmp = tempfile.mkdtemp(prefix="dockyard-kernel-")
    try:
        kdir = os.path.join(tmp, name)
        os.mkdir(kdir)
        with open(os.path.join(kdir, "kernel.json"), "w") as fh:
            json.dump(spec, fh, indent=1, sort_keys=True)
            fh.write("\n")
        args = [jupyter, "kernelspec", "install", "--replace", "--name", name, kdir]
        if scope == "user":
            args.insert(3, "--user")
        elif scope == "sys-prefix":
            args.insert(3, "--sys-prefix")
        done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True)
        if done.returncode != 0:
            raise Refused("`jupyter kernelspec install` failed: " + done.stdout.strip()[-500:],
                          "check that this user may write to the Jupyter data directory")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out.write("kernel {!r} ({}) registered with {}: {}\n".format(
        name, spec["display_name"], jupyter, done.stdout.strip().splitlines()[-1]))
    return 0


def info_text(out=sys.stdout):
    info, st = manifest(), state()
    out.write("pack {} of {}\n".format(info.get("pack_id"), info.get("project") or "(no project)"))
    out.write("prefix: {}\n".format(st["prefix"]))
    out.write("python: {} ({})\n".format(info["target"]["python"], info["python"]))
    out.write("platform: {}, glibc >= {}\n".format(info["target"]["platform"],
                                               info["target"]["glibc"]))
    out.write(f"distributions: {len(info['wanted'])}\n")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="dockyard-env", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command")
    r = sub.add_parser("relocate", help="rewrite the environment's paths for its prefix")
    r.add_argument("--to", help="the final prefix (default: where the environment is now)")
    r.add_argument("--quiet", action="store_true")
    c = sub.add_parser("check", help="verify's import and version checks, without Jupyter")
    c.add_argument("--json", help="also write the report as JSON")
    c.add_argument("--timeout", type=int, default=600)
    k = sub.add_parser("kernel", help="register the environment as a kernel of the host's "
                                      "Jupyter")
    k.add_argument("--name")
    k.add_argument("--display-name")
    k.add_argument("--jupyter", help="the jupyter command (default: the one on PATH)")
    scope = k.add_mutually_exclusive_group()
    scope.add_argument("--user", dest="scope", action="store_const", const="user")
    scope.add_argument("--sys-prefix", dest="scope", action="store_const", const="sys-prefix")
    scope.add_argument("--system", dest="scope", action="store_const", const="system")
    sub.add_parser("info", help="what this environment is")
    args = parser.parse_args(argv)
    try:
        if args.command == "relocate":
            target = args.to or physical(ROOT)
            relocate(target)
            if not args.quiet:
                sys.stdout.write(f"relocated for {target}\n")
            return 0
        if args.command == "check":
            return selfcheck(args.json, args.timeout)
        if args.command == "kernel":
            return kernel(args.name, args.display_name, args.scope or "user", args.jupyter)
        if args.command == "info":
            return info_text()
    except Refused as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        if exc.hint:
            sys.stderr.write(f"  hint: {exc.hint}\n")
        return 2
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
