"""`dockyard check IMAGE`: audit any image; exit 1 when a finding reaches --fail-on."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..audit import Policy, audit
from ..audit.model import SEVERITIES
from ..audit.units import human, parse_size
from ..fsutil import ensure_writable, write_atomic
from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "check", help="audit an image: bytes, duplicates, CUDA, platform contract, secrets",
        description="IMAGE is a name in Podman/Docker storage, oci-archive:PATH, "
                    "docker-archive:PATH, oci:DIR[:REF] or docker://HOST/NAME:TAG. "
                    "Exit 0 when no finding reaches --fail-on, 1 otherwise, 2 on bad input.")
    p.add_argument("image")
    p.add_argument("--base", metavar="IMAGE", help="the platform's base image (same forms)")
    p.add_argument("--budget", metavar="SIZE", help="size budget, e.g. 20GB")
    p.add_argument("--cuda", metavar="X.Y", help="the CUDA version the nodes require")
    p.add_argument("--fail-on", choices=[*reversed(SEVERITIES), "never"], default="error",
                   help="lowest severity that fails the check (default: error)")
    p.add_argument("--json", metavar="PATH", help="write the findings and inventory as JSON")
    p.add_argument("--html", metavar="PATH", help="write a self-contained HTML report")
    p.add_argument("--engine", help="podman or docker (default: the first found)")
    p.add_argument("--tls-verify", default=True, action=argparse.BooleanOptionalAction,
                   help="verify registry TLS (--no-tls-verify for a registry on loopback)")
    p.add_argument("--top", type=int, default=15, help="distributions to list (default 15)")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..audit.report_terminal import render

    policy = Policy(budget=parse_size(args.budget) if args.budget else None,
                    cuda=args.cuda, base_ref=args.base)
    engine = None
    if args.engine:
        from ..engines import get_engine

        engine = get_engine(args.engine)
    for out in (args.json, args.html):   # before reading gigabytes, not after
        if out:
            ensure_writable(Path(out).resolve().parent, f"the folder of {out}")
    read = [0]
    with ui.step(f"reading {args.image}") as progress:
        def on_bytes(n: int) -> None:
            before = read[0]
            read[0] += n
            if before >> 26 != read[0] >> 26:   # every 64 MiB
                progress(f"{human(read[0])} read")

        report = audit(args.image, base=args.base, policy=policy, engine=engine,
                       tls_verify=args.tls_verify, on_bytes=on_bytes)
    ui.console.print(render(report, top=args.top))
    if args.json:
        from ..audit.report_json import dumps

        write_atomic(args.json, dumps(report))
        ui.ok(f"wrote {args.json}")
    if args.html:
        from ..audit.report_html import render_html

        write_atomic(args.html, render_html(report))
        ui.ok(f"wrote {args.html}")
    return 1 if report.failed(args.fail_on) else 0
