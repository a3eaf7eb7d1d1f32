"""The approver's proof of identity and second factor: a signature by the approver's own enrolled key over the
approval statement (``policies.approver_keys``), and a valid TOTP code, each used once, where the policy asks."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from fednode.clock import Clock
from policies.approver_keys import ApprovalStatement, ApproverKey, SignedApproval, Sshsig, SshsigError
from policies.registry.base import RefuseFn
from policies.registry.rules import ApprovalRules
from policies.state import JobRow, TotpUseRow
from policies.totp import TotpVerifier, normalise_name

MAX_STATEMENT_AGE = timedelta(hours=24)
"""How old a signed statement may be (an approver may sign elsewhere, then hand the signature over)."""
MAX_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a statement's time may lie (the signer's clock)."""
_FIELDS = ("job", "app-digest", "meta-digest", "site", "decision")


def signing_key(signed: SignedApproval, refuse: RefuseFn) -> ApproverKey:
    """The key that made ``signed`` (read from the signature, not yet trusted); refuses an unreadable one."""
    try:
        return Sshsig.parse(signed.signature).key
    except SshsigError as exc:
        raise refuse(f"the signature is unreadable: {exc}", "signature_malformed") from None


def check_signature(
    row: JobRow,
    signed: SignedApproval,
    claimed: str | None,
    refuse: RefuseFn,
    *,
    rules: ApprovalRules,
    decision: str,
    now: datetime,
) -> tuple[str, ApproverKey]:
    """The approver (as the policy lists them) whose enrolled key signed this job's statement, and the key.

    Refused: a key not enrolled, a key enrolled for someone other than ``claimed``, a signature that does not
    verify (wrong namespace, hash or bytes), a statement for another job, digest, pinned meta, site or decision
    (a replay), or one older than :data:`MAX_STATEMENT_AGE` or from the future.
    """
    sig = Sshsig.parse(signed.signature)  # signing_key() already refused an unreadable one
    owner = rules.owner_of(sig.key)
    if owner is None:
        raise refuse(f"the signing key {sig.key.fingerprint} is not enrolled in the site policy", "key_not_enrolled")
    if claimed is not None and normalise_name(claimed) != normalise_name(owner):
        raise refuse(f"the signing key is enrolled for {owner!r}, not {claimed!r}", "key_of_another")
    try:
        sig.verify(signed.statement, sig.key)
        at = ApprovalStatement.signed_time(signed.statement)
    except SshsigError as exc:
        raise refuse(f"the signature is refused: {exc}", "signature_bad") from None
    expected = ApprovalStatement(row.job_id, row.digest, row.meta_digest, rules.site, decision, at).to_bytes()
    if signed.statement != expected:
        differ = _differing(signed.statement, expected) or "its layout"
        raise refuse(f"the signed statement is not for this approval (differs in {differ})", "statement_mismatch")
    if at < now - MAX_STATEMENT_AGE:
        raise refuse("the signed statement is more than 24 hours old; sign a fresh one", "statement_stale")
    if at > now + MAX_CLOCK_SKEW:
        raise refuse("the signed statement's time is in the future; check the signer's clock", "statement_future")
    return owner, sig.key


def _differing(got: bytes, expected: bytes) -> str:
    def fields(raw: bytes) -> dict[str, str]:
        lines = raw.decode("utf-8", "replace").split("\n")
        return dict(line.split(": ", 1) for line in lines if ": " in line)

    g, e = fields(got), fields(expected)
    return ", ".join(f for f in _FIELDS if g.get(f) != e.get(f))


def check_totp(
    s: Session,
    approver: str,
    code: str | None,
    refuse: RefuseFn,
    *,
    required: bool,
    totp: TotpVerifier | None,
    clock: Clock,
) -> bool:
    """True when a required code was checked and its use recorded; False when none is required. A missing,
    wrong, expired or replayed code raises ``refuse(why, code)``."""
    if not required:
        return False
    if not code:
        raise refuse("the site policy requires a TOTP code for approvals", "totp_missing")
    if totp is None:
        raise refuse("the site policy requires TOTP but no TOTP store is configured", "totp_unconfigured")
    step = totp.verify(approver, code, clock())
    if step is None:
        raise refuse("the TOTP code is wrong or expired", "totp_bad")
    key = normalise_name(approver)
    if s.get(TotpUseRow, (key, step)) is not None:
        raise refuse("this TOTP code was already used; wait for the next one", "totp_replayed")
    s.add(TotpUseRow(approver=key, timestep=step, at=clock()))
    return True
