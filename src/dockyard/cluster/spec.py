"""Ready-to-apply manifests for the role images, by digest (pure, but for resolving digests).

    resolve_images(notebook, scheduler, worker) -> Images   digests and labels of the pushed images
    dask_kubernetes(settings, images, namespace) -> [ConfigMap, DaskCluster]
    dask_gateway(settings, images) -> Helm values of the dask-gateway chart
    render_spec(kind, settings, images) -> YAML text

dask-kubernetes: a `DaskCluster` (kubernetes.dask.org/v1, the operator's CRD)
whose scheduler and worker containers run the role images by digest with
`command: [<prefix>/bin/dask, scheduler|worker]` and dask's options as `args`,
as the platform's user (`runAsUser`/`runAsGroup` from the image), with the
resources and environment of dockyard.toml [cluster]; and a ConfigMap holding
the same environment for the notebook (`envFrom` it), with the scheduler's
address in `scheduler-variable`. The scheduler's ports, probes and Service
are the operator's defaults (`make_cluster_spec`).

dask-gateway: values for the dask-gateway Helm chart whose `extraConfig`
sets `c.KubeClusterConfig` (image by digest, scheduler and worker commands
from the app's environment, cores, memory, environment). dask-gateway starts
its schedulers and workers with its own preloads, so the images must hold
the `dask-gateway` package: the spec refuses images whose lock lacks it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import ClusterError
from .images import role_tags
from .settings import ClusterSettings, RoleSettings, cpu_cores, dask_memory, memory_bytes

API_VERSION = "kubernetes.dask.org/v1"
SCHEDULER_PORT, DASHBOARD_PORT, WORKER_DASHBOARD_PORT = 8786, 8787, 8788


@dataclass(frozen=True, slots=True)
class RoleRef:
    role: str
    ref: str  # NAME@sha256:...
    python: str  # the app's interpreter in the image (label io.dockyard.python)
    user: str  # "uid:gid" (label io.dockyard.user), "" when unknown
    given: str = ""  # the reference as given (with its tag)

    @property
    def dask(self) -> str:
        return self.python.rsplit("/", 1)[0] + "/dask"


@dataclass(frozen=True, slots=True)
class Images:
    notebook: RoleRef
    scheduler: RoleRef
    worker: RoleRef


# --- the edge: digests --------------------------------------------------------------------


def _by_digest(ref: str, digest: str) -> str:
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name[: name.rfind(":")]
    return f"{name}@{digest}"


def _resolve(role: str, ref: str, engine_name: str | None,
             warn: Callable[[str], None]) -> RoleRef:
    from ..audit.registry import split_ref
    from ..engines import is_loopback
    from ..errors import AuditError

    labels: dict[str, Any] = {}
    digest = ""
    try:
        split_ref(ref)
        config, digest = _registry_config(ref, tls_verify=not is_loopback(ref))
        labels = config.get("config", {}).get("Labels") or {}
    except AuditError as exc:
        from ..engines import get_engine

        engine = get_engine(engine_name)
        if not engine.exists(ref):
            raise ClusterError(f"{role} image {ref}: {exc.message}",
                               hint="push the images first (`dockyard cluster build --push "
                               "REGISTRY/NAME:TAG`), or pass --image REGISTRY/NAME@sha256:..."
                               ) from None
        data = engine.inspect(ref)
        labels = data.get("Config", {}).get("Labels") or data.get("Labels") or {}
        digest = data.get("Digest", "")
        warn(f"{role} image {ref} is not in a registry: the manifest names its local digest; "
             "push it (cluster build --push) for a cluster to pull it")
    if not labels.get("io.dockyard.python"):
        raise ClusterError(f"{role} image {ref} was not built by dockyard (no io.dockyard.python "
                           "label)", hint="build the images with `dockyard cluster build`")
    if role != "notebook" and labels.get("io.dockyard.role") != role:
        raise ClusterError(f"{ref} is not a {role} image (its io.dockyard.role is "
                           f"{labels.get('io.dockyard.role', 'not set')!r})",
                           hint=f"pass the {role} image that `dockyard cluster build` made")
    return RoleRef(role, _by_digest(ref, digest) if digest else ref,
                   labels["io.dockyard.python"], labels.get("io.dockyard.user", ""), ref)


def _registry_config(ref: str, *, tls_verify: bool) -> tuple[dict, str]:
    """(image config, manifest digest) from a registry."""
    from ..audit import registry

    host, name, _ = registry.split_ref(ref)
    digest = registry.manifest_digest(ref, tls_verify=tls_verify)
    client = registry._Client(host, name, tls_verify)  # noqa: SLF001 - the registry reader's
    doc = client.document(f"manifests/{digest}", "the manifest", registry.MANIFEST_TYPES,
                          digest)
    if "manifests" in doc:  # an index: the linux/amd64 image
        pick = next((m for m in doc["manifests"]
                     if m.get("platform", {}).get("architecture") in ("amd64", None)),
                    doc["manifests"][0])
        doc = client.document(f"manifests/{pick['digest']}", "a manifest",
                              registry.MANIFEST_TYPES, pick["digest"])
    config_digest = doc["config"]["digest"]
    return client.document(f"blobs/{config_digest}", "the config", None, config_digest), digest


def resolve_images(notebook: str, scheduler: str | None = None, worker: str | None = None, *,
                   engine_name: str | None = None,
                   warn: Callable[[str], None] = lambda s: None) -> Images:
    tags = role_tags(notebook) if "@" not in notebook else {}
    refs = {"notebook": notebook, "scheduler": scheduler or tags.get("scheduler"),
            "worker": worker or tags.get("worker")}
    for role, ref in refs.items():
        if not ref:
            raise ClusterError(f"no {role} image: {notebook} is given by digest",
                               hint=f"pass --{role}-image REF too")
    return Images(*(_resolve(role, refs[role] or "", engine_name, warn)
                    for role in ("notebook", "scheduler", "worker")))


def push_roles(engine, built, dests: dict[str, str], on_line=None) -> dict[str, str]:
    """Push each role image to its destination; {role: DEST@sha256:...}."""
    from ..audit.registry import manifest_digest
    from ..engines import is_loopback

    out = {}
    for image in built.images:
        dest = dests[image.role]
        engine.push(image.tag, dest, tls_verify=not is_loopback(dest), on_line=on_line)
        out[image.role] = _by_digest(dest, manifest_digest(dest, tls_verify=not is_loopback(dest)))
    return out


# --- pure: the manifests ------------------------------------------------------------------


def _env_list(env: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in env]


def _resources(role: RoleSettings) -> dict[str, Any]:
    quantities = {k: v for k, v in (("cpu", role.cpu), ("memory", role.memory)) if v}
    return {"requests": dict(quantities), "limits": dict(quantities)} if quantities else {}


def _security(ref: RoleRef) -> dict[str, Any]:
    uid, _, gid = ref.user.partition(":")
    if not uid.isdigit():
        return {}
    ctx: dict[str, Any] = {"runAsUser": int(uid), "runAsNonRoot": int(uid) != 0}
    if gid.isdigit():
        ctx["runAsGroup"] = int(gid)
    return ctx


def scheduler_address(settings: ClusterSettings, namespace: str = "") -> str:
    host = f"{settings.cluster_name}-scheduler" + (f".{namespace}" if namespace else "")
    return f"tcp://{host}:{SCHEDULER_PORT}"


def _with_address(env: tuple[tuple[str, str], ...], settings: ClusterSettings,
                  address: str) -> tuple[tuple[str, str], ...]:
    if not settings.scheduler_variable:
        return env
    return tuple((k, v) for k, v in env if k != settings.scheduler_variable) + (
        (settings.scheduler_variable, address),)


def worker_args(settings: ClusterSettings) -> list[str]:
    w = settings.worker
    args: list[str] = []
    threads = w.nthreads or (int(cpu_cores(w.cpu)) if w.cpu and cpu_cores(w.cpu) >= 1 else None)
    if threads:
        args += ["--nthreads", str(threads)]
    if w.memory:
        args += ["--memory-limit", dask_memory(w.memory)]
    return args + list(w.args)


def _container(name: str, ref: RoleRef, command: list[str], args: list[str],
               env: tuple[tuple[str, str], ...], role: RoleSettings,
               ports: list[dict[str, Any]]) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "image": ref.ref, "imagePullPolicy": "IfNotPresent",
                         "command": command, "args": args, "env": _env_list(env),
                         "ports": ports}
    resources = _resources(role)
    if resources:
        c["resources"] = resources
    security = _security(ref)
    if security:
        c["securityContext"] = security
    return c


def dask_kubernetes(settings: ClusterSettings, images: Images,
                    namespace: str = "") -> list[dict[str, Any]]:
    name = settings.cluster_name
    address = scheduler_address(settings, namespace)
    meta = {"name": name, **({"namespace": namespace} if namespace else {}),
            "labels": {"app.kubernetes.io/managed-by": "dockyard"}}
    configmap = {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {**meta, "name": f"{name}-env"},
        "data": dict(_with_address(settings.env, settings, address)),
    }
    s_env = _with_address(settings.scheduler.env, settings, address)
    w_env = _with_address(settings.worker.env, settings, address)
    scheduler = _container(
        "scheduler", images.scheduler, [images.scheduler.dask, "scheduler"],
        ["--host", "0.0.0.0", "--port", str(SCHEDULER_PORT),
         "--dashboard-address", f":{DASHBOARD_PORT}", *settings.scheduler.args],
        s_env, settings.scheduler,
        [{"name": "tcp-comm", "containerPort": SCHEDULER_PORT, "protocol": "TCP"},
         {"name": "http-dashboard", "containerPort": DASHBOARD_PORT, "protocol": "TCP"}])
    scheduler["readinessProbe"] = {"httpGet": {"port": "http-dashboard", "path": "/health"},
                                   "initialDelaySeconds": 0, "periodSeconds": 1,
                                   "timeoutSeconds": 300}
    scheduler["livenessProbe"] = {"httpGet": {"port": "http-dashboard", "path": "/health"},
                                  "initialDelaySeconds": 15, "periodSeconds": 20}
    worker = _container(
        "worker", images.worker, [images.worker.dask, "worker"],
        ["--name", "$(DASK_WORKER_NAME)", "--dashboard", "--dashboard-address",
         str(WORKER_DASHBOARD_PORT), *worker_args(settings)],
        w_env, settings.worker,
        [{"name": "http-dashboard", "containerPort": WORKER_DASHBOARD_PORT, "protocol": "TCP"}])
    cluster = {
        "apiVersion": API_VERSION, "kind": "DaskCluster",
        "metadata": {**meta, "annotations": {"dockyard/notebook-image": images.notebook.ref}},
        "spec": {
            "idleTimeout": 0,
            "worker": {"replicas": settings.workers, "spec": {"containers": [worker]}},
            "scheduler": {
                "spec": {"containers": [scheduler]},
                "service": {
                    "type": "ClusterIP",
                    "selector": {"dask.org/cluster-name": name,
                                 "dask.org/component": "scheduler"},
                    "ports": [
                        {"name": "tcp-comm", "protocol": "TCP", "port": SCHEDULER_PORT,
                         "targetPort": "tcp-comm"},
                        {"name": "http-dashboard", "protocol": "TCP", "port": DASHBOARD_PORT,
                         "targetPort": "http-dashboard"},
                    ],
                },
            },
        },
    }
    return [configmap, cluster]


def _py(value: Any) -> str:
    """A Python literal (the gateway's config is Python, not JSON: True, not true)."""
    return repr(value)


def gateway_config(settings: ClusterSettings, images: Images,
                   lock_packages: frozenset[str] = frozenset()) -> str:
    """The Python that dask-gateway's server runs (traitlets config of KubeClusterConfig)."""
    if lock_packages and "dask-gateway" not in lock_packages:
        raise ClusterError("the project's lock has no dask-gateway: dask-gateway starts "
                           "schedulers and workers with its own preloads "
                           "(dask_gateway.scheduler_preload), which must be in the images",
                           where="dockyard.lock",
                           hint="add dask-gateway to the project's dependencies (its client "
                           "needs it too), then `dockyard lock` and `dockyard cluster build`")
    common = dict(settings.env)
    lines = [
        "# Written by `dockyard cluster spec --kind dask-gateway`: images by digest, the",
        "# commands from the app's environment, resources and environment from dockyard.toml.",
        f"c.KubeClusterConfig.image = {_py(images.worker.ref)}",
        f"c.KubeClusterConfig.scheduler_cmd = {_py([images.scheduler.dask, 'scheduler'])}",
        f"c.KubeClusterConfig.worker_cmd = {_py([images.worker.dask, 'worker'])}",
        f"c.KubeClusterConfig.environment = {_py(dict(sorted(common.items())))}",
    ]
    s, w = settings.scheduler, settings.worker
    for ref, key, role in ((images.scheduler, "scheduler", s), (images.worker, "worker", w)):
        extra: dict[str, Any] = {"image": ref.ref} if key == "scheduler" else {}
        own_env = [(k, v) for k, v in role.env if common.get(k) != v]
        if own_env:
            extra["env"] = _env_list(tuple(own_env))
        security = _security(ref)
        if security:
            extra["securityContext"] = security
        if extra:
            lines.append(f"c.KubeClusterConfig.{key}_extra_container_config = "
                         f"{_py(extra)}")
        if role.cpu:
            lines.append(f"c.KubeClusterConfig.{key}_cores = {cpu_cores(role.cpu)!r}")
            lines.append(f"c.KubeClusterConfig.{key}_cores_limit = {cpu_cores(role.cpu)!r}")
        if role.memory:
            lines.append(f"c.KubeClusterConfig.{key}_memory = {memory_bytes(role.memory)}")
            lines.append(f"c.KubeClusterConfig.{key}_memory_limit = {memory_bytes(role.memory)}")
    if w.nthreads:
        lines.append(f"c.KubeClusterConfig.worker_threads = {w.nthreads}")
    if settings.workers:
        lines.append(f"c.KubeClusterConfig.cluster_max_workers = {settings.workers}")
    return "\n".join(lines) + "\n"


def dask_gateway(settings: ClusterSettings, images: Images,
                 lock_packages: frozenset[str] = frozenset()) -> dict[str, Any]:
    given = images.worker.given
    name, _, tag = given.rpartition(":") if ":" in given.rsplit("/", 1)[-1] else (given, "", "")
    return {
        "gateway": {
            "backend": {
                # the chart sets the image from name:tag first; extraConfig then pins the digest
                "image": {"name": name.split("@", 1)[0], "tag": tag or "latest"},
            },
            "extraConfig": {"dockyard": gateway_config(settings, images, lock_packages)},
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def render_spec(kind: str, settings: ClusterSettings, images: Images, *,
                namespace: str = "", lock_packages: frozenset[str] = frozenset()) -> str:
    head = (f"# Written by `dockyard cluster spec --kind {kind}` for cluster "
            f"{settings.cluster_name!r}.\n# notebook image: {images.notebook.ref}\n")
    if kind == "dask-kubernetes":
        docs = dask_kubernetes(settings, images, namespace)
        return head + yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False,
                                    explicit_start=True)
    if kind == "dask-gateway":
        values = dask_gateway(settings, images, lock_packages)
        return head + "# values for the dask-gateway Helm chart (helm upgrade -f THIS)\n" + \
            yaml.dump(values, Dumper=_Dumper, sort_keys=False)
    raise ClusterError(f"unknown kind {kind!r}", hint="use dask-kubernetes or dask-gateway")


__all__ = ["Images", "RoleRef", "dask_gateway", "dask_kubernetes", "gateway_config",
           "push_roles", "render_spec", "resolve_images", "scheduler_address", "worker_args"]
