"""The migration report: what custom_flask.py holds, and what each piece becomes on FastAPI."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

__all__ = ["Finding", "Kind", "Report", "Verdict", "format_report"]


class Verdict(enum.Enum):
    AUTOMATIC = "automatic"
    NEEDS_A_LOOK = "needs a look"
    NOT_TRANSLATABLE = "not translatable"


class Kind(enum.Enum):
    BEFORE_REQUEST = "before_request"
    AFTER_REQUEST = "after_request"
    TEARDOWN_REQUEST = "teardown_request"
    ROUTE = "route"
    BLUEPRINT = "blueprint"
    EXTENSION = "extension"
    OTHER = "other"


@dataclass
class Finding:
    """One piece of custom_flask.py: a hook, a route, a blueprint, an extension, a statement."""

    kind: Kind
    name: str
    line: int
    becomes: str
    verdict: Verdict = Verdict.AUTOMATIC
    reason: str = ""
    #: The original code, quoted where the translation leaves a marked place.
    source: str = ""
    #: A statement of init_app (its marked place is in the written init_app).
    in_init_app: bool = False


@dataclass
class Report:
    path: str
    findings: list[Finding] = field(default_factory=list)
    #: General remarks printed after the findings.
    notes: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    def of_kind(self, *kinds: Kind) -> list[Finding]:
        return [f for f in self.findings if f.kind in kinds]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for f in self.findings if f.verdict is verdict)


def format_report(report: Report) -> str:
    lines = [f"{report.path}: {len(report.findings)} item(s) found"]
    if not report.findings:
        lines.append("  nothing to migrate: no hooks, routes, blueprints or extensions")
    for finding in report.findings:
        lines.append(f"  [{finding.verdict.value}] {finding.kind.value} {finding.name} (line {finding.line})")
        lines.append(f"      becomes: {finding.becomes}")
        if finding.reason:
            lines.append(f"      why: {finding.reason}")
    summary = ", ".join(f"{report.count(v)} {v.value}" for v in Verdict)
    lines.append(f"Summary: {summary}.")
    lines.extend(f"Note: {note}" for note in report.notes)
    return "\n".join(lines)
