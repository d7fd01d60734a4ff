"""dockyard.pack: an environment from dockyard.lock, for hosts without containers.

    make_pack(project, "app-env.sh") -> PackResult     # or "app-env.tar.gz"

The pack is the environment itself, made on this machine from the lock
(`dockyard.materialize`: conda packages sha256-checked and installed, PyPI
wheels installed with their scripts, git dependencies and the project's own
package built as wheels) for a *placeholder* prefix, then tarred. Nothing is
resolved and nothing is fetched on the host.

Layout of the payload (a gzip'd tar, deterministic: sorted, fixed mtimes,
uid/gid 0, no bytecode):

    bin/ lib/ ... app/           the environment, as installed for PLACEHOLDER
    .dockyard/pack.json          what the host needs: the placeholder, every file that
                                 names it (text or binary, shebang or not), the target,
                                 the locked distributions to check, the kernel's name
    .dockyard/state.json         the prefix the files name now (PLACEHOLDER until unpacked)
    .dockyard/dockyard.lock      the lock it was made from
    .dockyard/envtool.py         relocate / check / kernel / info (stdlib only)
    .dockyard/dockyard-env       sh wrapper: runs envtool.py with the env's python
    .dockyard/verify_probe.py    dockyard.verify.probe, verbatim (the self-check's code)
    .dockyard/verify_report.py   dockyard.verify.report, verbatim
    .dockyard/activate_env.py    dockyard.render.activate, verbatim (conda activate.d)

`app-env.sh` is `hostside/header.sh` (POSIX sh) followed by the payload; on the
host `sh app-env.sh --prefix DIR` checks the platform, glibc, the payload's
size and sha256, and the prefix, extracts beside DIR, relocates for DIR,
renames into place, then runs the self-check. `app-env.tar.gz` is the payload
alone: `tar -xzf app-env.tar.gz -C DIR && sh DIR/.dockyard/dockyard-env
relocate && sh DIR/.dockyard/dockyard-env check`.

The pack id is a hash of the tree (paths, modes, contents), not of the
compressed bytes: the same lock and source give the same id.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import PackError
from .archive import PayloadWriter, TreeSummary, tree_size
from .header import render_header

if TYPE_CHECKING:
    from ..lock.model import Lock
    from ..pipeline import Project
    from ..plan.model import BuildPlan
    from ..spec import ProjectSpec

FORMAT = "dockyard-pack/1"
PLACEHOLDER_LENGTH = 96  # `#!` + it + `/bin/python3.12` fits the 127 bytes of a #! line
PLACEHOLDER = ("/dockyard-pack-prefix" + "_placehold" * 10)[:PLACEHOLDER_LENGTH]
TOOLS = ".dockyard"
HOSTSIDE = Path(__file__).parent / "hostside"
Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class PackResult:
    path: Path
    kind: str  # "sh" (self-extracting) or "tar.gz"
    pack_id: str
    payload_bytes: int  # compressed
    installed_bytes: int  # the environment's regular files
    files: int
    relocated_files: int  # files that name the prefix
    binary_files: int
    seconds: float


def pack_kind(out: Path) -> str:
    name = out.name
    if name.endswith((".tar.gz", ".tgz")):
        return "tar.gz"
    if name.endswith(".sh"):
        return "sh"
    raise PackError(f"{out}: the output's name says what to write: NAME.sh (a self-extracting "
                    "script) or NAME.tar.gz (a plain tarball)", hint="e.g. -o app-env.sh")


def host_plan(lock: Lock, spec: ProjectSpec | None, install_project: bool,
              prefix: str = PLACEHOLDER) -> BuildPlan:
    """The plan of an environment on a host: no base image, the lock's conda python."""
    from ..plan.make import choose_interpreter, kernel_slug, split_lock
    from ..plan.model import UV, BuildPlan, Kernel
    from ..probe.facts import BaseFacts, CudaFacts, UserFacts

    if lock.target.platform not in ("linux-64",):
        raise PackError(f"the lock is for {lock.target.platform}; packs are made for linux-64",
                        where="dockyard.lock (target.platform)",
                        hint='lock for linux-64: [target] platform = "linux-64"')
    if not any(p.name == "python" for p in lock.by_owner("conda")):
        raise PackError(
            "the lock has no conda python: a pack brings its own interpreter, and hosts "
            "have none to rely on", where="dockyard.lock",
            hint=f"add python={'.'.join(lock.target.python.split('.')[:2]) or '3.12'} to "
                 "environment.yml (or [conda]) and run `dockyard lock`")
    nobody = UserFacts("", 0, 0, "", "", "", "", None, "")
    host = BaseFacts("host", "", "", "amd64", 0, (), None, None, "", (), "", "", "", "",
                     "glibc", (), None, nobody, CudaFacts("", (), ()), ())
    interp = choose_interpreter(lock, host, prefix)
    project_name = spec.name if spec and spec.name else "app"
    conda, wheels, sources = split_lock(lock, project_name)
    kname = kernel_slug(project_name)
    return BuildPlan(
        base_ref="", base_from="", base_user="", uid=0, gid=0, owner_names="",
        prefix=prefix, app_dir=f"{prefix}/app",
        site_packages=f"{prefix}/lib/python{interp.minor}/site-packages",
        interpreter=interp, conda=conda, wheels=wheels, sources=sources,
        project_name=project_name, install_project=install_project,
        kernel=Kernel(kname, f"{project_name} (Python {interp.minor})", "",
                      (interp.python, "-m", "ipykernel_launcher", "-f", "{connection_file}")),
        lock_in_image=f"{prefix}/{TOOLS}/dockyard.lock", lock_hash=lock.inputs_hash,
        env=(), labels=(), secrets=(), uv=UV, layers=(), notes=(),
        base_cmd=None, base_entrypoint=None,
    )


