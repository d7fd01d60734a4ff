"""The image's config and manifest: the base's, plus what the plan adds (pure).

`image_config(base_config, plan, layers, created)` keeps the base's CMD,
ENTRYPOINT, USER, WORKDIR, ENV and everything else, adds the plan's ENV
(NVIDIA_* where the plan sets them) and LABELs, and appends one diff_id and
one history entry per layer. `manifest(config_blob, base_layers, layers)` is
an OCI image manifest. `canonical(doc)` is the one serialization used for
every JSON document, so the same content gives the same digest.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ..plan.model import BuildPlan

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_TO_OCI = {
    "application/vnd.docker.image.rootfs.diff.tar.gzip": LAYER_GZIP,
    "application/vnd.docker.image.rootfs.diff.tar": LAYER_TAR,
    "application/vnd.docker.container.image.v1+json": CONFIG,
    "application/vnd.docker.distribution.manifest.v2+json": MANIFEST,
}


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    annotations: tuple[tuple[str, str], ...] = ()
    artifact_type: str = ""

    def as_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest,
                               "size": self.size}
        if self.artifact_type:
            doc["artifactType"] = self.artifact_type
        if self.annotations:
            doc["annotations"] = dict(self.annotations)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Descriptor:
        media = DOCKER_TO_OCI.get(doc.get("mediaType", ""), doc.get("mediaType", LAYER_GZIP))
        return cls(media, doc["digest"], int(doc["size"]))


@dataclass(frozen=True, slots=True)
class NewLayer:
    """A layer dockyard made, and what the history says about it."""

    descriptor: Descriptor
    diff_id: str
    created_by: str
    comment: str = ""


def canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def rfc3339(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge_env(env: list[str], extra: tuple[tuple[str, str], ...]) -> list[str]:
    keys = dict(extra)
    kept = [e for e in env if e.partition("=")[0] not in keys]
    return kept + [f"{k}={v}" for k, v in extra]


def image_config(base: dict[str, Any], plan: BuildPlan, layers: list[NewLayer],
                 created: int) -> dict[str, Any]:
    doc = copy.deepcopy(base)
    for docker_only in ("container", "container_config", "docker_version", "id", "parent"):
        doc.pop(docker_only, None)
    conf = doc.setdefault("config", {})
    if plan.env:
        conf["Env"] = _merge_env(list(conf.get("Env") or []), plan.env)
    conf["Labels"] = {**(conf.get("Labels") or {}), **dict(plan.labels)}
    doc["created"] = rfc3339(created)
    rootfs = doc.setdefault("rootfs", {"type": "layers", "diff_ids": []})
    rootfs["diff_ids"] = list(rootfs.get("diff_ids") or []) + [x.diff_id for x in layers]
    history = list(doc.get("history") or [])
    for x in layers:
        item = {"created": rfc3339(created), "created_by": x.created_by}
        if x.comment:
            item["comment"] = x.comment
        history.append(item)
    doc["history"] = history
    return doc


def manifest(config: Descriptor, layers: list[Descriptor],
             subject: Descriptor | None = None, artifact_type: str = "",
             annotations: dict[str, str] | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {"schemaVersion": 2, "mediaType": MANIFEST,
                           "config": config.as_json(),
                           "layers": [x.as_json() for x in layers]}
    if artifact_type:
        doc["artifactType"] = artifact_type
    if subject is not None:
        doc["subject"] = subject.as_json()
    if annotations:
        doc["annotations"] = dict(sorted(annotations.items()))
    return doc


__all__ = ["CONFIG", "EMPTY", "INDEX", "LAYER_GZIP", "LAYER_TAR", "MANIFEST", "Descriptor",
           "NewLayer", "canonical", "digest_of", "image_config", "manifest", "rfc3339"]
