"""`dockyard cluster`: Dask clusters whose client, scheduler and workers are identical.

    dockyard cluster build --base REF -t TAG [--light-scheduler] [--push DEST]
    dockyard cluster spec  --kind dask-kubernetes|dask-gateway --image REF [-o FILE]
    dockyard cluster check ADDRESS [--image IMAGE | --python PATH] [--lock FILE]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    from .build import add_common

    p = sub.add_parser("cluster", help="Dask cluster images, manifests and proof",
                       description="Dask clusters whose client, scheduler and workers are "
                       "identical by construction, and proven on the live cluster.")
    cmds = p.add_subparsers(dest="cluster_command", metavar="SUBCOMMAND")

    b = cmds.add_parser("build", help="the notebook, scheduler and worker images from one lock",
                        description="Build the notebook image (as `dockyard build`) and the "
                        "scheduler and worker images from it: the same layers, by digest, "
                        "with `dask scheduler` / `dask worker` from the app's environment.")
    add_common(b)
    b.add_argument("-t", "--tag", required=True, metavar="TAG",
                   help="the notebook image; the others are TAG-scheduler and TAG-worker")
    b.add_argument("--light-scheduler", action="store_true",
                   help="a scheduler with fewer packages (never fewer than is safe; "
                   "default: dockyard.toml [cluster] light-scheduler, else off)")
    b.add_argument("--push", metavar="DEST",
                   help="push the three images to DEST, DEST-scheduler and DEST-worker")
    b.add_argument("--no-cache", action="store_true", help="rebuild every layer")

    s = cmds.add_parser("spec", help="ready-to-apply manifests (dask-kubernetes, dask-gateway)",
                        description="Write a dask-kubernetes DaskCluster (with a ConfigMap of "
                        "the environment for the notebook) or dask-gateway Helm values, "
                        "images by digest, from dockyard.toml [cluster].")
    s.add_argument("--kind", required=True, choices=("dask-kubernetes", "dask-gateway"))
    s.add_argument("--image", required=True, metavar="REF",
                   help="the notebook image as pushed (REF-scheduler and REF-worker beside it), "
                   "by tag or by digest")
    s.add_argument("--scheduler-image", metavar="REF", help="default: REF-scheduler")
    s.add_argument("--worker-image", metavar="REF", help="default: REF-worker")
    s.add_argument("--project", type=Path, default=Path("."), metavar="DIR")
    s.add_argument("--settings", type=Path, default=None, metavar="FILE")
    s.add_argument("--namespace", default="", help="the Kubernetes namespace (default: none, "
                   "the one `kubectl apply` uses)")
    s.add_argument("--engine", metavar="NAME", help="for images not in a registry")
    s.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="write the manifests to FILE (default: standard output)")

    c = cmds.add_parser("check", help="prove a running cluster matches the lock and the client",
                        description="Connect as a client, take the inventory of the scheduler "
                        "and of every worker, compare each with the lock and with the client; "
                        "exit 1 on any difference.")
    c.add_argument("address", help="the scheduler, e.g. tcp://10.0.0.5:8786")
    where = c.add_mutually_exclusive_group()
    where.add_argument("--image", metavar="IMAGE",
                       help="run the client in a container of this (notebook) image, on the "
                       "host's network")
    where.add_argument("--python", metavar="PATH",
                       help="run the client with this interpreter (one that has distributed)")
    c.add_argument("--lock", type=Path, metavar="FILE",
                   help="the lock to compare with (default: the client image's, else "
                   "./dockyard.lock when present)")
    c.add_argument("--ignore", action="append", default=[], metavar="NAME",
                   help="a distribution not to compare (repeatable)")
    c.add_argument("--timeout", type=float, default=30.0,
                   help="seconds to connect and collect (default 30)")
    c.add_argument("--engine", metavar="NAME", help="podman or docker, for --image")
    c.add_argument("--json", metavar="FILE", help="also write the inventories and differences")
    p.set_defaults(cluster_parser=p)
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    command = getattr(args, "cluster_command", None)
    if command == "build":
        return _build(args, ui)
    if command == "spec":
        return _spec(args, ui)
    if command == "check":
        return _check(args, ui)
    args.cluster_parser.print_help()
    return 2


def _build(args: argparse.Namespace, ui: Ui) -> int:
    from ..cluster.images import build_roles, role_tags
    from ..cluster.settings import read_cluster_settings
    from .build import prepare

    p = prepare(args, ui)
    settings = read_cluster_settings(p.root, args.settings)
    light = args.light_scheduler or settings.light_scheduler
    for note in p.plan.notes:
        ui.warn(note)
    with ui.step(f"Building the notebook, scheduler and worker images of {args.tag}") as progress:
        built = build_roles(p, args.tag, light=light, no_cache=args.no_cache, on_line=progress)
    for image in built.images:
        shared = "shares the environment layer" if built.env_layer in image.layers else \
            "its own environment (light)"
        command = " ".join(image.command) or "the base's CMD"
        ui.ok(f"{image.role:9} {image.tag} ({image.image_id[:12]}): {command}; {shared}")
    ui.info(f"environment layer: {built.env_layer}")
    for note in built.notes:  # the light scheduler's plan: what it kept and left out, and why
        ui.info(note)
    if built.left_out:
        ui.info("light scheduler: what it leaves out is not imported at module level by the "
                "project, nor needed by what is (listed in /opt/dockyard/left-out.txt)")
    if args.push:
        from ..cluster.spec import push_roles

        with ui.step(f"Pushing to {args.push}") as progress:
            pushed = push_roles(p.engine, built, role_tags(args.push), on_line=progress)
        for role, ref in pushed.items():
            ui.ok(f"pushed {role:9} {ref}")
    return 0


def _spec(args: argparse.Namespace, ui: Ui) -> int:
    from ..cluster.settings import read_cluster_settings
    from ..cluster.spec import render_spec, resolve_images
    from ..fsutil import write_atomic

    settings = read_cluster_settings(args.project.resolve(), args.settings)
    with ui.step("Resolving the images' digests"):
        images = resolve_images(args.image, args.scheduler_image, args.worker_image,
                                engine_name=args.engine, warn=ui.warn)
    text = render_spec(args.kind, settings, images, namespace=args.namespace,
                       lock_packages=_lock_packages(args.project.resolve()))
    if args.output:
        write_atomic(args.output, text)
        ui.ok(f"wrote {args.output} ({args.kind})")
    else:
        ui.console.file.write(text)
    return 0


def _lock_packages(root: Path) -> frozenset[str]:
    """The distributions of the project's lock, when there is one (what the images hold)."""
    from ..lock.model import LOCK_FILENAME, loads

    path = root / LOCK_FILENAME
    if not path.is_file():
        return frozenset()
    lock = loads(path.read_text(), str(path))
    return frozenset(n for p in lock.packages for n in (p.name, *p.provides))


