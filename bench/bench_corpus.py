"""`dockyard lock` on every corpus project (real projects' dependency files), one row each.

    python bench/bench_corpus.py [DIR_OR_NAME...] [--python 3.12] [--git-mirrors DIR]
                                 [--timeout 900] [--json OUT] [--roots-only]

For each project (../shared/corpus/*, bench/corpus/*, or the folders given):
copy it with the real PyPI hosts put back, write a dockyard.toml with a CUDA
12.6 target (and `--python` only where the project names no Python at all),
point the conda part at a stand-in channel made from the project's own specs
and locks (`dockyard.testing.standin`: conda-forge is unreachable here), run
`dockyard -v lock --accept-cuda-mismatch` (the CUDA findings are counted, not
fatal, so the pins can be checked), then compare the lock with the project's
own lock pins that apply to the target.

Row: project, kinds, result (locked / clear error / crash / timeout), the
environment file used, packages (conda + PyPI), lock pins honoured/applicable
(versions; git commits), CUDA findings, wall time, and dockyard's own time
beside its uv calls. A crash is a traceback or an error without dockyard's
`error:` form; the run exits 1 if any row crashed or missed a pin.

`--git-mirrors DIR`: GitHub is unreachable here; a folder of mirrors
(`OWNER+NAME/repo`, bare git directories) is wired in with git's
url.insteadOf so git dependencies resolve to the commits the projects record.
A corpus folder without a project at its root gets a row saying so (dockyard's
clear error, which lists them), then one row per project in its subfolders
(`--roots-only` leaves those out).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.lock.model import loads
from dockyard.lock.pins import check_pins
from dockyard.lock.resolve import bind_pins, first_python
from dockyard.runner import which
from dockyard.sources import TOOLS, read_project
from dockyard.sources.envfiles import projects_below
from dockyard.testing.corpus import copy_project, iter_projects, source_of
from dockyard.testing.standin import standin_channel

CUDA = "12.6"


@dataclass
class Row:
    project: str
    kinds: str
    result: str = ""
    error: str = ""
    environment: str = "-"
    conda: int = 0
    pypi: int = 0
    pins_ok: int = 0
    pins_applicable: int = 0
    commits_ok: int = 0
    commits_applicable: int = 0
    missed: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)
    cuda: int = 0
    wall: float = 0.0
    uv: float = 0.0
    python: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def overhead(self) -> float:
        return max(self.wall - self.uv, 0.0)


def gitconfig_for(mirrors: Path, dest: Path) -> Path:
    """url.insteadOf from https://github.com/OWNER/NAME(.git) to each mirror found."""
    lines = []
    for repo in sorted(mirrors.glob("*+*/repo")):
        owner, _, name = repo.parent.name.partition("+")
        lines.append(f'[url "{repo.resolve().as_uri()}"]')
        for suffix in ("", ".git", "/"):
            lines.append(f"\tinsteadOf = https://github.com/{owner}/{name}{suffix}")
    dest.write_text("\n".join(lines) + "\n")
    return dest


_TIMING = re.compile(r"uv pip compile \((?:pylock|edges, offline)\): ([0-9.]+) s")


def lock_one(folder: Path, name: str, work: Path, args: argparse.Namespace,
             env: dict[str, str]) -> Row:
    info = source_of(folder) if (folder / "SOURCE.toml").is_file() else {}
    root = work / name  # a subfolder project is locked in place: its ../ paths hold
    row = Row(name, ",".join(info.get("kind", [])) if info else "-")
    start = time.perf_counter()
    settings = f'[target]\ncuda = "{CUDA}"\n'
    try:
        spec = read_project(root)
        if first_python(spec)[0] is None and not any(c.name == "python" for c in spec.conda):
            settings += f'python = "{args.python}"\n'
            row.notes.append(f"python {args.python}: the project names none (bench default)")
        (root / "dockyard.toml").write_text(settings)
        spec = read_project(root)
        row.environment = spec.environment or "-"
        if spec.conda:
            channel = work / "channels" / name.replace("/", "__")
            url = standin_channel(spec, channel, python="3.12.11")
            settings += f'\n[conda]\nchannels = ["{url}"]\n'
            (root / "dockyard.toml").write_text(settings)
    except DockyardError as exc:
        (root / "dockyard.toml").write_text(settings)
        where = (exc.where or "").replace(str(work) + "/", "")
        row.result, row.error = "clear error", _one_line(f"{where}: {exc.message}")
        row.wall = time.perf_counter() - start
        return row
    cmd = [which("dockyard") or "dockyard", "-v", "lock", "--accept-cuda-mismatch",
           "--project", str(root)]
    start = time.perf_counter()  # the stand-in channel is the bench's, not dockyard's time
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True,
                              timeout=args.timeout)
    except subprocess.TimeoutExpired:
        row.result, row.error = "timeout", f"over {args.timeout} s"
        row.wall = time.perf_counter() - start
        return row
    row.wall = time.perf_counter() - start
    row.uv = sum(float(x) for x in _TIMING.findall(done.stderr))
    text = (done.stdout + done.stderr).replace(str(work) + "/", "")
    # dockyard's own error comes after its last log record (uv's lines quoted in the
    # error start with "error:" too)
    logs = list(re.finditer(r"^(?:INFO|WARNING|DEBUG|ERROR) ", text, re.MULTILINE))
    after = logs[-1].end() if logs else 0
    errors = list(re.finditer(r"^error: ", text[after:], re.MULTILINE))
    if done.returncode == 0:
        row.result = "locked"
        try:
            _read_lock(root, row)
        except DockyardError as exc:  # dockyard wrote a lock it cannot read back: a bug
            row.result, row.error = "crash", _one_line(f"lock unreadable: {exc}")
    elif re.search(r"^Traceback \(most recent call last\)", text, re.MULTILINE) or (
            done.returncode != 2 or not errors):
        row.result = "crash"  # dockyard's own traceback, or no error in dockyard's form
        row.error = _one_line(text[-400:])
    else:
        row.result = "clear error"
        row.error = _one_line(text[after + errors[0].start():])
    return row