def manifest(plan: BuildPlan, lock: Lock, summary: TreeSummary) -> dict:
    from ..verify.probe import wanted_distributions

    return {
        "format": FORMAT,
        "pack_id": summary.content_id,
        "project": plan.project_name,
        "placeholder": PLACEHOLDER,
        "placeholder_length": len(PLACEHOLDER),
        "python": "bin/python",
        "target": {"platform": lock.target.platform, "python": plan.interpreter.version,
                   "glibc": lock.target.glibc},
        "lock_hash": lock.inputs_hash,
        "kernel": {"name": plan.kernel.name, "display_name": plan.kernel.display_name},
        "installed_bytes": summary.bytes,
        "wanted": [{"dist": w.dist, "version": w.version, "required": w.required}
                   for w in wanted_distributions(lock)],
        "files": [m.to_dict() for m in sorted(summary.marked, key=lambda m: m.path)],
    }


def _tool_files(lock_text: str) -> list[tuple[str, bytes, int]]:
    from ..render import activate
    from ..verify import probe, report

    return [
        ("dockyard-env", (HOSTSIDE / "dockyard-env").read_bytes(), 0o755),
        ("dockyard.lock", lock_text.encode(), 0o644),
        ("envtool.py", (HOSTSIDE / "envtool.py").read_bytes(), 0o644),
        ("activate_env.py", Path(activate.__file__).read_bytes(), 0o644),
        ("python", b"bin/python\n", 0o644),
        ("state.json", json.dumps({"prefix": PLACEHOLDER}, indent=1).encode() + b"\n", 0o644),
        ("verify_probe.py", Path(probe.__file__).read_bytes(), 0o644),
        ("verify_report.py", Path(report.__file__).read_bytes(), 0o644),
    ]


