"""A Report as rich tables (pure: returns renderables; the CLI prints them)."""

from __future__ import annotations

import re

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from .model import Report
from .units import human

COLOURS = {"error": "red", "warning": "yellow", "info": "cyan"}
MAX_FINDINGS = 30


def short_step(created_by: str) -> str:
    """A build step as people wrote it: no `/bin/sh -c #(nop)`, digests cut to 12 digits."""
    text = re.sub(r"^/bin/sh -c (#\(nop\) )?", "", created_by.strip())
    text = re.sub(r"\b(file|dir|sha256):([0-9a-f]{12})[0-9a-f]{52}\b", r"\1:\2", text)
    return " ".join(text.split())


def render(report: Report, top: int = 15) -> RenderableType:
    inv = report.inventory
    parts: list[RenderableType] = [Text.from_markup(
        f"[bold]{escape(inv.ref)}[/bold]: {human(inv.total)} in {len(inv.layers)} layers, "
        f"{human(inv.final)} visible, {human(inv.wasted)} overwritten or deleted"
        + (f"; {inv.base_layers} layers from the base" if inv.base is not None else ""))]

    layers = Table(title="Layers", title_justify="left")
    for col, width in (("#", 2), ("size", 8), ("wasted", 8), ("files", 6), ("", 4)):
        layers.add_column(col, justify="right", no_wrap=True, min_width=width)
    layers.add_column("created by", overflow="ellipsis", no_wrap=True, max_width=90)
    for x in inv.layers:
        layers.add_row(str(x.index), human(x.size), human(x.wasted) if x.wasted else "",
                       str(x.files), "base" if x.from_base else "",
                       escape(short_step(x.created_by)))
    parts.append(layers)

    if inv.environments:
        envs = Table(title="Environments", title_justify="left")
        for col in ("prefix", "kind", "python", "size", "packages", "layers", ""):
            envs.add_column(col, justify="right" if col in ("size", "packages") else "left")
        counts: dict[str, int] = {}
        for d in inv.distributions:
            counts[d.env] = counts.get(d.env, 0) + 1
        for e in inv.environments:
            envs.add_row(escape(e.prefix), e.kind, e.python, human(e.size),
                         str(counts.get(e.prefix, 0)), ",".join(map(str, e.layers)),
                         "base" if e.from_base else "")
        parts.append(envs)

    if inv.distributions:
        dists = Table(title=f"Largest distributions (top {top})", title_justify="left")
        for col in ("name", "version", "environment", "installer", "size", "layer"):
            dists.add_column(col, justify="right" if col in ("size", "layer") else "left")
        for d in inv.distributions[:top]:
            dists.add_row(escape(d.name), escape(d.version), escape(d.env), d.installer,
                          human(d.size), str(d.layer))
        parts.append(dists)

    if inv.cuda:
        cuda = Table(title="CUDA libraries", title_justify="left")
        for col in ("library", "version", "owner", "size", "path"):
            cuda.add_column(col, justify="right" if col == "size" else "left")
        for c in inv.cuda:
            cuda.add_row(c.lib, c.version, escape(c.owner), human(c.size), escape(c.path))
        parts.append(cuda)

    findings = Table(title="Findings", title_justify="left", show_lines=True)
    for col, kw in (("severity", {}), ("finding", {"ratio": 3}),
                    ("bytes", {"justify": "right"}), ("what to do", {"ratio": 2})):
        findings.add_column(col, **kw)
    shown = report.findings[:MAX_FINDINGS]
    for f in shown:
        body = escape(f.title)
        if f.details:
            body += "\n[dim]" + escape("\n".join(f.details[:6])) + "[/dim]"
        elif f.paths:
            body += "\n[dim]" + escape("\n".join(f.paths[:4])) + "[/dim]"
        findings.add_row(f"[{COLOURS[f.severity]}]{f.severity}[/]", body,
                         human(f.size) if f.size else "", escape(f.hint))
    parts.append(findings if report.findings else Text("No findings.", style="green"))
    if len(report.findings) > len(shown):
        parts.append(Text(f"... and {len(report.findings) - len(shown)} more findings, "
                          "smaller or less severe (all of them in --json and --html)"))
    counts = {s: sum(1 for f in report.findings if f.severity == s) for s in COLOURS}
    parts.append(Text.from_markup(", ".join(f"[{COLOURS[s]}]{n} {s}{'s' if n != 1 else ''}[/]"
                                            for s, n in counts.items())))
    return Group(*parts)