def _one_line(text: str, limit: int = 260) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _read_lock(root: Path, row: Row) -> None:
    spec = read_project(root)
    lock = loads((root / "dockyard.lock").read_text())
    row.python = lock.target.python
    row.conda, row.pypi = len(lock.by_owner("conda")), len(lock.by_owner("pypi"))
    row.cuda = sum(1 for n in lock.notes if n.message.startswith("CUDA:") and n.subject != "*")
    pins, _ = bind_pins(spec, lock.target.python)
    check = check_pins(pins, lock.packages, tools=TOOLS, unpin=spec.settings.unpin,
                       flat={x.file for x in spec.locks if not x.walk})
    row.pins_ok, row.pins_applicable = len(check.honoured), check.applicable
    row.commits_ok = sum(1 for p in check.honoured if p.commit)
    row.commits_applicable = row.commits_ok + sum(1 for p, _ in check.missed if p.commit)
    row.missed = [f"{p.name} {p.version} ({p.where}) -> {why}" for p, why in check.missed]
    row.absent = [f"{p.name} {p.version} ({p.where})" for p in check.absent]


def print_rows(rows: list[Row]) -> None:
    head = (f"{'project':60} {'result':12} {'environment file':28} {'conda':>5} {'pypi':>5} "
            f"{'pins':>9} {'commits':>7} {'cuda':>4} {'wall s':>7} {'own s':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        pins = f"{r.pins_ok}/{r.pins_applicable}" if r.result == "locked" else "-"
        commits = f"{r.commits_ok}/{r.commits_applicable}" if r.result == "locked" else "-"
        env = r.environment if len(r.environment) <= 28 else "..." + r.environment[-25:]
        print(f"{r.project[-60:]:60} {r.result:12} {env:28} {r.conda:>5} {r.pypi:>5} "
              f"{pins:>9} {commits:>7} {r.cuda:>4} {r.wall:>7.1f} {r.overhead:>6.1f}")
    print()
    for r in rows:
        if r.error:
            print(f"{r.project}: {r.result}: {r.error}")
        for m in r.missed:
            print(f"{r.project}: pin missed: {m}")
        for m in r.absent:
            print(f"{r.project}: pinned in the project's lock, needed by nothing on the "
                  f"target: {m}")
        for n in r.notes:
            print(f"{r.project}: {n}")
    locked = [r for r in rows if r.result == "locked"]
    ok = sum(r.pins_ok for r in locked)
    applicable = sum(r.pins_applicable for r in locked)
    commits = sum(r.commits_ok for r in locked), sum(r.commits_applicable for r in locked)
    crashes = sum(1 for r in rows if r.result in ("crash", "timeout"))
    print()
    print(f"{len(rows)} projects: {len(locked)} locked, "
          f"{sum(1 for r in rows if r.result == 'clear error')} clear errors, "
          f"{crashes} crashes/timeouts")
    print(f"lock pins honoured: {ok}/{applicable}"
          + (f" ({100 * ok / applicable:.1f}%)" if applicable else "")
          + f"; git commits {commits[0]}/{commits[1]}")
    print(f"wall {sum(r.wall for r in rows):.0f} s in all; dockyard's own time beside its uv "
          f"calls {sum(r.overhead for r in locked):.0f} s over the {len(locked)} locks "
          f"(uv {sum(r.uv for r in locked):.0f} s)")


def _has_project(root: Path) -> bool:
    try:
        read_project(root)
    except DockyardError as exc:
        return "no project files" not in exc.message and "only configures tools" not in \
            exc.message
    return True


def targets(args: argparse.Namespace, work: Path) -> list[tuple[Path, str]]:
    out = []
    for folder in iter_projects(args.projects or None):
        if not folder.is_dir():
            sys.exit(f"no such corpus project: {folder}")
        dest = work / folder.name
        copy_project(folder, dest)
        out.append((folder, folder.name))
        if args.roots_only or _has_project(dest):
            continue
        for sub in projects_below(dest, limit=40):
            out.append((folder, f"{folder.name}/{sub}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("projects", nargs="*", help="corpus folder names or paths (default: all)")
    parser.add_argument("--python", default="3.12",
                        help="target Python where a project names none (default 3.12)")
    parser.add_argument("--git-mirrors", type=Path, default=None, metavar="DIR")
    parser.add_argument("--timeout", type=int, default=900)
    parser.add_argument("--json", type=Path, default=None, metavar="OUT")
    parser.add_argument("--roots-only", action="store_true",
                        help="no rows for projects in subfolders of a corpus folder")
    args = parser.parse_args()
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "COLUMNS": "1000",
           "GIT_TERMINAL_PROMPT": "0"}
    with tempfile.TemporaryDirectory(prefix="bench-corpus-") as tmp:
        work = Path(tmp)
        if args.git_mirrors:
            env["GIT_CONFIG_GLOBAL"] = str(gitconfig_for(args.git_mirrors, work / "gitconfig"))
        rows = []
        for folder, name in targets(args, work):
            row = lock_one(folder, name, work, args, env)
            print(f"{row.project}: {row.result} in {row.wall:.1f} s"
                  + (f" ({row.pins_ok}/{row.pins_applicable} pins)" if row.result == "locked"
                     else f": {row.error[:160]}"), file=sys.stderr, flush=True)
            rows.append(row)
    print_rows(rows)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    bad = any(r.result in ("crash", "timeout") or r.missed for r in rows)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
