"""The site's live state for verdicts, wired once for the gate (:mod:`node.site.context`) and ``fednode policy
check``: :class:`policies.site_state.LiveSiteState` with ``omop_etl``'s record count and the site's own rules
(:func:`site_rules`) injected."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial

from fednode.clock import Clock, utc_now
from fednode.settings import Settings
from node.site.byoc_rule import sandbox_rule
from node.site.release_rule import site_dp_rule
from omop_etl.stats import local_record_count
from policies.policy_model import SitePolicy
from policies.site_state import (
    BudgetSource,
    CachedCount,
    LiveSiteState,
    RecordCount,
    given_budget,
    ledger_budget,
    unspent_budget,
)
from policies.state_db import StateDb, open_state_db
from policies.verdicts import Rule

RECORD_COUNT_TTL_S = 60.0
"""How long the gate reuses a record count (it is asked at every scheduling retry)."""


def site_rules() -> tuple[Rule, ...]:
    """The rules every verdict at this site carries beside the policy's: the BYOC sandbox rule
    (:func:`node.site.byoc_rule.sandbox_rule`; the kernel is probed once, at the first BYOC job) and the site's
    own DP on BYOC results (:func:`node.site.release_rule.site_dp_rule`)."""
    return (sandbox_rule(), site_dp_rule)


def site_record_count(settings: Settings, *, ttl_s: float = RECORD_COUNT_TTL_S) -> RecordCount:
    """The local record count the policy is judged on: distinct annotated notes in the site's CDM, cached."""
    return CachedCount(partial(local_record_count, settings.omop_db_url), ttl_s=ttl_s)


def live_state_of(db: StateDb, policy: SitePolicy, settings: Settings, *, clock: Clock = utc_now) -> LiveSiteState:
    """The gate's live state: budgets from the ledger in state.db, records from the CDM."""
    return LiveSiteState(policy, ledger_budget(db.ledger), site_record_count(settings), clock, extra_rules=site_rules())


def open_live_state(
    settings: Settings,
    policy: SitePolicy,
    *,
    clock: Clock = utc_now,
    budgets: Mapping[str, float] | None = None,
    records: int | None = None,
    coordinator: str | None = None,
) -> tuple[LiveSiteState, dict[str, str]]:
    """The live state ``fednode policy check`` judges in, and where each part came from.

    ``budgets`` and ``records`` override what the site holds; otherwise the budgets come from the ledger in
    state.db (the whole budgets while no state.db exists: nothing spent, and none is created) and the records from
    the CDM, exactly as the gate reads them. Call ``close()`` on the state when done.
    """
    closers = []
    budget: BudgetSource
    if budgets is not None:
        budget, budget_note = given_budget(budgets), "given on the command line"
    elif not settings.state_db_path.is_file():
        budget, budget_note = unspent_budget(policy), "no ledger at this site yet: nothing spent"
    else:
        db = open_state_db(settings, policy, create=False)  # `policy check` is read-only: it creates no site key
        closers.append(db.close)
        budget, budget_note = ledger_budget(db.ledger), "from the privacy ledger"
    if records is not None:
        count: RecordCount = partial(int, records)
        records_note = "given on the command line"
    else:
        count, records_note = site_record_count(settings), "distinct annotated notes in the site's CDM"
    state = LiveSiteState(policy, budget, count, clock, coordinator, tuple(closers), site_rules())
    return state, {"budget": budget_note, "local records": records_note}
