"""A light scheduler, only as light as is safe (pure, but for `scan_image`).

    scan_image(prepared, image) -> Scan            the notebook image's modules and imports
    select(lock, scan) -> Selection                what the scheduler keeps, what it leaves out
    light_plan(plan, lock, scan) -> (BuildPlan, left_out)

The scheduler unpickles every graph, so it keeps, with their dependencies
(the lock's `depends`, followed to the end):
- what every Dask scheduler needs: ESSENTIAL (python, dask, distributed,
  cloudpickle, msgpack, tornado, toolz, lz4);
- the project's own packages (always: the plan installs the project);
- every distribution the project imports at module level, read from the
  installed files with `ast` inside the notebook image (`imports.py`) and
  mapped to distributions by the image's own RECORDs (`inventory.py`), so a
  module name is never guessed from a distribution name.
Everything else is left out, each with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from ..errors import ClusterError
from ..lock.model import Lock, LockedPackage
from ..plan.model import APP_DIR, BuildPlan

ESSENTIAL = ("python", "dask", "distributed", "cloudpickle", "msgpack", "tornado", "toolz", "lz4")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass(frozen=True, slots=True)
class Scan:
    modules: Mapping[str, str]  # top-level module -> distribution that installs it
    own: tuple[str, ...]  # the project's own distributions (installed under APP_DIR)
    imports: Mapping[str, tuple[str, ...]]  # module imported at module level -> file:line


@dataclass(frozen=True, slots=True)
class Selection:
    kept: Mapping[str, str]  # lock package name -> why it stays
    left_out: tuple[tuple[str, str], ...]  # (lock package name, why), sorted


def _canon(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _dep_name(dep: str) -> str:
    m = _NAME.match(dep.strip())
    return _canon(m.group(0)) if m else ""


def select(lock: Lock, scan: Scan) -> Selection:
    by_dist: dict[str, LockedPackage] = {}
    for p in lock.packages:
        by_dist.setdefault(_canon(p.name), p)
        for d in p.provides:
            by_dist.setdefault(_canon(d), p)
    roots: dict[str, str] = {}
    for name in ESSENTIAL:
        p = by_dist.get(name)
        if p is not None:
            roots.setdefault(p.name, "every Dask scheduler needs it")
    for module, where in sorted(scan.imports.items()):
        dist = scan.modules.get(module)
        p = by_dist.get(_canon(dist)) if dist else None
        if p is not None and _canon(dist or "") not in scan.own:
            roots.setdefault(p.name, f"imported at module level ({where[0]})")
    kept = dict(roots)
    todo = list(roots)
    by_name = {p.name: p for p in lock.packages}
    while todo:
        p = by_name[todo.pop()]
        for dep in p.depends:
            q = by_dist.get(_dep_name(dep))
            if q is not None and q.name not in kept:
                kept[q.name] = f"needed by {p.name}"
                todo.append(q.name)
    left = tuple(sorted(
        (p.name, "not imported at module level by the project, nor needed by what is")
        for p in lock.packages if p.name not in kept))
    return Selection(kept, left)


def light_plan(plan: BuildPlan, lock: Lock, scan: Scan) -> tuple[BuildPlan, tuple]:
    """The plan with only what the selection keeps; its notes say what was left out and why."""
    sel = select(lock, scan)
    keep = set(sel.kept)
    notes = [f"light scheduler: keeps {len(keep)} of the {len(lock.packages)} locked packages "
             f"and the project's own; leaves out {len(sel.left_out)}: "
             + ", ".join(n for n, _ in sel.left_out)]
    notes += [f"light scheduler keeps {name}: {why}" for name, why in sorted(sel.kept.items())]
    lplan = replace(
        plan,
        conda=tuple(a for a in plan.conda if a.name in keep),
        wheels=tuple(w for w in plan.wheels if w.name in keep),
        sources=tuple(s for s in plan.sources if s.name in keep),
        notes=plan.notes + tuple(notes),
    )
    return lplan, sel.left_out


_SCAN = """
import json, sys
ns = {"__name__": "dockyard_inventory"}
exec(compile(INVENTORY, "inventory.py", "exec"), ns)
inv = ns["inventory"]()
own = [d for d in inv["distributions"] if d["location"] == APP]
ns = {"__name__": "dockyard_imports"}
exec(compile(IMPORTS, "imports.py", "exec"), ns)
mods = sorted({m for d in own for m in d["modules"]})
print("DOCKYARD-JSON " + json.dumps({"inventory": inv, "own": [d["name"] for d in own],
                                     "imports": ns["module_imports"]([APP], mods)}))
"""


def scan_script() -> str:
    from pathlib import Path

    here = Path(__file__).parent
    return (f"INVENTORY = {(here / 'inventory.py').read_text()!r}\n"
            f"IMPORTS = {(here / 'imports.py').read_text()!r}\nAPP = {APP_DIR!r}\n" + _SCAN)


def parse_scan(doc: Mapping) -> Scan:
    modules: dict[str, str] = {}
    for d in doc["inventory"]["distributions"]:
        for m in d.get("modules", ()):
            modules.setdefault(m, d["name"])
    return Scan(modules, tuple(doc["own"]),
                {k: tuple(v) for k, v in doc["imports"].items()})


def scan_image(prepared, image: str) -> Scan:
    """Run the scan in a container of `image`, with the app's interpreter."""
    done = prepared.engine.cli("run", "--rm", "-i", "--network", "none", "--entrypoint",
                               prepared.plan.interpreter.python, image, "-",
                               input=scan_script())
    line = next((x for x in reversed(done.stdout.splitlines())
                 if x.startswith("DOCKYARD-JSON ")), None)
    if not done.ok or line is None:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
        raise ClusterError(f"could not read the modules of {image} for a light scheduler:\n"
                           f"{tail}", hint="check that the notebook image runs: "
                           f"`{prepared.engine.name} run --rm {image} true`")
    return parse_scan(json.loads(line.split(" ", 1)[1]))


__all__ = ["ESSENTIAL", "Scan", "Selection", "light_plan", "parse_scan", "scan_image",
           "scan_script", "select"]
