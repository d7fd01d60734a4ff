"""What `dockyard verify` found: a list of checks, each passed, failed or skipped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Status = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    status: Status
    detail: str = ""
    problems: tuple[str, ...] = ()  # one line per failure (e.g. each import that failed)

    @property
    def ok(self) -> bool:
        return self.status != "fail"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    image: str
    kernel: str = ""
    command: str = ""  # the command the container ran (token redacted)
    checks: tuple[Check, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)

    def to_dict(self) -> dict:
        return {
            "image": self.image,
            "kernel": self.kernel,
            "command": self.command,
            "ok": self.ok,
            "checks": [
                {"name": c.name, "status": c.status, "detail": c.detail,
                 "problems": list(c.problems)}
                for c in self.checks
            ],
        }


_MARK = {"pass": "✓", "fail": "✗", "skip": "-"}


def render(report: VerifyReport) -> list[str]:
    """Plain lines for a console: one per check, then its problems indented."""
    lines = [f"image {report.image}" + (f", kernel {report.kernel!r}" if report.kernel else "")]
    if report.command:
        lines.append(f"command: {report.command}")
    for c in report.checks:
        lines.append(f"{_MARK[c.status]} {c.name}: {c.detail}".rstrip(": "))
        lines.extend(f"    {p}" for p in c.problems)
    n_fail = len(report.failed)
    lines.append("all checks passed" if report.ok else f"{n_fail} check(s) failed")
    return lines
