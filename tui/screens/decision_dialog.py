"""The approve/reject dialog: returns a :class:`Decision`, or None when cancelled."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Label, Static

from policies.contracts import JobRecord
from policies.totp import normalise_name as _norm
from tui.desk import ApprovalRulesView
from tui.format import approvals, short_digest

_TOTP = re.compile(r"^[0-9]{6}$")

HINTS = {
    "approver": "1 · Who are you? Your name as the site policy lists approvers.",
    "reason": "2 · Why? The reason is recorded in the audit log.",
    "totp": "3 · The 6-digit code from your authenticator app.",
}
"""What the step line says while each field has focus (Enter moves to the next field, Escape cancels)."""


@dataclass(frozen=True)
class Decision:
    """What a person decided in the dialog; the caller hands it to the desk."""

    approve: bool
    approver: str
    reason: str
    totp_code: str | None = None


class DecisionDialog(ModalScreen[Decision | None]):
    """Asks for the approver's identity, a reason and (where the policy says so) a TOTP code.

    It checks what it can see (fields filled, a code of six digits, an approver who has not approved this job
    yet); the approval service checks everything again and has the last word.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="decision.cancel"),
        Binding("ctrl+s", "confirm", "Confirm", id="decision.confirm"),
    ]

    def __init__(self, record: JobRecord, *, approve: bool, rules: ApprovalRulesView) -> None:
        super().__init__()
        self.record = record
        self.approve = approve
        self.needs_totp = rules.totp_required and approve
        self.signed = rules.signed and approve
        self.keyless = {_norm(a) for a in rules.approvers if rules.key_of(a) is None} if self.signed else set()
        self.approvers = {_norm(a): a for a in rules.approvers}
        self.already = {_norm(a.approver): a.approver for a in record.approvals if a.decision == "approve"}

    def compose(self) -> ComposeResult:
        verb = "Approve" if self.approve else "Reject"
        manifest = self.record.manifest
        with Vertical(id="decision-box", classes="dialog"):
            yield Label(f"{verb} job {self.record.job_id}", classes="dialog-title", markup=False)
            yield Static(
                f"study {manifest.study} · digest {short_digest(manifest.digest)} · approvals {approvals(self.record)}",
                id="decision-facts",
                markup=False,
            )
            if self.approve and self.already:
                yield Static(
                    f"Already approved by {', '.join(sorted(self.already.values()))}: a different person must approve.",
                    id="decision-four-eyes",
                    markup=False,
                )
            if self.signed:
                yield Static(
                    "Signed with your own key through your SSH agent (ssh -A): touch your security key if it asks.",
                    id="decision-signed",
                    markup=False,
                )
            yield Static(HINTS["approver"], id="decision-hint", markup=False)
            yield Input(placeholder="your identity (approver)", id="approver")
            yield Input(placeholder="reason (required)", id="reason")
            if self.needs_totp:
                yield Input(placeholder="TOTP code", id="totp", restrict=r"[0-9]*", max_length=6, password=True)
            yield Label("", id="decision-problem")
            with Horizontal(classes="dialog-buttons"):
                yield Button(verb, id="confirm", variant="success" if self.approve else "error")
                yield Button("Cancel", id="cancel")
        yield Footer()

    def problem(self) -> str | None:
        """What is missing or wrong in the form, or None when it can be sent."""
        approver = self.query_one("#approver", Input).value.strip()
        reason = self.query_one("#reason", Input).value.strip()
        if not approver:
            return "Enter your identity."
        if self.approvers and _norm(approver) not in self.approvers:
            return f"{approver} is not an approver in the site policy."
        if _norm(approver) in self.keyless:
            return f"{approver} has no key enrolled in the site policy: they cannot sign an approval."
        if self.approve and _norm(approver) in self.already:
            return f"{approver} has already approved this job: a second, different approver is needed."
        if not reason:
            return "A reason is required."
        if self.needs_totp and not _TOTP.match(self.query_one("#totp", Input).value):
            return "Enter the 6-digit TOTP code."
        return None

    def decision(self) -> Decision:
        """The form's content as a decision (call after :meth:`problem` returned None)."""
        totp = self.query_one("#totp", Input).value if self.needs_totp else None
        return Decision(
            approve=self.approve,
            approver=self.query_one("#approver", Input).value.strip(),
            reason=self.query_one("#reason", Input).value.strip(),
            totp_code=totp,
        )

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Say what the focused field is for."""
        hint = HINTS.get(event.widget.id or "")
        if hint is not None:
            self.query_one("#decision-hint", Static).update(hint)

    @on(Input.Submitted)
    def _next_field(self, event: Input.Submitted) -> None:
        """Enter moves to the next field; on the last one it confirms."""
        event.stop()
        inputs = list(self.query(Input))
        index = inputs.index(event.input)
        if index + 1 < len(inputs):
            inputs[index + 1].focus()
        else:
            self.action_confirm()

    @on(Button.Pressed, "#confirm")
    def _confirm_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_confirm()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_cancel()

    def action_confirm(self) -> None:
        """Send the decision if the form is complete; otherwise say what is missing."""
        problem = self.problem()
        if problem is not None:
            self.query_one("#decision-problem", Label).update(problem)
            return
        self.dismiss(self.decision())

    def action_cancel(self) -> None:
        """Close without deciding."""
        self.dismiss(None)
