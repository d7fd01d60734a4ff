"""dockyard.toml [cluster]: how the Dask deployment runs (outside the image and the lock).

    [cluster]
    name = "oeilnc"                      # the DaskCluster / gateway cluster name (default: project)
    workers = 4                          # worker replicas (default 2)
    light-scheduler = false              # `cluster build` builds a light scheduler
    scheduler-variable = "SCHEDULER_IP"  # set to the scheduler's address everywhere
    [cluster.env]                        # every role, and the notebook (a ConfigMap)
    COMMUN_PATH = "/mnt/commun/"
    PROJECT_PATH = "${PATH_INFOCENTRE_APP}projets/${PROJECT_ID}/"   # others, expanded
    [cluster.scheduler]                  # and [cluster.worker]
    cpu = "1"                            # Kubernetes quantities: requests = limits
    memory = "2Gi"
    env = { ... }                        # this role only, over [cluster.env]
    args = ["--idle-timeout", "1h"]      # added to `dask scheduler` / `dask worker`
    nthreads = 2                         # worker only

These tables are not part of the lock's inputs (`lock_digest`): changing where
the images run does not make the lock stale. `${NAME}` refers to another
variable of the same role (expanded here, so every kind gets plain values);
`$${` is a literal `${`; `$(NAME)` is left to Kubernetes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ClusterError

_CPU = re.compile(r"\d+(\.\d+)?m?")
_MEMORY = re.compile(r"(\d+(\.\d+)?)(Ki|Mi|Gi|Ti|Pi|k|K|M|G|T|P)?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
TOP_KEYS = ("name", "workers", "light-scheduler", "scheduler-variable", "env", "scheduler",
            "worker")
ROLE_KEYS = ("cpu", "memory", "env", "args", "nthreads")


@dataclass(frozen=True, slots=True)
class RoleSettings:
    cpu: str = ""
    memory: str = ""
    env: tuple[tuple[str, str], ...] = ()  # expanded, in order
    args: tuple[str, ...] = ()
    nthreads: int | None = None


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    name: str = ""
    workers: int = 2
    light_scheduler: bool = False
    scheduler_variable: str = ""
    env: tuple[tuple[str, str], ...] = ()  # [cluster.env], expanded: the notebook's view
    scheduler: RoleSettings = field(default_factory=RoleSettings)
    worker: RoleSettings = field(default_factory=RoleSettings)
    project: str = ""  # the project's name, for the default cluster name

    @property
    def cluster_name(self) -> str:
        name = self.name or re.sub(r"[^a-z0-9-]+", "-", self.project.lower()).strip("-")
        return name or "dask"


class _Where:
    def __init__(self, file: str, positions=None):
        self.file, self.positions = file, positions

    def __call__(self, *path: str | int) -> str:
        from ..sources.locate import format_field

        line = self.positions.line(("cluster", *path)) if self.positions else None
        field_ = format_field(("cluster", *path))
        return f"{self.file}:{line} ({field_})" if line else f"{self.file} ({field_})"


def _expect(ok: bool, where: str, message: str, hint: str) -> None:
    if not ok:
        raise ClusterError(message, where=where, hint=hint)


def expand(env: Mapping[str, str], where: _Where, path: tuple) -> tuple[tuple[str, str], ...]:
    """`${NAME}` replaced by NAME's (expanded) value; unknown names and cycles are errors."""
    done: dict[str, str] = {}

    def value(name: str, stack: tuple[str, ...]) -> str:
        if name in done:
            return done[name]
        if name in stack:
            raise ClusterError(f"variables refer to each other in a loop: "
                               f"{' -> '.join((*stack, name))}", where=where(*path, name),
                               hint="define one of them without ${...}")

        def sub(m: re.Match) -> str:
            if m.group(0) == "$${":
                return "${"
            ref = m.group(1)
            if ref not in env:
                raise ClusterError(f"{name} refers to ${{{ref}}}, which is not defined",
                                   where=where(*path, name),
                                   hint=f"define {ref} in [cluster.env] (or write $${{ for a "
                                   "literal ${)")
            return value(ref, (*stack, name))

        done[name] = _REF.sub(sub, env[name])
        return done[name]

    return tuple((k, value(k, ())) for k in env)


def _env(table: Any, where: _Where, path: tuple) -> dict[str, str]:
    _expect(isinstance(table, Mapping), where(*path), "expected a table of NAME = \"value\"",
            f"write it as [{'.'.join(('cluster', *path))}] with NAME = \"value\" lines")
    out = {}
    for k, v in table.items():
        _expect(bool(_ENV_NAME.fullmatch(k)), where(*path, k),
                f"{k!r} is not an environment variable name", "use letters, digits and _")
        _expect(isinstance(v, str | int | float) and not isinstance(v, bool), where(*path, k),
                f"{k}: expected a string, got {v!r}", f'write {k} = "..."')
        out[k] = str(v)
    return out


