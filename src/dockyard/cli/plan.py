"""`dockyard plan`: how the image will be laid out on the base, and why (builds nothing)."""

from __future__ import annotations

import argparse

from .build import add_common, prepare
from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser("plan", help="show how the image will be laid out, and why",
                       description=__doc__)
    add_common(p)
    p.add_argument("--containerfile", action="store_true",
                   help="also print the Containerfile the plan renders")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..plan import describe
    from ..render import render

    p = prepare(args, ui)
    for line in describe(p.plan):
        ui.info(line)
    if args.containerfile:  # unwrapped, so that it can be copied as it is
        from rich.markup import escape

        from ..redact import redact

        ui.console.print("\n" + escape(redact(render(p.plan).containerfile)), soft_wrap=True,
                         highlight=False, end="")
    return 0
