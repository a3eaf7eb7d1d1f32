"""Review one job: its code, the diff against the last approved version, the verdict, the facts, what its code may
do at this site (sandbox, staged data, site DP); decide."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Static, TabbedContent, TabPane, Tree

from policies.contracts import JobRecord, JobState, ManifestFile
from tui.desk import ApprovalRulesView, BudgetImpactView, ByocReviewView, SiteDeskProtocol
from tui.format import STATE_STYLE, approvals, short_digest
from tui.screens.decision_dialog import Decision, DecisionDialog
from tui.widgets.code_view import CodeView
from tui.widgets.diff_view import DiffView
from tui.widgets.job_facts import JobFacts
from tui.widgets.manifest_tree import ManifestTree
from tui.widgets.sandbox_view import SandboxView
from tui.widgets.verdict_view import VerdictView
from tui.workers import ReportsWorkerFailures

_TAB_FOCUS = {
    "code": "#review-tree",
    "diff": "#review-diff",
    "verdict": "#review-verdict",
    "facts": "#review-facts",
    "sandbox": "#review-sandbox",
}


@dataclass(frozen=True)
class _Context:
    """What the review loads besides the record: the diff baseline, the TOTP rule and the budget."""

    record: JobRecord
    baseline: JobRecord | None
    rules: ApprovalRulesView
    budget: BudgetImpactView | None


class JobReviewScreen(ReportsWorkerFailures, Screen[None]):
    """Everything about one job, and the approve/reject actions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "decide(True)", "Approve", id="review.approve"),
        Binding("r", "decide(False)", "Reject", id="review.reject"),
        Binding("c", "show_tab('code')", "Code", id="review.code"),
        Binding("d", "show_tab('diff')", "Diff", id="review.diff"),
        Binding("v", "show_tab('verdict')", "Verdict", id="review.verdict"),
        Binding("i", "show_tab('facts')", "Facts", id="review.facts"),
        Binding("s", "show_tab('sandbox')", "Sandbox", id="review.sandbox"),
        Binding("escape", "app.pop_screen", "Back", id="review.back"),
    ]

    class Loaded(Message):
        """The record and its review context were (re)loaded."""

        def __init__(self, context: _Context) -> None:
            super().__init__()
            self.context = context

    class SandboxLoaded(Message):
        """What the job's code may do at this site was read (``review`` None: no site policy)."""

        def __init__(self, review: ByocReviewView | None) -> None:
            super().__init__()
            self.review = review

    class Decided(Message):
        """The desk recorded a decision; ``record`` is the job afterwards."""

        def __init__(self, record: JobRecord, decision: Decision) -> None:
            super().__init__()
            self.record = record
            self.decision = decision

    def __init__(self, record: JobRecord, desk: SiteDeskProtocol) -> None:
        super().__init__()
        self.record = record
        self.desk = desk
        self.rules: ApprovalRulesView | None = None
        self._asked_before_loaded: bool | None = None  # approve (True) or reject (False) pressed while loading

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self._title(), id="review-title")
        with TabbedContent(id="review-tabs", initial="code"):
            with TabPane("Code", id="code"), Horizontal():
                yield ManifestTree(self.record.manifest, id="review-tree")
                yield CodeView(id="review-code")
            with TabPane("Diff", id="diff"):
                yield DiffView(id="review-diff")
            with TabPane("Verdict", id="verdict"):
                yield VerdictView(self.record.verdict, id="review-verdict")
            with TabPane("Facts", id="facts"):
                yield JobFacts(self.record, id="review-facts")
            with TabPane("Sandbox", id="sandbox"):
                yield SandboxView(id="review-sandbox")
        yield Footer()

    def _title(self) -> Text:
        """Job id, study, state, approvals and digest (submitter-chosen names are text, never markup)."""
        r = self.record
        title = Text()
        title.append(r.job_id, style="bold")
        title.append(f"  study {r.manifest.study}  ")
        title.append(r.state.value, style=STATE_STYLE.get(r.state, ""))
        title.append(f"  approvals {approvals(r)}  digest {short_digest(r.manifest.digest)}")
        return title

    def on_mount(self) -> None:
        self.sub_title = f"review {self.record.job_id}"
        tree = self.query_one(ManifestTree)
        first = tree.first_to_read({f.file for f in self.record.verdict.findings})
        if first is not None and first.data is not None:
            tree.move_cursor(first)
            self._show_file(first.data)
        tree.focus()
        self.load()
        self.load_sandbox()

    @work(thread=True, exclusive=True, exit_on_error=False, group="review")
    def load(self) -> None:
        """Read the job again, the last approved version of its study, the TOTP rule and the budget."""
        record = self.desk.job(self.record.job_id)
        baseline = self.desk.last_approved(record.manifest.study, before=record.job_id)
        rules = self.desk.approval_rules()
        budget = self.desk.budget_impact(record.job_id)
        self.post_message(self.Loaded(_Context(record, baseline, rules, budget)))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-sandbox")
    def load_sandbox(self) -> None:
        """Read the sandbox, staged-data and site-DP facts (apart from ``load``: the first read imports torch)."""
        self.post_message(self.SandboxLoaded(self.desk.byoc_review(self.record.job_id)))

    @on(SandboxLoaded)
    def _sandbox_loaded(self, message: SandboxLoaded) -> None:
        self.query_one(SandboxView).show(message.review)

    @on(Loaded)
    def _loaded_context(self, message: Loaded) -> None:
        context = message.context
        self.record, self.rules = context.record, context.rules
        self.query_one("#review-title", Static).update(self._title())
        self.query_one(DiffView).show(context.record.manifest, context.baseline)
        self.query_one(JobFacts).show(context.record, context.budget)
        if self._asked_before_loaded is not None:
            approve, self._asked_before_loaded = self._asked_before_loaded, None
            self.action_decide(approve)

    @on(Tree.NodeHighlighted, "#review-tree")
    def _file_highlighted(self, event: Tree.NodeHighlighted[ManifestFile]) -> None:
        if event.node.data is not None:
            self._show_file(event.node.data)

    def _show_file(self, file: ManifestFile) -> None:
        self.query_one(CodeView).show(file, self.record.verdict.findings)

    def action_show_tab(self, tab: str) -> None:
        """Switch to one of the review tabs and focus what it shows (focus left in a hidden tab pulls it back)."""
        self.query_one(TabbedContent).active = tab
        self.query_one(_TAB_FOCUS[tab]).focus()

    def action_decide(self, approve: bool) -> None:
        """Open the approve or reject dialog, if the job can still be decided."""
        decidable = (JobState.PENDING,) if approve else (JobState.PENDING, JobState.APPROVED)
        if self.record.state not in decidable:
            verb = "approved" if approve else "rejected"
            self.notify(f"Job is {self.record.state.value}: it cannot be {verb} now.", severity="warning", markup=False)
            return
        if approve and not self.record.verdict.allowed:
            self.notify("The policy verdict denies this job: it cannot be approved.", severity="error")
            return
        if self.rules is None:  # the dialog needs the approval rules: it opens as soon as they are read
            self._asked_before_loaded = approve
            self.notify("Reading the approval rules; the dialog opens in a moment.")
            return
        self.decide(approve, self.rules)

    @work(exclusive=True, exit_on_error=False, group="decision")
    async def decide(self, approve: bool, rules: ApprovalRulesView) -> None:
        """Ask for the decision in a dialog, then record it through the desk (off the event loop)."""
        dialog = DecisionDialog(self.record, approve=approve, rules=rules)
        decision = await self.app.push_screen_wait(dialog)
        if decision is None:
            return
        if decision.approve:
            record = await asyncio.to_thread(
                self.desk.approve, self.record.job_id, decision.approver, decision.reason, decision.totp_code
            )
        else:
            record = await asyncio.to_thread(self.desk.reject, self.record.job_id, decision.approver, decision.reason)
        self.post_message(self.Decided(record, decision))

    @on(Decided)
    def _decided(self, message: Decided) -> None:
        record = message.record
        self.record = record
        self.query_one("#review-title", Static).update(self._title())
        self.query_one(JobFacts).show(record, self.query_one(JobFacts).budget)
        if record.state is JobState.PENDING:
            self.notify(
                f"Approval by {message.decision.approver} recorded ({approvals(record)}): "
                "a second, different approver is needed.",
                title="Recorded",
                markup=False,
            )
        else:
            self.notify(f"Job {record.job_id} is now {record.state.value}.", title="Decided", markup=False)
