"""`dockyard verify IMAGE`: start it as the platform would and run checks in its kernel."""

from __future__ import annotations

import json

from ..engines import get_engine
from ..errors import VerifyError
from ..fsutil import write_atomic
from ..verify import render, verify_image


def register(sub):
    p = sub.add_parser("verify", help="run an image as the platform would and check its kernel",
                       description=__doc__)
    p.add_argument("image")
    p.add_argument("--cmd", help='the platform\'s command, run as /bin/sh -c CMD '
                                 '(default: the image\'s own CMD)')
    p.add_argument("--kernel", help="kernelspec to check (default: label io.dockyard.kernel, "
                                    "else the one beside the base's default)")
    p.add_argument("--lock", help="the dockyard.lock the image was built from "
                                  "(default: the file named by label io.dockyard.lock)")
    p.add_argument("--token", help="Jupyter token, when the command does not carry it "
                   "(by default: read from the command, JUPYTER_TOKEN, or asked of the "
                   "running container with `jupyter server list`)")
    p.add_argument("--user", metavar="UID[:GID]",
                   help="run as this user, as the platform does (default: the image's USER)")
    p.add_argument("--home-volume", action="store_true",
                   help="mount an empty volume over the image's HOME, owned by the user it "
                   "runs as, as platforms do with the user's persistent volume")
    p.add_argument("--engine", help="podman or docker (default: the first found)")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds to wait for Jupyter to answer (default 120)")
    p.add_argument("--json", metavar="FILE", help="also write the report as JSON")
    return p


def main(args, ui) -> int:
    engine = get_engine(args.engine)
    try:
        with ui.step(f"starting {args.image} and its kernel") as progress:
            report = verify_image(engine, args.image, cmd=args.cmd, kernel=args.kernel,
                                  lock=args.lock, token=args.token, timeout=args.timeout,
                                  progress=progress, user=args.user,
                                  home_volume=args.home_volume)
    except VerifyError as exc:  # CI reads the JSON either way
        if args.json:
            write_atomic(args.json, json.dumps(
                {"image": args.image, "ok": False, "error": exc.message, "hint": exc.hint},
                indent=2) + "\n")
        raise
    for line in render(report):
        ui.info(line)
    if args.json:
        write_atomic(args.json, json.dumps(report.to_dict(), indent=2) + "\n")
    return 0 if report.ok else 1
