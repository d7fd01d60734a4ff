"""`dockyard build`: lock -> probe the base -> plan -> Containerfile + context -> image.

    dockyard build --base REF -t TAG [--project DIR] [--engine NAME]
                   [--containerfile-only OUT] [--push DEST] [--secret id=ca,src=PATH ...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import lifecycle
from ..errors import BuildError
from ..fsutil import ensure_writable
from ..pipeline import Prepared, base_ref, open_project, parse_secrets
from ..pipeline import prepare as pipeline_prepare
from ..pipeline import stage as pipeline_stage
from .ui import Ui


def add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--base", metavar="REF",
                   help="the platform's base image (default: [target] base in dockyard.toml)")
    p.add_argument("--project", type=Path, default=Path("."), metavar="DIR",
                   help="the project directory (default: .)")
    p.add_argument("--settings", type=Path, default=None, metavar="FILE",
                   help="deployment settings (default: DIR/dockyard.toml when present)")
    p.add_argument("--engine", metavar="NAME", help="podman or docker (default: the first "
                   "found); `none` assembles the image on the host (build only)")
    p.add_argument("--kernel-name", metavar="NAME", help="kernel name (default: the project's)")
    p.add_argument("--display-name", metavar="TEXT",
                   help='kernel display name (default: "PROJECT (Python X.Y)")')
    p.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH",
                   help="a build secret, mounted only where needed and never stored "
                   "(id=ca: a CA bundle for a TLS-intercepting proxy; default: $SSL_CERT_FILE; "
                   "id=netrc: index credentials)")
    p.add_argument("--own-python", action="store_true",
                   help="bring the lock's conda python even when the base's Python is the "
                   "very same version (by default the base's is reused)")


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("build", help="build the image on the platform's base",
                       description="Build the project's image from dockyard.lock on a base image.")
    add_common(p)
    p.add_argument("-t", "--tag", metavar="TAG", help="name of the image to build")
    p.add_argument("--containerfile-only", type=Path, metavar="OUT",
                   help="write the Containerfile and its context into OUT and stop "
                   "(for a CI that builds it: Podman/Buildah or Docker BuildKit)")
    p.add_argument("--push", metavar="DEST", help="push the image to this registry reference")
    p.add_argument("--no-cache", action="store_true",
                   help="rebuild every layer (the engine's layer cache is not used)")
    p.add_argument("--no-keep-builder", action="store_true",
                   help="remove the builder stage's image after the build (the next build "
                   "starts cold); by default one per project is kept, for fast rebuilds")
    p.add_argument("--output", action="append", metavar="oci:DIR|oci-archive:FILE",
                   help="with --engine none: write the image there (repeatable)")
    p.add_argument("--load", action="store_true",
                   help="with --engine none: load the image into podman/docker as TAG")
    return p


def prepare(args: argparse.Namespace, ui: Ui) -> Prepared:
    """The CLI's arguments into the library's pipeline: shared by plan and build."""
    from ..engines import get_engine

    project = open_project(args.project, args.settings)
    base = base_ref(project, args.base)
    engine = get_engine(args.engine)
    secrets = parse_secrets(args.secret)
    with ui.step(f"Probing the base {base}"):
        return pipeline_prepare(project, base, engine, secrets=secrets,
                                kernel_name=args.kernel_name,
                                display_name=args.display_name,
                                reuse_base_python=not args.own_python)


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..engines import is_loopback
    from ..engines.housekeeping import BuildWatch, cache_mount, tidy_after_build
    from ..render import CONTAINERFILE
    from .cache import mention_if_large

    if args.engine == "none":
        from .assemble import build_without_engine

        return build_without_engine(args, ui)
    if args.output or args.load:
        raise BuildError("--output and --load go with --engine none",
                         hint="add --engine none, or use --push with an engine build")
    if not args.tag and not args.containerfile_only:
        raise BuildError("no image name", hint="pass -t TAG (or --containerfile-only OUT)")
    if args.containerfile_only:   # before probing and staging, not after
        out = args.containerfile_only.resolve()
        while not out.exists() and out.parent != out:   # it is made with its parents
            out = out.parent
        ensure_writable(out, "the output folder")
    p = prepare(args, ui)
    for note in p.plan.notes:
        ui.warn(note)
    interp = p.plan.interpreter
    how = ("a second interpreter from conda" if interp.kind == "conda"
           else "a venv of the base's, in place of conda's python" if interp.replaces_conda_python
           else "a venv of the base's")
    ui.info(f"interpreter: {interp.python} (Python {interp.version}, {how}; {interp.cost})")
    if args.containerfile_only:
        out = args.containerfile_only.resolve()
        with ui.step(f"Writing the build context to {out}") as progress:
            pipeline_stage(p, out, progress)
        flags = " ".join(f"--secret id={k},src={v}" for k, v in sorted(p.secrets.items()))
        ui.ok(f"wrote {out / CONTAINERFILE} and its context")
        ui.info(f"build it with: {p.engine.name} build {flags} -f {out / CONTAINERFILE} "
                f"-t {args.tag or 'IMAGE'} {out}")
        return 0
    previous = p.engine.inspect(args.tag)["Id"] if p.engine.exists(args.tag) else None
    with lifecycle.temp_dir(prefix="dockyard-context-") as tmp:
        ctx = tmp / "context"
        with ui.step("Preparing the build context") as progress:
            plan, _ = pipeline_stage(p, ctx, progress)
        if plan.app_build == "image":
            ui.warn("the project's wheel is platform-specific: it is built in the image, so "
                    "a code change rebuilds it there")
        watch = BuildWatch()
        with ui.step(f"Building {args.tag} with {p.engine.name}") as progress:
            image_id = p.engine.build(str(ctx), containerfile=str(ctx / CONTAINERFILE),
                                      tag=args.tag, secrets=p.secrets,
                                      on_line=lambda line: (watch(line), progress(line)),
                                      no_cache=args.no_cache)
    size = p.engine.inspect(args.tag).get("Size", 0)
    ui.ok(f"built {args.tag} ({image_id[:12]}, {size / 1e6:.0f} MB; the base is "
          f"{p.facts.size / 1e6:.0f} MB; {watch.cached} of {watch.run} steps "
          "from the layer cache)")
    tidied = tidy_after_build(p.engine, watch, plan.project_name, args.tag, previous,
                              plan.base_from)
    if tidied.builder and args.no_keep_builder:
        p.engine.cli("rmi", tidied.builder, timeout=300)
        ui.info(f"removed the builder stage's image ({tidied.builder})")
    elif tidied.builder:
        ui.info(f"builder stage kept as {tidied.builder} ({tidied.builder_size / 1e9:.2f} GB "
                "with its base; the layer cache of the next build): --no-keep-builder "
                "removes it")
    if tidied.removed:
        ui.info(f"removed {len(tidied.removed)} image(s) this build replaced: "
                + ", ".join(i.removeprefix("sha256:")[:12] for i in tidied.removed))
    where, held = cache_mount(p.engine)
    if p.engine.name == "podman":
        ui.info("the uv cache mount (source builds' backends) went with the build's temporary "
                "folder: 0 bytes kept" + (f"; an earlier build's holds {held / 1e9:.2f} GB at "
                                          f"{where} (`dockyard cache clean` removes it)"
                                          if where is not None else ""))
    if args.push:
        with ui.step(f"Pushing to {args.push}") as progress:
            p.engine.push(args.tag, args.push, tls_verify=not is_loopback(args.push),
                          on_line=progress)
        ui.ok(f"pushed {args.push}")
    mention_if_large(ui, p.engine)
    return 0
