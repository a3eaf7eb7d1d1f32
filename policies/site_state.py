"""The live site state a verdict is judged in, assembled ONE way for the approval gate and ``fednode policy
check``.

:class:`LiveSiteState` reads, at each verdict, the clock, the remaining privacy budget of every dataset the
policy budgets, and the site's local record count. The record count is a callable that ``node`` injects
(``omop_etl.stats.local_record_count``: distinct notes with gold spans, the records the built-in trainer learns
from), because ``policies`` does not import ``omop_etl``. Anything that cannot be read counts as unknown, and
unknown denies (``privacy_budget``) or counts as zero (``local_records``): the site fails closed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fednode.clock import Clock, utc_now
from policies.contracts import JobManifest, RuleOutcome, RuleResult, Verdict
from policies.ledger import PrivacyLedger
from policies.policy_model import SitePolicy
from policies.verdicts import Rule, SiteState, evaluate

log = logging.getLogger("fednode.policies.site_state")

BudgetSource = Callable[[str], float | None]
"""Remaining epsilon of a dataset, or None when it cannot be known."""
RecordCount = Callable[[], int]
"""The site's local record count (``omop_etl.stats.local_record_count`` bound to the CDM's URL)."""


def ledger_budget(ledger: PrivacyLedger) -> BudgetSource:
    """Remaining epsilon from the privacy ledger in state.db (spent plus reserved by approved jobs taken off)."""

    def remaining(dataset: str) -> float | None:
        return float(ledger.summary(dataset).remaining_epsilon)

    return remaining


def unspent_budget(policy: SitePolicy) -> BudgetSource:
    """The policy's whole budgets: a site with no ledger yet has spent nothing."""
    return lambda dataset: policy.privacy.budgets.get(dataset)


def given_budget(values: Mapping[str, float]) -> BudgetSource:
    """Remaining epsilon as given (``fednode policy check --budget DATASET=EPSILON``)."""
    return lambda dataset: values.get(dataset)


class CachedCount:
    """A record count read at most once every ``ttl_s`` seconds (a CDM query per scheduling retry is wasteful)."""

    def __init__(self, count: RecordCount, *, ttl_s: float = 60.0) -> None:
        self._count = count
        self._ttl_s = ttl_s
        self._cached: tuple[float, int] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            now = time.monotonic()
            if self._cached is not None and now - self._cached[0] < self._ttl_s:
                return self._cached[1]
            value = self._count()
            self._cached = (now, value)
            return value


@dataclass(frozen=True)
class LiveSiteState:
    """Where the site's state comes from: its policy, its budget source, its record count and its clock."""

    policy: SitePolicy
    budget: BudgetSource
    records: RecordCount
    clock: Clock = utc_now
    coordinator: str | None = None
    """``"name / org"`` of the coordinator this site is connected to; None: not known here."""
    closers: tuple[Callable[[], None], ...] = field(default=())
    extra_rules: tuple[Rule, ...] = ()
    """Site rules judged beside the policy's (they can only add denials), e.g. ``node``'s BYOC sandbox rule."""

    def snapshot(self) -> SiteState:
        """The state now: every budgeted dataset's remaining epsilon (unknown ones left out), the record count."""
        remaining: dict[str, float] = {}
        for dataset in sorted(self.policy.privacy.budgets):
            value = self.budget(dataset)
            if value is not None:
                remaining[dataset] = value
        return SiteState(self.policy, self.clock(), remaining, self.records(), self.coordinator)

    def judge(self, job: JobManifest) -> Verdict:
        """The verdict on ``job`` in the state of this moment."""
        return evaluate(job, self.snapshot(), extra_rules=self.extra_rules)

    def close(self) -> None:
        """Release what was opened to read the state (state.db)."""
        for close in self.closers:
            close()


def no_policy_verdict(_: JobManifest) -> Verdict:
    """Without a site policy nothing is allowed."""
    return Verdict(False, (RuleResult("site_policy", RuleOutcome.DENY, "no site policy is loaded at this site"),))
