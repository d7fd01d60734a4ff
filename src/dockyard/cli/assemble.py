"""`dockyard build --engine none`: the image assembled on the host, no engine build.

    dockyard build --base REF -t TAG --engine none --output oci:DIR
    dockyard build --base REF -t TAG --engine none --output oci-archive:FILE
    dockyard build --base REF -t TAG --engine none --push HOST/NAME:TAG
    dockyard build --base REF -t TAG --engine none --load

REF is a name in podman/docker storage, oci:DIR[:REF], oci-archive:FILE or
docker://HOST/NAME[:TAG|@DIGEST]. The base is probed with the engine when
there is one, else read from its layers.
"""

from __future__ import annotations

import argparse
import time

from ..errors import BuildError
from ..pipeline import base_ref, open_project, parse_secrets, prepare
from .ui import Ui


def _engine_or_none():
    from ..engines import available, get_engine

    found = available()
    return get_engine(found[0]) if found else None


def _outputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    outs = []
    for item in args.output or []:
        kind, sep, where = item.partition(":")
        if not sep or kind not in ("oci", "oci-archive") or not where:
            raise BuildError(f"--output {item!r}: expected oci:DIR or oci-archive:FILE",
                             hint="e.g. --output oci:out/image or --output oci-archive:image.tar")
        outs.append((kind, where))
    if args.push:
        outs.append(("push", args.push))
    if args.load:
        outs.append(("load", args.tag or ""))
    if not outs:
        raise BuildError("--engine none needs somewhere to put the image",
                         hint="add --output oci:DIR, --output oci-archive:FILE, --push DEST "
                         "or --load")
    if args.load and not args.tag:
        raise BuildError("--load needs a name for the image", hint="pass -t TAG")
    return outs


def _probe(engine, base: str, base_image):
    """Facts about the base: with the engine when it has the image (kept by image id: an
    image never changes), else from its layers."""
    transport = base.startswith(("oci:", "oci-archive:", "docker://"))
    if engine is not None and not transport:
        return lambda e, ref: _cached_probe(engine, ref, base_image.config_digest)
    from ..oci.probe import probe_layers

    return lambda e, ref: probe_layers(ref, engine, base_image)


def _cached_probe(engine, ref: str, image_id: str):
    import hashlib
    import pickle

    from .. import __version__
    from ..probe import probe_base
    from ..probe.script import PROBE_SCRIPT
    from ..render.stage import cache_dir

    key = hashlib.sha256(f"{__version__}\0{image_id}\0{ref}\0{PROBE_SCRIPT}".encode())
    path = cache_dir() / "probes" / f"engine-{key.hexdigest()[:32]}.pickle"
    if path.is_file():
        try:
            return pickle.loads(path.read_bytes())
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError):
            pass
    facts = probe_base(engine, ref)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".part").write_bytes(pickle.dumps(facts))
    path.with_suffix(".part").replace(path)
    return facts


def build_without_engine(args: argparse.Namespace, ui: Ui) -> int:
    from ..oci.assemble import assemble
    from ..oci.base import open_base
    from ..oci.output import load, push, write_archive, write_layout
    from ..sbom import make_sbom, project_version
    from .cache import mention_if_large

    outputs = _outputs(args)
    start = time.monotonic()
    project = open_project(args.project, args.settings)
    base = base_ref(project, args.base)
    engine = _engine_or_none()
    if engine is None and any(kind == "load" for kind, _ in outputs):
        raise BuildError("--load: no podman or docker on this machine",
                         hint="use --output oci-archive:FILE and load it where an engine runs")
    secrets = parse_secrets(args.secret)
    with ui.step(f"Reading the base {base}"):
        base_image = open_base(base, engine)
        p = prepare(project, base, engine, secrets=secrets, kernel_name=args.kernel_name,
                    display_name=args.display_name, probe=_probe(engine, base, base_image))
    for note in p.plan.notes:
        ui.warn(note)
    # (schema validation takes ~40 s of IRI parsing: the tests and `dockyard sbom --validate`)
    sbom = make_sbom(p.lock, project=p.plan.project_name, version=project_version(p.root),
                     base=base, base_digest=base_image.manifest_digest, prefix=p.plan.prefix)
    with ui.step("Assembling the image (no engine)") as progress:
        image = assemble(p, base_image, sbom=sbom, progress=progress)
    made = ", ".join(image.built) or "none: every layer from the cache"
    ui.ok(f"assembled {image.digest} (layers made: {made}; "
          f"{time.monotonic() - start:.1f} s)")
    for kind, where in outputs:
        with ui.step(f"Writing {kind}:{where}" if kind.startswith("oci") else
                     f"Pushing to {where}" if kind == "push" else f"Loading {where}") as progress:
            if kind == "oci":
                write_layout(image, where, args.tag or "", progress)
            elif kind == "oci-archive":
                write_archive(image, where, args.tag or "", progress)
            elif kind == "push":
                report = push(image, where, progress)
            else:
                load(image, engine, where, progress)
        if kind == "push":
            ui.info(f"  {len(report['sent'])} blobs sent, {len(report['mounted'])} mounted "
                    f"from the base's repository, {len(report['present'])} already there; "
                    f"SBOM referrer {str(report['referrer'])[:19]}")
    if set(image.built) - {"project"}:  # a code-only rebuild grows them by a small layer
        mention_if_large(ui, engine)
    return 0


__all__ = ["build_without_engine"]
