"""Who may approve a job and how (the policy's ``approval`` section), and the clean-up of names and reasons."""

from __future__ import annotations

from dataclasses import dataclass

from fednode.errors import ApprovalRefusedError
from policies.approver_keys import ApproverKey
from policies.totp import normalise_name

MAX_REASON = 2000


@dataclass(frozen=True)
class ApprovalRules:
    """Who may approve and how (from the policy's ``approval`` section).

    ``approvers`` empty means nobody may approve (the safe default when no site policy is loaded). With
    ``identity == "key"`` an approval is a signature by the approver's key in ``keys`` over the statement for
    ``site`` (``policies.approver_keys``); ``"name"`` trusts the typed name (demos and tests only).
    """

    approvers: tuple[str, ...] = ()
    required_approvals: int = 1
    totp_required: bool = False
    identity: str = "key"
    keys: tuple[tuple[str, ApproverKey], ...] = ()
    site: str = ""

    def __post_init__(self) -> None:
        if self.required_approvals < 1:
            raise ValueError("required_approvals must be at least 1")
        if self.identity not in ("key", "name"):
            raise ValueError("identity must be 'key' or 'name'")

    @classmethod
    def from_policy(cls, approval: object, *, site: str = "") -> ApprovalRules:
        """From ``policies.policy_model.ApprovalSection`` (duck-typed: approvers, required_approvals,
        totp_required, identity, keys) and the site's name (signed statements name it)."""
        keys = getattr(approval, "keys", {}) or {}
        return cls(
            approvers=tuple(getattr(approval, "approvers", ())),
            required_approvals=int(getattr(approval, "required_approvals", 1)),
            totp_required=bool(getattr(approval, "totp_required", False)),
            identity=str(getattr(getattr(approval, "identity", "key"), "value", getattr(approval, "identity", "key"))),
            keys=tuple((name, ApproverKey.parse(text)) for name, text in keys.items()),
            site=site,
        )

    @property
    def signed(self) -> bool:
        """True when approvals must be signed by the approver's own key."""
        return self.identity == "key"

    def allows(self, approver: str) -> bool:
        return normalise_name(approver) in {normalise_name(a) for a in self.approvers}

    def owner_of(self, key: ApproverKey) -> str | None:
        """The listed approver who enrolled ``key`` (compared by its blob), or None."""
        for name, enrolled in self.keys:
            if enrolled.blob == key.blob and self.allows(name):
                return next(a for a in self.approvers if normalise_name(a) == normalise_name(name))
        return None

    def key_of(self, approver: str) -> ApproverKey | None:
        """The key ``approver`` enrolled, or None."""
        for name, enrolled in self.keys:
            if normalise_name(name) == normalise_name(approver):
                return enrolled
        return None


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