def _check(args: argparse.Namespace, ui: Ui) -> int:
    import json
    import time

    from ..cluster.check import check_cluster, render_rows
    from ..fsutil import write_atomic

    started = time.monotonic()
    with ui.step(f"Taking the inventory of {args.address}"):
        result = check_cluster(args.address, image=args.image, python=args.python,
                               lock_path=args.lock, ignore=args.ignore, timeout=args.timeout,
                               engine_name=args.engine)
    elapsed = time.monotonic() - started
    comparison = result.comparison
    for note in result.notes + comparison.notes:
        ui.info(f"note: {note}")
    members = ", ".join(f"{m.role} {m.host}" for m in comparison.members)
    ui.info(f"compared {len(comparison.members)} processes ({members}) with "
            f"{result.lock_source} and the client, in {elapsed:.1f} s")
    if args.json:
        write_atomic(args.json, json.dumps(result.to_dict(), indent=1, sort_keys=True) + "\n")
    if comparison.ok:
        ui.ok("no difference: the scheduler and every worker match the lock and the client")
        return 0
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=f"{len(comparison.differences)} differences", title_justify="left")
    for col in ("role", "host", "package", "difference", "lock", "client", "found"):
        table.add_column(col, overflow="fold")  # whole addresses and versions, never "…"
    for row in render_rows(comparison):
        table.add_row(*(escape(x) for x in row))
    ui.console.print(table)
    return 1
