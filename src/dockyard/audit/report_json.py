"""A Report as JSON for machines (pure). The shape, schema "dockyard-check/1":

    {"schema": "dockyard-check/1", "image": str, "base": str | null,
     "summary": {"total_bytes", "visible_bytes", "wasted_bytes", "budget_bytes", "layers",
                 "base_layers", "errors", "warnings", "infos", "cuda_target"},
     "config": {"user", "cmd", "entrypoint", "env"},          # env values masked
     "layers": [{"index", "digest", "bytes", "wasted_bytes", "files", "created_by",
                 "from_base"}],
     "environments": [{"prefix", "kind", "python", "bytes", "layers", "from_base"}],
     "distributions": [{"name", "version", "environment", "installer", "bytes", "files",
                        "layer", "where"}],                   # largest first
     "cuda": [{"path", "library", "version", "owner", "bytes", "sha256", "layer"}],
     "kernels": [{"name", "path", "argv0", "layer"}],
     "findings": [{"code", "severity", "title", "bytes", "paths", "hint", "details"}]}

Fields are only added within a schema version. Credentials never appear: the
inventory holds only masked previews.
"""

from __future__ import annotations

import json
from typing import Any

from .model import Report

SCHEMA = "dockyard-check/1"


def to_dict(report: Report) -> dict[str, Any]:
    inv, conf = report.inventory, report.inventory.config
    count = {s: sum(1 for f in report.findings if f.severity == s)
             for s in ("error", "warning", "info")}
    return {
        "schema": SCHEMA,
        "image": inv.ref,
        "base": report.policy.base_ref,
        "summary": {
            "total_bytes": inv.total, "visible_bytes": inv.final, "wasted_bytes": inv.wasted,
            "budget_bytes": report.policy.budget, "layers": len(inv.layers),
            "base_layers": inv.base_layers, "errors": count["error"],
            "warnings": count["warning"], "infos": count["info"],
            "cuda_target": report.policy.cuda,
        },
        "config": {"user": conf.user, "cmd": _list(conf.cmd), "entrypoint": _list(conf.entrypoint),
                   "env": list(conf.env)},
        "layers": [{"index": x.index, "digest": x.digest, "bytes": x.size,
                    "wasted_bytes": x.wasted, "files": x.files, "created_by": x.created_by,
                    "from_base": x.from_base} for x in inv.layers],
        "environments": [{"prefix": e.prefix, "kind": e.kind, "python": e.python,
                          "bytes": e.size, "layers": list(e.layers), "from_base": e.from_base}
                         for e in inv.environments],
        "distributions": [{"name": d.name, "version": d.version, "environment": d.env,
                           "installer": d.installer, "bytes": d.size, "files": d.files,
                           "layer": d.layer, "where": d.where} for d in inv.distributions],
        "cuda": [{"path": c.path, "library": c.lib, "version": c.version, "owner": c.owner,
                  "bytes": c.size, "sha256": c.sha256, "layer": c.layer} for c in inv.cuda],
        "kernels": [{"name": k.name, "path": k.path, "argv0": k.argv0, "layer": k.layer}
                    for k in inv.kernels],
        "findings": [{"code": f.code, "severity": f.severity, "title": f.title, "bytes": f.size,
                      "paths": list(f.paths), "hint": f.hint, "details": list(f.details)}
                     for f in report.findings],
    }


def _list(value: tuple[str, ...] | None) -> list[str] | None:
    return list(value) if value is not None else None


def dumps(report: Report) -> str:
    return json.dumps(to_dict(report), indent=2, sort_keys=True) + "\n"
