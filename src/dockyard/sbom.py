"""A CycloneDX SBOM of what an image installs, made from the lock (cyclonedx-python-lib).

    data = make_sbom(lock, project="minicase", version="0.1.0",
                     base="registry.example/platform", base_digest="sha256:...")
    validate(data)                      # against the CycloneDX 1.6 JSON schema
    components(data) -> {("conda"|"pypi", name): version}

Every conda package is `pkg:conda/NAME@VERSION?build=..&channel=..&subdir=..&type=..`,
every PyPI package `pkg:pypi/NAME@VERSION` (git dependencies with
`vcs_url=git+URL@COMMIT`), each with the sha256 of its locked artifacts and
their URLs as distribution references; the base image is a `container`
component by digest (`pkg:oci/...`), and the project is the SBOM's subject
(`metadata.component`). The same lock gives the same bytes: the serial
number derives from the lock and base, the timestamp is SOURCE_DATE_EPOCH
(else 1980-01-01). In an image dockyard writes it at /opt/dockyard/sbom.cdx.json
and, when pushing, attaches it as an OCI 1.1 referrer
(artifactType application/vnd.cyclonedx+json).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from .errors import BuildError
from .lock.model import Lock, LockedPackage

SBOM_IN_IMAGE = "/opt/dockyard/sbom.cdx.json"
NAMESPACE = uuid.UUID("6f1c3c1e-5d0c-4c5e-9a55-64f6d0c6ad13")  # dockyard's uuid5 namespace


def _hash(composite: str):
    """A CycloneDX hash from `ALG:HEX` (the factory where cyclonedx-python-lib has it;
    before it, the method the factory deprecates)."""
    try:
        from cyclonedx.contrib.hash.factories import HashTypeFactory
    except ImportError:  # an older cyclonedx-python-lib
        from cyclonedx.model import HashType

        return HashType.from_composite_str(composite)
    return HashTypeFactory().from_composite_str(composite)


def _slug(name: str) -> str:
    import re

    return re.sub(r"[-_.]+", "-", name.lower())


def _purl(p: LockedPackage):
    from packageurl import PackageURL

    if p.owner == "conda":
        a = p.artifacts[0] if p.artifacts else None
        filename = (a.filename or a.url.rsplit("/", 1)[-1]) if a else ""
        kind = "conda" if filename.endswith(".conda") else "tar.bz2" if filename else ""
        qualifiers = {k: v for k, v in (("build", p.build), ("channel", p.source.rstrip("/")),
                                         ("subdir", p.subdir), ("type", kind)) if v}
        return PackageURL(type="conda", name=p.name, version=p.version, qualifiers=qualifiers)
    qualifiers = {}
    if p.commit:
        url = p.source.partition("#")[0].removeprefix("git+")
        qualifiers["vcs_url"] = f"git+{url}@{p.commit}"
    return PackageURL(type="pypi", name=p.name, version=p.version, qualifiers=qualifiers)


def _component(p: LockedPackage):
    from cyclonedx.model import ExternalReference, ExternalReferenceType, Property, XsUri
    from cyclonedx.model.component import Component, ComponentType

    purl = _purl(p)
    refs = [ExternalReference(type=ExternalReferenceType.DISTRIBUTION, url=XsUri(a.url),
                              hashes=[_hash(f"sha256:{a.sha256}")])
            for a in sorted(p.artifacts, key=lambda a: a.url) if a.url.startswith("http")]
    if p.commit:
        refs.append(ExternalReference(type=ExternalReferenceType.VCS,
                                      url=XsUri(p.source.removeprefix("git+"))))
    hashes = sorted({a.sha256 for a in p.artifacts})
    props = [Property(name="dockyard:owner", value=p.owner)]
    if p.reason:
        props.append(Property(name="dockyard:reason", value=p.reason[:500]))
    return Component(
        type=ComponentType.LIBRARY, name=p.name, version=p.version, purl=purl,
        bom_ref=f"{p.owner}:{p.name}",
        hashes=[_hash(f"sha256:{h}") for h in hashes],
        external_references=refs, properties=props,
    )


def make_sbom(lock: Lock, *, project: str = "app", version: str = "",
              base: str = "", base_digest: str = "", prefix: str = "",
              epoch: int | None = None) -> bytes:
    """The CycloneDX 1.6 JSON document of `lock` (see the module docstring); kept in
    dockyard's cache by its inputs (making one takes a second)."""
    import hashlib

    from .lock.model import dumps
    from .materialize import source_date_epoch
    from .render.stage import cache_dir

    epoch = source_date_epoch() if epoch is None else epoch
    key = hashlib.sha256("\0".join((dumps(lock), project, version, base, base_digest,
                                     prefix, str(epoch), FORMAT)).encode()).hexdigest()[:32]
    path = cache_dir() / "sbom" / f"{key}.cdx.json"
    if path.is_file():
        return path.read_bytes()
    data = _make(lock, project, version, base, base_digest, prefix, epoch)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".part").write_bytes(data)
    path.with_suffix(".part").replace(path)
    return data


