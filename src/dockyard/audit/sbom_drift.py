"""`sbom-drift`: the SBOM an image carries against what the image really holds (pure).

dockyard writes the SBOM at /opt/dockyard/sbom.cdx.json; when an image has one,
every conda and PyPI component it lists must be installed in the image's own
environments at that version, and every distribution installed there must be
listed. A later layer that adds, removes or upgrades a package (a `pip install`
in a derived image) makes the SBOM lie: that is an error, with the packages.
"""

from __future__ import annotations

from collections.abc import Iterable

from .model import Finding, Inventory, Policy
from .packages import normalize_name

SBOM_PATH = "/opt/dockyard/sbom.cdx.json"


def sbom_drift(inv: Inventory, policy: Policy) -> Iterable[Finding]:  # noqa: ARG001
    if not inv.sbom:
        return
    from ..sbom import components, prefix_of

    try:
        listed = {(kind, normalize_name(name)): version
                  for (kind, name), version in components(inv.sbom).items()
                  if kind in ("conda", "pypi")}
        prefix = prefix_of(inv.sbom)
    except ValueError:
        yield Finding("sbom-drift", "error", f"{SBOM_PATH} is not a readable CycloneDX "
                      "document", 0, (SBOM_PATH,), "rebuild the image with dockyard build")
        return
    app = {prefix} if prefix else {e.prefix for e in inv.environments if not e.from_base}
    have = {("conda" if d.installer == "conda" else "pypi", d.name): d.version
            for d in inv.distributions if d.env in app}
    missing = sorted(f"{n} {v} ({k})" for (k, n), v in listed.items() if (k, n) not in have)
    extra = sorted(f"{n} {v} ({k})" for (k, n), v in have.items() if (k, n) not in listed)
    changed = sorted(f"{n}: SBOM {listed[(k, n)]}, installed {v} ({k})"
                     for (k, n), v in have.items()
                     if (k, n) in listed and listed[(k, n)] != v)
    if missing or extra or changed:
        details = ([f"listed, not installed: {x}" for x in missing]
                   + [f"installed, not listed: {x}" for x in extra]
                   + [f"other version: {x}" for x in changed])
        yield Finding(
            "sbom-drift", "error",
            f"the image's SBOM does not match what it holds ({len(missing)} missing, "
            f"{len(extra)} unlisted, {len(changed)} other versions)", 0, (SBOM_PATH,),
            "a later layer changed the environment: rebuild with `dockyard build` (or "
            "`dockyard sbom IMAGE` to see the SBOM)", tuple(details[:50]))
