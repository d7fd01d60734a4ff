"""`dockyard sbom`: the CycloneDX SBOM of an image or of a lock.

    dockyard sbom IMAGE -o sbom.cdx.json          # the one dockyard wrote into the image
    dockyard sbom --lock dockyard.lock -o sbom.cdx.json [--base REF]
    dockyard sbom ... --validate                  # check it against the CycloneDX schema

IMAGE is a name in podman/docker storage, oci:DIR[:REF], oci-archive:FILE or
docker://HOST/NAME[:TAG]. An image dockyard built without an SBOM inside gets
one made from the lock inside it (/opt/dockyard/dockyard.lock).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

from ..errors import BuildError
from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("sbom", help="the CycloneDX SBOM of an image or a lock",
                       description="Write the CycloneDX SBOM of IMAGE (the one dockyard put in "
                       "it) or of a lock (--lock).")
    p.add_argument("image", nargs="?", help="an image (storage name, oci:DIR, oci-archive:FILE, "
                   "docker://REF)")
    p.add_argument("--lock", type=Path, metavar="FILE", help="make it from this dockyard.lock")
    p.add_argument("--base", metavar="REF", help="with --lock: the base image, named by digest")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="where (default: stdout)")
    p.add_argument("--validate", action="store_true",
                   help="check it against the CycloneDX 1.6 JSON schema (slow: ~1 min)")
    return p


def _from_lock(path: Path, base: str | None) -> bytes:
    from ..lock.model import loads
    from ..sbom import make_sbom, project_version

    if not path.is_file():
        raise BuildError(f"{path}: no such file", hint="run `dockyard lock` first")
    lock = loads(path.read_text(), str(path))
    root = path.resolve().parent
    name = _project_name(root)
    digest = ""
    if base:
        from ..oci.base import open_base
        from .assemble import _engine_or_none

        digest = open_base(base, _engine_or_none()).manifest_digest
    return make_sbom(lock, project=name, version=project_version(root), base=base or "",
                     base_digest=digest)


def _project_name(root: Path) -> str:
    import tomllib

    try:
        doc = tomllib.loads((root / "pyproject.toml").read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return root.name
    return str(doc.get("project", {}).get("name")
               or doc.get("tool", {}).get("poetry", {}).get("name") or root.name)


def _from_image(ref: str) -> bytes:
    from ..lock.model import loads
    from ..oci.base import open_base
    from ..oci.probe import read_files
    from ..plan.model import LOCK_IN_IMAGE
    from ..sbom import SBOM_IN_IMAGE, make_sbom
    from .assemble import _engine_or_none

    base = open_base(ref, _engine_or_none())
    found = read_files(base, {SBOM_IN_IMAGE, LOCK_IN_IMAGE})
    if SBOM_IN_IMAGE in found:
        return found[SBOM_IN_IMAGE]
    if LOCK_IN_IMAGE not in found:
        raise BuildError(f"{ref} has neither {SBOM_IN_IMAGE} nor {LOCK_IN_IMAGE}",
                         hint="is it an image dockyard built? make one from its lock with "
                         "--lock dockyard.lock")
    labels = (base.config.get("config") or {}).get("Labels") or {}
    lock = loads(found[LOCK_IN_IMAGE].decode(), f"{ref}:{LOCK_IN_IMAGE}")
    pinned = labels.get("io.dockyard.base", "")
    return make_sbom(lock, project=labels.get("io.dockyard.kernel", "app"),
                     base=pinned.split("@")[0], base_digest=pinned.partition("@")[2])


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..fsutil import write_atomic
    from ..sbom import components, validate

    if bool(args.image) == bool(args.lock):
        raise BuildError("give an IMAGE or --lock FILE (one of them)",
                         hint="dockyard sbom myapp:1 -o sbom.cdx.json")
    # without -o the SBOM alone goes to stdout: no progress lines there
    quiet = contextlib.nullcontext() if not args.output else None
    with quiet or ui.step("Reading " + (args.image or str(args.lock))):
        data = _from_image(args.image) if args.image else _from_lock(args.lock, args.base)
    if args.validate:
        with quiet or ui.step("Validating against the CycloneDX 1.6 schema"):
            validate(data)
    if args.output:
        write_atomic(args.output, data.decode())
        ui.ok(f"wrote {args.output} ({len(components(data))} components)")
    else:
        sys.stdout.write(data.decode())
    return 0
