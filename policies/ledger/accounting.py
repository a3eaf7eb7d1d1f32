"""Steps to epsilon: composing DP-SGD history with Opacus' PRV or RDP accountant (pure; no storage)."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable
from functools import lru_cache

from fednode.errors import ConfigError
from policies.contracts import DpParams

log = logging.getLogger("fednode.policies.ledger")

Step = tuple[float, float, int]
"""One accountant history entry, as Opacus keeps it: ``(noise_multiplier, sample_rate, steps)``."""

ACCOUNTANTS = ("prv", "rdp")


def compact(history: Iterable[Step]) -> tuple[Step, ...]:
    """Merge entries with equal ``(noise_multiplier, sample_rate)``: composition is commutative, so this is exact,
    and it keeps the PRV accountant fast (its cost grows with the number of distinct entries)."""
    merged: dict[tuple[float, float], int] = {}
    for nm, sr, steps in history:
        if steps > 0:
            merged[(float(nm), float(sr))] = merged.get((float(nm), float(sr)), 0) + int(steps)
    return tuple(sorted((nm, sr, n) for (nm, sr), n in merged.items()))


def epsilon_of(history: Iterable[Step], delta: float, accountant: str = "prv") -> float:
    """Epsilon of the composed ``history`` at ``delta`` with Opacus' PRV or RDP accountant (0 for no steps)."""
    if accountant not in ACCOUNTANTS:
        raise ConfigError(f"unknown accountant {accountant!r}; use one of {', '.join(ACCOUNTANTS)}")
    return _epsilon_cached(compact(history), float(delta), accountant)


@lru_cache(maxsize=512)
def _epsilon_cached(history: tuple[Step, ...], delta: float, accountant: str) -> float:
    if not history:
        return 0.0
    if any(nm <= 0 for nm, _, _ in history):
        return math.inf  # no noise: no finite guarantee
    from opacus.accountants import PRVAccountant, RDPAccountant  # heavy (torch): only when needed

    if accountant == "prv":
        acc_prv = PRVAccountant()
        acc_prv.history = list(history)
        try:
            return float(acc_prv.get_epsilon(delta))
        except (ValueError, RuntimeError, OverflowError) as exc:
            # PRV's numerical domain is narrower; RDP is an upper bound of the same guarantee, so safe for budgets
            log.warning("ledger.prv_fallback_rdp error=%s", type(exc).__name__)
    acc_rdp = RDPAccountant()
    acc_rdp.history = list(history)
    return float(acc_rdp.get_epsilon(delta))


def planned_steps(dp: DpParams) -> tuple[Step, ...]:
    """A job's step plan from its DP parameters; empty when it gives no sample rate or step count."""
    if dp.sample_rate > 0 and dp.steps > 0:
        return ((float(dp.noise_multiplier), float(dp.sample_rate), int(dp.steps)),)
    return ()


def finite_or_none(x: float) -> float | None:
    """``x``, or None for an infinite epsilon (JSON has no infinity)."""
    return x if math.isfinite(x) else None
