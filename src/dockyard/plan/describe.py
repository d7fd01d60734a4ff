"""The plan as the lines `dockyard plan` prints (pure)."""

from __future__ import annotations

import json

from .model import BuildPlan


def describe(plan: BuildPlan) -> list[str]:
    i = plan.interpreter
    lines = [
        f"base        {plan.base_ref}",
        f"            pinned as {plan.base_from}",
        f"interpreter {i.python} (Python {i.version}, "
        + ("second interpreter from conda" if i.kind == "conda" else f"venv of {i.base_python}")
        + ")",
        f"            why: {i.reason}",
        *([f"            cost: {i.cost}"] if i.cost else []),
        f"environment {plan.prefix}, owned by {plan.owner} ({plan.owner_names})",
        f"packages    {len(plan.conda)} conda, {len(plan.wheels)} PyPI, "
        f"{len(plan.sources)} from source (git/path)",
        f"kernel      {plan.kernel.name!r} \"{plan.kernel.display_name}\" in "
        f"{plan.kernel.directory}",
        f"            argv {json.dumps(list(plan.kernel.argv))}",
        f"user        {plan.base_user or 'root'} (the base's, kept)",
        "cmd         " + (json.dumps(list(plan.base_cmd)) if plan.base_cmd else "(none)")
        + " (the base's, never overridden)",
    ]
    if plan.base_entrypoint:
        lines.append(f"entrypoint  {json.dumps(list(plan.base_entrypoint))} (the base's)")
    if plan.env:
        lines.append("env         " + " ".join(f"{k}={v}" for k, v in plan.env))
    if plan.secrets:
        lines.append("secrets     " + ", ".join(plan.secrets) + " (mounted, never in a layer)")
    if plan.install_project:
        lines.append("project     " + (
            "its wheel built on the host, installed tree copied last (a code change rebuilds "
            "only that layer)" if plan.app_build == "host" else
            "its platform-specific wheel built in the builder stage"))
    lines.append("layers")
    for n, layer in enumerate(plan.layers, 1):
        lines.append(f"  {n}. [{layer.stage}] {layer.what}")
        lines.append(f"     {layer.why}")
    for note in plan.notes:
        lines.append(f"note        {note}")
    return lines
