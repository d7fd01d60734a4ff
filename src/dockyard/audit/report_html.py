"""A Report as one self-contained HTML page (pure): a treemap of the bytes and the findings.

The page needs no network: the data is inlined as JSON, the treemap is drawn
as SVG by a small inline script (templates/report.html). Every string comes
from the inventory, where credentials are already masked.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from importlib import resources

from .inventory import file_env
from .model import Report
from .report_json import to_dict
from .units import human

MAX_CHILDREN = 24


def tree(report: Report) -> dict:
    """Bytes as a hierarchy: layer -> environment (or directory) -> package (or "other")."""
    inv = report.inventory
    env_of = file_env(inv.environments)
    cells: dict[int, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(
        lambda: defaultdict(int)))
    for path, (size, layer, _) in inv.files.items():
        env = env_of(path)
        if env:
            group, leaf = f"env {env}", inv.owners.get(path, "(files of no package)")
        else:
            parts = path.split("/")
            group = "/".join(parts[:3]) if len(parts) > 3 else "/" + parts[1]
            leaf = "/".join(parts[:4]) if len(parts) > 4 else path
        cells[layer][group][leaf] += size
    wasted: dict[int, int] = defaultdict(int)
    for r in inv.removed:
        wasted[r.layer] += r.size

    def children(items: dict[str, int]) -> list[dict]:
        ranked = sorted(items.items(), key=lambda kv: -kv[1])
        out = [{"name": k, "size": v} for k, v in ranked[:MAX_CHILDREN] if v > 0]
        rest = ranked[MAX_CHILDREN:]
        if rest and sum(v for _, v in rest):
            out.append({"name": f"({len(rest)} smaller)", "size": sum(v for _, v in rest)})
        return out

    layers = []
    for x in inv.layers:
        groups = [{"name": g, "children": children(leaves)}
                  for g, leaves in cells[x.index].items()]
        groups = [g for g in groups if g["children"]]
        groups.sort(key=lambda g: -sum(c["size"] for c in g["children"]))
        if len(groups) > MAX_CHILDREN:
            rest = groups[MAX_CHILDREN:]
            groups = groups[:MAX_CHILDREN] + [{"name": f"({len(rest)} smaller directories)",
                                               "size": sum(c["size"] for g in rest
                                                           for c in g["children"])}]
        if wasted[x.index]:
            groups.append({"name": "(overwritten or deleted later)", "size": wasted[x.index],
                           "wasted": True})
        if groups:
            label = f"layer {x.index}" + (" (base)" if x.from_base else "")
            layers.append({"name": label, "children": groups, "layer": x.index})
    return {"name": inv.ref, "children": layers}


def _findings_rows(report: Report) -> str:
    rows = []
    for f in report.findings:
        details = "".join(f"<li>{html.escape(d)}</li>" for d in (f.details or f.paths)[:12])
        rows.append(
            f'<tr class="{f.severity}"><td><span class="sev">{f.severity}</span></td>'
            f"<td><b>{html.escape(f.title)}</b><ul>{details}</ul></td>"
            f'<td class="num">{human(f.size) if f.size else ""}</td>'
            f"<td>{html.escape(f.hint)}</td></tr>")
    return "\n".join(rows) or '<tr><td colspan="4">No findings.</td></tr>'


def _tables(report: Report) -> str:
    from .report_terminal import short_step

    inv = report.inventory
    rows = "".join(
        f"<tr><td class=num>{x.index}</td><td class=num>{human(x.size)}</td>"
        f"<td class=num>{human(x.wasted) if x.wasted else ''}</td><td class=num>{x.files}</td>"
        f"<td>{'base' if x.from_base else ''}</td><td><code>{html.escape(short_step(x.created_by))}"
        f"</code></td></tr>" for x in inv.layers)
    out = ("<h2>Layers</h2><table><thead><tr><th>#</th><th>size</th><th>wasted</th><th>files"
           f"</th><th></th><th>created by</th></tr></thead><tbody>{rows}</tbody></table>")
    if inv.environments:
        count: dict[str, int] = defaultdict(int)
        for d in inv.distributions:
            count[d.env] += 1
        rows = "".join(
            f"<tr><td><code>{html.escape(e.prefix)}</code></td><td>{e.kind}</td>"
            f"<td>{html.escape(e.python)}</td><td class=num>{human(e.size)}</td>"
            f"<td class=num>{count[e.prefix]}</td><td>{'base' if e.from_base else ''}</td></tr>"
            for e in inv.environments)
        out += ("<h2>Environments</h2><table><thead><tr><th>prefix</th><th>kind</th><th>python"
                "</th><th>size</th><th>packages</th><th></th></tr></thead>"
                f"<tbody>{rows}</tbody></table>")
    return out


def render_html(report: Report) -> str:
    inv = report.inventory
    template = resources.files("dockyard.audit").joinpath("templates/report.html").read_text()
    data = json.dumps({"tree": tree(report), "report": to_dict(report)}, sort_keys=True)
    data = data.replace("</", "<\\/").replace("<!--", "<\\!--")
    summary = (f"{human(inv.total)} in {len(inv.layers)} layers; {human(inv.final)} visible; "
               f"{human(inv.wasted)} overwritten or deleted"
               + (f"; {inv.base_layers} layers from the base" if inv.base is not None else ""))
    counts = ", ".join(f"{sum(1 for f in report.findings if f.severity == s)} {s}"
                       for s in ("error", "warning", "info"))
    values = {"TITLE": html.escape(inv.ref), "SUMMARY": html.escape(summary),
              "COUNTS": html.escape(counts), "FINDINGS": _findings_rows(report),
              "TABLES": _tables(report), "DATA": data}
    return re.sub(r"\{\{([A-Z]+)\}\}", lambda m: values[m[1]], template)
