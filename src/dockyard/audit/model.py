"""The nouns of `dockyard check`: what a layer holds, the inventory, the findings.

    image source (edge) -> RawImage (config + one LayerScan per layer)
                        -> Inventory (pure)  -> Findings (pure)  -> reports (pure)

Everything here is immutable. Secrets never enter these models: a scan keeps
only a redacted preview of a credential it saw.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Entry kinds, as read from the layer tar.
FILE, DIR, SYMLINK, HARDLINK, OTHER = "f", "d", "l", "h", "o"


@dataclass(frozen=True, slots=True)
class Entry:
    path: str               # absolute, normalised: "/usr/lib/x.so"
    kind: str               # FILE, DIR, SYMLINK, HARDLINK, OTHER
    size: int = 0           # bytes of content (0 for anything but FILE)
    sha256: str | None = None  # for large files only
    link: str | None = None    # symlink or hardlink target
    mode: int = 0              # permission bits from the tar header (0o7777)


@dataclass(frozen=True, slots=True)
class SecretHit:
    """A credential seen somewhere; `preview` is redacted and never holds the secret."""

    kind: str          # "url-credentials", "netrc-password", "aws-access-key", ...
    where: str         # "/etc/pip.conf:3", "ENV PIP_INDEX_URL", "history[4]"
    preview: str       # e.g. "index-url = https://***@pypi.example/simple"
    layer: int | None = None   # filled in by the inventory
    deleted: bool = False      # removed by a later layer (still in the image's bytes)


@dataclass(frozen=True, slots=True)
class LayerScan:
    """What one layer tar holds, read once as a stream."""

    digest: str                       # the name the source gave the blob
    entries: tuple[Entry, ...]
    whiteouts: tuple[str, ...] = ()   # paths this layer deletes from the layers below
    opaques: tuple[str, ...] = ()     # dirs whose lower content this layer hides
    contents: dict[str, bytes] = field(default_factory=dict)  # small metadata files
    secrets: tuple[SecretHit, ...] = ()
    diff_id: str | None = None        # digest of the uncompressed tar, as read
    blob_digest: str | None = None    # digest of the bytes as read (compressed or not)

    @property
    def size(self) -> int:
        return sum(e.size for e in self.entries)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI/Docker image config that the checks read."""

    user: str = ""
    cmd: tuple[str, ...] | None = None
    entrypoint: tuple[str, ...] | None = None
    env: tuple[str, ...] = ()            # "KEY=value", already masked
    diff_ids: tuple[str, ...] = ()
    history: tuple[dict[str, Any], ...] = ()  # created_by masked; empty_layer kept

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImageConfig:
        from .secrets import mask

        conf = data.get("config") or data.get("Config") or {}
        rootfs = data.get("rootfs") or data.get("RootFS") or {}
        history = tuple(
            {"created_by": mask(h.get("created_by", "")), "empty_layer": bool(h.get("empty_layer"))}
            for h in data.get("history") or []
        )
        return cls(
            user=conf.get("User") or "",
            cmd=tuple(conf["Cmd"]) if conf.get("Cmd") is not None else None,
            entrypoint=tuple(conf["Entrypoint"]) if conf.get("Entrypoint") is not None else None,
            env=tuple(mask_env(e) for e in conf.get("Env") or ()),
            diff_ids=tuple(rootfs.get("diff_ids") or rootfs.get("Layers") or ()),
            history=history,
        )


def mask_env(item: str) -> str:
    from .secrets import mask, secret_env_name

    key, sep, value = item.partition("=")
    if sep and secret_env_name(key) and value:
        return f"{key}=***"
    return mask(item)


@dataclass(frozen=True, slots=True)
class RawImage:
    """An image as read from a source: its config, the layers in order, and ENV/history hits."""

    ref: str
    config: ImageConfig
    layers: tuple[LayerScan, ...]
    secrets: tuple[SecretHit, ...] = ()  # in ENV or history


