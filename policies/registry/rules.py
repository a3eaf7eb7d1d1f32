"""Who may approve a job and how (the policy's ``approval`` section), and the clean-up of names and reasons."""

from __future__ import annotations

from dataclasses import dataclass

from fednode.errors import ApprovalRefusedError
from policies.totp import normalise_name

MAX_REASON = 2000


@dataclass(frozen=True)
class ApprovalRules:
    """Who may approve and how (from the policy's ``approval`` section).

    ``approvers`` empty means nobody may approve (the safe default when no site policy is loaded).
    """

    approvers: tuple[str, ...] = ()
    required_approvals: int = 1
    totp_required: bool = False

    def __post_init__(self) -> None:
        if self.required_approvals < 1:
            raise ValueError("required_approvals must be at least 1")

    @classmethod
    def from_policy(cls, approval: object) -> ApprovalRules:
        """From ``policies.policy_model.ApprovalSection`` (duck-typed: approvers, required_approvals,
        totp_required)."""
        return cls(
            approvers=tuple(getattr(approval, "approvers", ())),
            required_approvals=int(getattr(approval, "required_approvals", 1)),
            totp_required=bool(getattr(approval, "totp_required", False)),
        )

    def allows(self, approver: str) -> bool:
        return normalise_name(approver) in {normalise_name(a) for a in self.approvers}


def clean_person(name: str) -> str:
    """The approver's name with whitespace collapsed; refused unless 1-200 characters."""
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > 200:
        raise ApprovalRefusedError("an approver name of 1-200 characters is required")
    return cleaned


def clean_reason(reason: str) -> str:
    """The stripped reason, cut to ``MAX_REASON``; refused when empty."""
    cleaned = reason.strip()
    if not cleaned:
        raise ApprovalRefusedError("a reason is required")
    return cleaned[:MAX_REASON]
