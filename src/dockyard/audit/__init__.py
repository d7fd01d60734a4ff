"""`dockyard check`: where every byte of an image went, and what is wrong with it.

    read_image (edge: engine, archive, layout, registry)
        -> RawImage -> build_inventory -> Inventory -> run_checks -> Findings
        -> reports (terminal tables, JSON, HTML): pure renderings of a Report

`audit("myapp:1", base="platform/jupyter:1", policy=Policy(cuda="12.6"))` does
all of it; the pieces are public for tests and other commands.
"""

from __future__ import annotations

from collections.abc import Callable

from .checks import run_checks
from .inventory import build_inventory
from .model import Finding, Inventory, Policy, RawImage, Report
from .sources import ImageRef, config_of, parse_ref, read_image


def audit(image: str, *, base: str | None = None, policy: Policy | None = None, engine=None,
          tls_verify: bool = True, on_bytes: Callable[[int], None] | None = None) -> Report:
    """Read `image` (any source in `sources`), inventory it and run every check."""
    policy = policy or Policy()
    base_config = None
    if base:
        base_config = config_of(parse_ref(base), engine=engine, tls_verify=tls_verify)
        if policy.base_ref is None:
            policy = Policy(budget=policy.budget, cuda=policy.cuda, base_ref=base)
    raw = read_image(parse_ref(image), engine=engine, tls_verify=tls_verify, on_bytes=on_bytes)
    inventory = build_inventory(raw, base_config)
    return Report(inventory=inventory, findings=run_checks(inventory, policy), policy=policy)


__all__ = ["Finding", "ImageRef", "Inventory", "Policy", "RawImage", "Report", "audit",
           "build_inventory", "parse_ref", "read_image", "run_checks"]