FORMAT = "2"


def _make(lock: Lock, project: str, version: str, base: str, base_digest: str, prefix: str,
          epoch: int) -> bytes:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom, BomMetaData
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    props = [Property(name="dockyard:lock-inputs", value=lock.inputs_hash)]
    if prefix:  # where the environment is: `dockyard check` compares that one
        props.append(Property(name="dockyard:prefix", value=prefix))
    subject = Component(type=ComponentType.APPLICATION, name=project,
                        version=version or None, bom_ref="project", properties=props)
    packages = [p for p in lock.packages if _slug(p.name) != _slug(project)]  # the subject
    components = {f"{p.owner}:{p.name}": _component(p) for p in packages}
    if base:
        name = base.removeprefix("docker://").split("@")[0]
        repo = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
        short = repo.rsplit("/", 1)[-1]
        qualifiers = {"repository_url": repo} if "/" in repo else {}
        purl = PackageURL(type="oci", name=short, version=base_digest or None,
                          qualifiers=qualifiers)
        hashes = [_hash(base_digest)] if base_digest else []
        components["base"] = Component(type=ComponentType.CONTAINER, name=repo,
                                       version=base_digest or None, purl=purl,
                                       bom_ref="base-image", hashes=hashes)
    serial = uuid.uuid5(NAMESPACE, f"{lock.inputs_hash}|{base_digest}|{project}|{version}")
    bom = Bom(serial_number=serial, metadata=BomMetaData(
        component=subject, timestamp=dt.datetime.fromtimestamp(epoch, dt.UTC)))
    for ref in sorted(components):
        bom.components.add(components[ref])
    by_name = {p.name: f"{p.owner}:{p.name}" for p in packages}
    for p in packages:
        for prov in p.provides:
            by_name.setdefault(prov, f"{p.owner}:{p.name}")
    for p in packages:
        deps = [components[by_name[d]] for d in sorted(set(p.depends))
                if d in by_name and by_name[d] != f"{p.owner}:{p.name}"]
        if deps:
            bom.register_dependency(components[f"{p.owner}:{p.name}"], deps)
    direct = [components[f"{p.owner}:{p.name}"] for p in packages if p.groups]
    bom.register_dependency(subject, direct or list(components.values()))
    text = JsonV1Dot6(bom).output_as_string(indent=1)
    doc = json.loads(text)  # the library's own order varies for equal sets: sort them
    return (json.dumps(_sorted(doc), indent=1, sort_keys=True) + "\n").encode()


def _sorted(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _sorted(v) for k, v in doc.items()}
    if isinstance(doc, list):
        items = [_sorted(v) for v in doc]
        return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
    return doc


def project_version(root) -> str:
    """The project's version from pyproject.toml ([project] or [tool.poetry]), or ""."""
    import tomllib
    from pathlib import Path

    path = Path(root) / "pyproject.toml"
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return ""
    return str(doc.get("project", {}).get("version")
               or doc.get("tool", {}).get("poetry", {}).get("version") or "")


def validate(data: bytes) -> None:
    """Raise BuildError when `data` is not valid CycloneDX 1.6 JSON."""
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(data.decode())
    if error is not None:
        raise BuildError(f"the SBOM does not follow the CycloneDX 1.6 schema: {error}",
                         hint="this is a dockyard bug: please report it")


def prefix_of(data: bytes) -> str:
    """The environment's prefix an SBOM of dockyard's names ("" for others)."""
    subject = json.loads(data).get("metadata", {}).get("component", {})
    return next((p.get("value", "") for p in subject.get("properties", [])
                 if p.get("name") == "dockyard:prefix"), "")


def components(data: bytes) -> dict[tuple[str, str], str]:
    """{(purl type, name): version} of the libraries an SBOM lists (dockyard's or others')."""
    from packageurl import PackageURL

    out: dict[tuple[str, str], str] = {}
    for c in json.loads(data).get("components", []):
        if c.get("type") != "library":
            continue
        try:
            purl = PackageURL.from_string(c["purl"]) if c.get("purl") else None
        except ValueError:
            purl = None
        kind = purl.type if purl else "generic"
        out[(kind, c.get("name", ""))] = c.get("version", "")
    return out


__all__ = ["SBOM_IN_IMAGE", "components", "make_sbom", "prefix_of", "project_version",
           "validate"]
