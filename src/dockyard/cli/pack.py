"""`dockyard pack`: the environment of dockyard.lock as one file for hosts without containers.

    dockyard pack [-o app-env.sh | -o app-env.tar.gz] [--project DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .ui import Ui


def register(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "pack", help="pack the locked environment for hosts (sh + tar to install)",
        description="Make the environment of dockyard.lock (conda packages, PyPI wheels, git "
        "dependencies and the project's own package, all hash-checked) and write it as a "
        "self-extracting script (NAME.sh) or a plain tarball (NAME.tar.gz). On a host: "
        "`sh NAME.sh --prefix DIR` (sh, tar and gzip only).")
    p.add_argument("-o", "--output", type=Path, metavar="FILE",
                   help="NAME.sh or NAME.tar.gz (default: PROJECT-env.sh in the current "
                        "directory)")
    p.add_argument("--project", type=Path, default=Path("."), metavar="DIR",
                   help="the project directory (default: .)")
    p.add_argument("--settings", type=Path, default=None, metavar="FILE",
                   help="deployment settings (default: DIR/dockyard.toml when present)")
    p.add_argument("--compression-level", type=int, default=6, choices=range(1, 10),
                   metavar="1-9", help="gzip level (default 6)")
    return p


def main(args: argparse.Namespace, ui: Ui) -> int:
    from ..pack import make_pack
    from ..pipeline import open_project

    project = open_project(args.project, args.settings)
    out = args.output or Path(f"{project.spec.name or 'app'}-env.sh")
    with ui.step(f"Packing {project.spec.name or project.root.name} from dockyard.lock") \
            as progress:
        result = make_pack(project, out, level=args.compression_level, progress=progress)
    ui.info(f"{result.path}: pack {result.pack_id}, {result.payload_bytes / 1e6:.1f} MB "
            f"({result.installed_bytes / 1e6:.1f} MB installed, {result.files} files, "
            f"{result.relocated_files} relocated at unpack time"
            + (f", {result.binary_files} binary" if result.binary_files else "")
            + f") in {result.seconds:.1f} s")
    if result.kind == "sh":
        ui.info(f"install on a host: sh {result.path.name} --prefix /opt/envs/"
                f"{project.spec.name or 'app'}   (add --kernel to register a Jupyter kernel)")
    else:
        ui.info(f"install on a host: mkdir DIR && tar -xzf {result.path.name} -C DIR && "
                "sh DIR/.dockyard/dockyard-env relocate && sh DIR/.dockyard/dockyard-env check")
    return 0
