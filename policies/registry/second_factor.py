"""The approver's second factor: a valid TOTP code, each code used once, when the site policy requires it."""

from __future__ import annotations

from sqlalchemy.orm import Session

from fednode.clock import Clock
from policies.registry.base import RefuseFn
from policies.state import TotpUseRow
from policies.totp import TotpVerifier, normalise_name


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