def _role(table: Any, role: str, base_env: dict[str, str], where: _Where) -> RoleSettings:
    _expect(isinstance(table, Mapping), where(role), f"expected a table [cluster.{role}]",
            f"write it as a [cluster.{role}] section")
    for key in table:
        _expect(key in ROLE_KEYS and (key != "nthreads" or role == "worker"), where(role, key),
                f"unknown key {key!r} in [cluster.{role}]",
                "valid keys: " + ", ".join(k for k in ROLE_KEYS
                                           if k != "nthreads" or role == "worker"))
    cpu, memory = table.get("cpu", ""), table.get("memory", "")
    _expect(isinstance(cpu, str) and (not cpu or bool(_CPU.fullmatch(cpu))), where(role, "cpu"),
            f"cpu: expected a Kubernetes quantity string like \"2\" or \"500m\", got {cpu!r}",
            'write cpu = "2"')
    _expect(isinstance(memory, str) and (not memory or bool(_MEMORY.fullmatch(memory))),
            where(role, "memory"), f"memory: expected a Kubernetes quantity string like "
            f"\"4Gi\", got {memory!r}", 'write memory = "4Gi"')
    args = table.get("args", [])
    _expect(isinstance(args, list) and all(isinstance(a, str) for a in args),
            where(role, "args"), "args: expected a list of strings",
            'write args = ["--lifetime", "24h"]')
    nthreads = table.get("nthreads")
    _expect(nthreads is None or (isinstance(nthreads, int) and not isinstance(nthreads, bool)
                                 and nthreads > 0), where(role, "nthreads"),
            f"nthreads: expected a positive integer, got {nthreads!r}", "write nthreads = 2")
    env = {**base_env, **_env(table.get("env", {}), where, (role, "env"))}
    return RoleSettings(cpu, memory, expand(env, where, (role, "env")), tuple(args), nthreads)


def parse_cluster(doc: Mapping[str, Any], file: str = "dockyard.toml", positions=None,
                  project: str = "") -> ClusterSettings:
    """The [cluster] table of a dockyard.toml mapping (pure)."""
    where = _Where(file, positions)
    table = doc.get("cluster", {})
    _expect(isinstance(table, Mapping), where(), "expected a [cluster] table",
            "write it as a [cluster] section")
    for key in table:
        _expect(key in TOP_KEYS, where(key), f"unknown key {key!r} in [cluster]",
                "valid keys: " + ", ".join(TOP_KEYS))
    name = table.get("name", "")
    _expect(isinstance(name, str) and (not name or bool(_NAME.fullmatch(name)))
            and len(name) <= 40, where("name"),
            f"name: {name!r} is not a valid cluster name", "use lowercase letters, digits and "
            "'-' (a DNS label of at most 40 characters: Kubernetes adds suffixes)")
    workers = table.get("workers", 2)
    _expect(isinstance(workers, int) and not isinstance(workers, bool) and workers >= 0,
            where("workers"), f"workers: expected a number of workers, got {workers!r}",
            "write workers = 4")
    light = table.get("light-scheduler", False)
    _expect(isinstance(light, bool), where("light-scheduler"), "expected true or false",
            "write light-scheduler = true")
    var = table.get("scheduler-variable", "")
    _expect(isinstance(var, str) and (not var or bool(_ENV_NAME.fullmatch(var))),
            where("scheduler-variable"), f"{var!r} is not an environment variable name",
            'write scheduler-variable = "SCHEDULER_IP"')
    base_env = _env(table.get("env", {}), where, ("env",))
    return ClusterSettings(
        name=name, workers=workers, light_scheduler=light, scheduler_variable=var,
        env=expand(base_env, where, ("env",)),
        scheduler=_role(table.get("scheduler", {}), "scheduler", base_env, where),
        worker=_role(table.get("worker", {}), "worker", base_env, where),
        project=project,
    )


def read_cluster_settings(root: Path, settings: Path | None = None) -> ClusterSettings:
    """[cluster] from the project's dockyard.toml (or `settings`); defaults when absent."""
    import tomllib

    from ..sources.readers import load_toml

    root = Path(root)
    project = ""
    if (root / "pyproject.toml").is_file():
        try:
            doc = tomllib.loads((root / "pyproject.toml").read_text())
            project = doc.get("project", {}).get("name") or \
                doc.get("tool", {}).get("poetry", {}).get("name") or ""
        except (tomllib.TOMLDecodeError, OSError, AttributeError):
            project = ""
    project = project or root.name
    path = Path(settings) if settings else root / "dockyard.toml"
    if not path.is_file():
        if settings:
            raise ClusterError("settings file not found", where=str(path),
                               hint="check the path given to --settings")
        return ClusterSettings(project=project)
    loaded = load_toml(path, path.name)
    return parse_cluster(loaded.doc, loaded.name, loaded.positions, project)


def dask_memory(quantity: str) -> str:
    """A Kubernetes memory quantity as dask's --memory-limit reads it: 4Gi -> 4GiB."""
    m = _MEMORY.fullmatch(quantity)
    if not m:
        return quantity
    unit = m.group(3) or ""
    return m.group(1) + ({"k": "kB", "K": "kB"}.get(unit) or (unit + "B" if unit else ""))


def memory_bytes(quantity: str) -> int:
    m = _MEMORY.fullmatch(quantity)
    if not m:
        raise ValueError(quantity)
    factor = {"": 1, "k": 10**3, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
              "P": 10**15, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
              "Pi": 2**50}[m.group(3) or ""]
    return int(float(m.group(1)) * factor)


def cpu_cores(quantity: str) -> float:
    return float(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


__all__ = ["ClusterSettings", "RoleSettings", "cpu_cores", "dask_memory", "expand",
           "memory_bytes", "parse_cluster", "read_cluster_settings"]