def make_pack(project: Project, out: str | Path, *, level: int = 6,
              threads: int | None = None, progress: Progress | None = None,
              workdir: str | Path | None = None) -> PackResult:
    """Make the environment of `project`'s lock and write it to `out` (.sh or .tar.gz)."""
    from ..materialize import materialize
    from ..pipeline import installs_project

    started = time.monotonic()
    out = Path(out).resolve()
    kind = pack_kind(out)
    if not out.parent.is_dir():
        raise PackError(f"{out.parent} is not a directory", hint="create it first")
    plan = host_plan(project.lock, project.spec, installs_project(project.root))
    say = progress or (lambda _line: None)
    from .. import lifecycle

    with lifecycle.temp_dir("dockyard-pack-", dir=workdir) as tmp:
        env = materialize(plan, project.lock, project.root, Path(tmp) / "root",
                          progress=progress)
        env_dir = env.host(env.prefix)
        total = tree_size(env_dir)
        say(f"packing {total / 1e6:.0f} MB")
        part = out.with_name(f".{out.name}.part-{os.getpid()}")
        try:
            result = _write(part, kind, env_dir, plan, project, total, level, threads, say)
            os.chmod(part, 0o755 if kind == "sh" else 0o644)
            os.replace(part, out)
        finally:
            if part.exists():
                part.unlink()
    pack_id, payload, summary = result
    return PackResult(out, kind, pack_id, payload, summary.bytes, summary.files,
                      len(summary.marked), sum(1 for m in summary.marked if m.mode == "binary"),
                      time.monotonic() - started)


def _write(part: Path, kind: str, env_dir: Path, plan: BuildPlan, project: Project,
           total: int, level: int, threads: int | None, say: Progress
           ) -> tuple[str, int, TreeSummary]:
    import hashlib

    done = [0, 0.0]

    def on_bytes(n: int) -> None:
        done[0] += n
        now = time.monotonic()
        if now - done[1] > 1:
            done[1] = now
            say(f"packing {done[0] * 100 // max(total, 1)}% of {total / 1e6:.0f} MB")

    with open(part, "wb") as fh:
        header_len = 0
        if kind == "sh":
            header_len = len(render_header(_header_fields(plan, project, "0" * 16, 0, "", 0)))
            fh.write(b"\0" * header_len)
        hashing = _HashingFile(fh)
        writer = PayloadWriter(hashing, level=level, threads=threads, on_bytes=on_bytes)
        try:
            summary = writer.add_tree(env_dir, PLACEHOLDER, skip_top={TOOLS})
            writer.add_dir(TOOLS)
            tools = _tool_files(project.lock_text)
            for name, data, _mode in tools:
                summary.digest.update(f"t {name} {hashlib.sha256(data).hexdigest()}\n".encode())
            info = manifest(plan, project.lock, summary)
            for name, data, mode in sorted(tools + [
                    ("pack.json", json.dumps(info, indent=1).encode() + b"\n", 0o644)]):
                writer.add_file(f"{TOOLS}/{name}", data, mode)
            size = writer.close()
        except BaseException:
            writer.abort()
            raise
        if kind == "sh":
            max_prefix = len(PLACEHOLDER) if any(m.mode == "binary" for m in summary.marked) \
                else 0
            header = render_header(_header_fields(plan, project, summary.content_id, size,
                                                  hashing.hash.hexdigest(), max_prefix))
            assert len(header) == header_len, "the header's fields are fixed-width"
            fh.seek(0)
            fh.write(header)
    return summary.content_id, size, summary


def _header_fields(plan: BuildPlan, project: Project, pack_id: str, size: int, sha: str,
                   max_prefix: int) -> dict[str, str | int]:
    from ..plan.make import needed_glibc

    return {"PACK_ID": pack_id, "PROJECT": plan.project_name,
            "PLATFORM": project.lock.target.platform, "ARCH": "x86_64",
            "GLIBC": needed_glibc(project.lock) or "2.17", "MAX_PREFIX": max_prefix,
            "PAYLOAD_SIZE": size, "PAYLOAD_SHA256": sha or "0" * 64}


class _HashingFile:
    def __init__(self, fh):
        import hashlib

        self.fh, self.hash = fh, hashlib.sha256()

    def write(self, data) -> int:
        self.hash.update(data)
        return self.fh.write(data)


__all__ = ["FORMAT", "PLACEHOLDER", "PackResult", "host_plan", "make_pack", "pack_kind"]
