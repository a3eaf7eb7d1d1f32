"""What a reviewer must know about a job besides its code: who, when, digest, data read, DP and budget."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from policies.contracts import JobRecord
from tui.desk import BudgetImpactView
from tui.format import approvals, when


def _pairs(title: str, rows: list[tuple[str, str]]) -> Table:
    table = Table(title=Text(title), title_justify="left", title_style="bold", show_header=False, box=None, expand=True)
    table.add_column("key", style="dim", no_wrap=True)
    table.add_column("value", ratio=1)
    for key, value in rows:
        table.add_row(key, Text(value))
    return table


def render_facts(record: JobRecord, budget: BudgetImpactView | None) -> RenderableType:
    """Identity and time, digest, scope, the data read, DP parameters and the budget impact."""
    m = record.manifest
    job = _pairs(
        "Job",
        [
            ("submitter", m.submitter),
            ("submitted", when(m.submitted_at)),
            ("digest", m.digest),
            ("kind", m.kind.value),
            ("state", f"{record.state.value} {record.state_reason}".strip()),
            ("approvals", approvals(record)),
            ("algorithm", f"{m.algorithm}, {m.rounds} rounds, min {m.min_clients} clients"),
            ("sites", ", ".join(m.sites) or "-"),
        ],
    )
    data = _pairs(
        f"Data read (dataset {m.dataset})",
        [(table, ", ".join(columns) or "all columns") for table, columns in sorted(m.data_access.items())]
        or [("-", "no CDM table declared")],
    )
    parts: list[RenderableType] = [job, data]
    if m.dp is None:
        parts.append(Text("No differential privacy declared for this job.", style="yellow"))
    else:
        dp = m.dp
        rows = [
            ("noise multiplier", f"{dp.noise_multiplier:g}"),
            ("max grad norm", f"{dp.max_grad_norm:g}"),
            ("target epsilon", f"{dp.target_epsilon:g} (delta {dp.delta:g}, {dp.accountant})"),
        ]
        if budget is not None:
            after = budget.remaining_epsilon - budget.job_epsilon
            rows.append(
                (
                    "budget",
                    f"{budget.dataset}: {budget.used_epsilon:.3g} of {budget.budget_epsilon:.3g} used "
                    f"or reserved, {budget.remaining_epsilon:.3g} left",
                )
            )
            rows.append(("this job takes", f"epsilon {budget.job_epsilon:.3g}"))
            verdict = "fits" if after >= 0 else "EXCEEDS the budget"
            rows.append(("after this job", f"{after:.3g} left: {verdict}"))
        parts.append(_pairs("Differential privacy", rows))
    for approval in record.approvals:
        parts.append(
            Text(
                f"{approval.decision} by {approval.approver} at {when(approval.at)}: {approval.reason}"
                + (" (TOTP)" if approval.second_factor else ""),
                style="green" if approval.decision == "approve" else "red",
            )
        )
    return Group(*parts)


class JobFacts(VerticalScroll, can_focus=True):
    """Scrollable facts about the reviewed job; the budget part fills in once it is loaded."""

    DEFAULT_CSS = """
    JobFacts { height: 1fr; }
    """

    def __init__(self, record: JobRecord, *, id: str | None = None) -> None:  # Textual's name
        super().__init__(id=id)
        self.record = record
        self.budget: BudgetImpactView | None = None

    def compose(self) -> ComposeResult:
        yield Static(render_facts(self.record, self.budget), id="facts-body")

    def show(self, record: JobRecord, budget: BudgetImpactView | None) -> None:
        """Re-render with a fresh record and the dataset's budget."""
        self.record, self.budget = record, budget
        self.query_one("#facts-body", Static).update(render_facts(record, budget))