# ---- inventory ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Layer:
    index: int
    digest: str
    size: int             # bytes of file content in this layer
    wasted: int           # bytes of this layer overwritten or deleted by later layers
    files: int
    created_by: str       # from the build history, masked
    from_base: bool


@dataclass(frozen=True, slots=True)
class Distribution:
    name: str             # normalised (PEP 503)
    version: str
    env: str              # prefix of the environment
    installer: str        # "pip", "uv", "conda", ...
    size: int
    files: int
    layer: int            # the layer that installed its metadata
    where: str            # dist-info dir or conda-meta record


@dataclass(frozen=True, slots=True)
class Environment:
    prefix: str
    kind: str             # "system", "python", "conda", "venv", "user"
    python: str           # "3.13" or ""
    size: int             # bytes of files under it in the final image
    layers: tuple[int, ...]
    from_base: bool
    roots: tuple[str, ...] = ()   # the directories whose files are its bytes ("/usr/lib/python3/")


@dataclass(frozen=True, slots=True)
class CudaLib:
    path: str
    lib: str              # "cudart", "cublas", "cudnn", ...
    version: str          # best known version ("12.4.127", "12", "")
    owner: str            # "toolkit", "wheel:nvidia-cuda-runtime-cu12", "conda:libcublas", "system"
    size: int
    sha256: str | None
    layer: int


@dataclass(frozen=True, slots=True)
class Removed:
    path: str
    size: int
    layer: int            # where the bytes are
    by: int               # the layer that overwrote or deleted them
    how: str              # "overwritten" or "deleted"


@dataclass(frozen=True, slots=True)
class Kernel:
    name: str
    path: str             # kernel.json
    argv0: str
    layer: int


@dataclass(frozen=True, slots=True)
class Inventory:
    ref: str
    total: int                        # bytes of all layers (what the image weighs)
    final: int                        # bytes visible in the final filesystem
    layers: tuple[Layer, ...]
    environments: tuple[Environment, ...]
    distributions: tuple[Distribution, ...]
    cuda: tuple[CudaLib, ...]
    removed: tuple[Removed, ...]
    kernels: tuple[Kernel, ...]
    secrets: tuple[SecretHit, ...]
    config: ImageConfig
    files: dict[str, tuple[int, int, str | None]]  # final path -> (size, layer, sha256)
    owners: dict[str, str]            # final path -> name of the distribution that owns it
    torch_cuda: tuple[tuple[str, str], ...] = ()   # (torch/version.py path, cuda)
    base: ImageConfig | None = None
    base_layers: int = 0              # how many leading layers come from the base
    sbom: bytes = b""                 # the SBOM dockyard wrote into the image, if any
    # final files and folders any user may write (o+w; folders with the sticky bit, like
    # /tmp, are not): (path, layer)
    world_writable: tuple[tuple[str, int], ...] = ()
    accounts: dict[str, bytes] = field(default_factory=dict)  # /etc/passwd, /etc/group

    @property
    def wasted(self) -> int:
        return sum(r.size for r in self.removed)


# ---- findings -----------------------------------------------------------------------------

SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True, slots=True)
class Finding:
    code: str             # stable identifier, e.g. "duplicate-distribution"
    severity: str         # "error", "warning", "info"
    title: str
    size: int             # bytes involved (0 when not about bytes)
    paths: tuple[str, ...]
    hint: str             # what to do
    details: tuple[str, ...] = ()

    def at_least(self, level: str) -> bool:
        return SEVERITIES.index(self.severity) >= SEVERITIES.index(level)


@dataclass(frozen=True, slots=True)
class Policy:
    """What the user asked to check against."""

    budget: int | None = None         # bytes
    cuda: str | None = None           # "12.6"
    base_ref: str | None = None


@dataclass(frozen=True, slots=True)
class Report:
    inventory: Inventory
    findings: tuple[Finding, ...]
    policy: Policy

    def failed(self, fail_on: str) -> bool:
        """True when a finding is at or above `fail_on` ("never" fails nothing)."""
        return fail_on != "never" and any(f.at_least(fail_on) for f in self.findings)
