"""The policy verdict on a job, rule by rule, with the static-scan findings (denials ``!`` red, warnings ``?``
yellow: a warning never blocks approval)."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from policies.contracts import RuleOutcome, Verdict
from tui.format import short_digest

OUTCOME_STYLE = {RuleOutcome.ALLOW: "green", RuleOutcome.WARN: "yellow", RuleOutcome.DENY: "bold red"}
_RANK = {RuleOutcome.DENY: 0, RuleOutcome.WARN: 1, RuleOutcome.ALLOW: 2}
"""Denials first, then warnings: what the reviewer must read comes on top."""


def render_verdict(verdict: Verdict) -> RenderableType:
    """A headline (allowed or denied), one row per rule, then the findings."""
    headline = (
        Text("Policy verdict: ALLOW", style="bold green")
        if verdict.allowed
        else Text("Policy verdict: DENY (this job cannot be approved)", style="bold red")
    )
    rules = Table(expand=True, box=None, pad_edge=False)
    rules.add_column("rule", no_wrap=True)
    rules.add_column("outcome", no_wrap=True)
    rules.add_column("reason", ratio=1)
    for result in sorted(verdict.results, key=lambda r: _RANK[r.outcome]):  # stable: rule order within a rank
        outcome = Text(result.outcome.value, style=OUTCOME_STYLE[result.outcome])
        rules.add_row(Text(result.rule), outcome, Text(result.reason))
    parts: list[RenderableType] = [headline, rules]
    if verdict.findings:
        findings = Table(title="static-scan findings", expand=True, box=None, pad_edge=False)
        findings.add_column("", no_wrap=True)
        findings.add_column("where", no_wrap=True)
        findings.add_column("capability", no_wrap=True)
        findings.add_column("message", ratio=1)
        for f in sorted(verdict.findings, key=lambda f: f.severity == "warn"):  # denials first, then warnings
            mark, style = ("? warn", "yellow") if f.severity == "warn" else ("! deny", "bold red")
            findings.add_row(Text(mark, style=style), Text(f"{f.file}:{f.line}"), Text(f.capability), Text(f.message))
        parts.append(findings)
        if verdict.warnings:
            parts.append(
                Text(
                    f"{len(verdict.warnings)} warning(s): the scan could not decide; the sandbox enforces them at "
                    "run time and they do not block approval",
                    style="yellow",
                )
            )
    if verdict.policy_digest:
        parts.append(Text(f"policy digest {short_digest(verdict.policy_digest)}", style="dim"))
    return Group(*parts)


class VerdictView(VerticalScroll, can_focus=True):
    """Scrollable rule-by-rule verdict."""

    DEFAULT_CSS = """
    VerdictView { height: 1fr; }
    """

    def __init__(self, verdict: Verdict, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(Static(render_verdict(verdict)), id=id)
