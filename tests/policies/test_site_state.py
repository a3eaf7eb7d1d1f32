"""The live site state: read at each verdict, fails closed, the real ledger's reservations count."""

from __future__ import annotations

from pathlib import Path

from fednode.settings import load_settings
from policies.contracts import DpParams
from policies.site_state import CachedCount, LiveSiteState, given_budget, ledger_budget, unspent_budget
from policies.state_db import open_state_db
from policies.verdicts import blocking_rules
from tests.policies.test_verdicts import EXAMPLE, NOW, job, policy, result


def test_each_verdict_reads_the_state_of_its_moment() -> None:
    left = {"omop": 8.0}
    records = [500]
    live = LiveSiteState(policy(), left.get, lambda: records[0], lambda: NOW)
    assert live.judge(job()).allowed
    left["omop"] = 0.5  # another job took the budget
    assert blocking_rules(live.judge(job())) == {"privacy_budget"}
    left["omop"] = 8.0
    records[0] = 3  # notes were removed
    assert blocking_rules(live.judge(job())) == {"local_records"}
    state = live.snapshot()
    assert (state.now, state.local_records, dict(state.budget_remaining)) == (NOW, 3, {"omop": 8.0})


def test_unknown_state_fails_closed() -> None:
    live = LiveSiteState(policy(), lambda _ds: None, lambda: 0, lambda: NOW)
    assert live.snapshot().budget_remaining == {}
    assert blocking_rules(live.judge(job())) == {"local_records", "privacy_budget"}


def test_budget_sources() -> None:
    p = policy()
    assert unspent_budget(p)("omop") == p.privacy.budgets["omop"] and unspent_budget(p)("elsewhere") is None
    assert given_budget({"omop": 1.0})("omop") == 1.0 and given_budget({})("omop") is None


def test_the_ledger_in_state_db_is_the_budget(tmp_path: Path) -> None:
    """A reservation in the privacy ledger shrinks what is left for the next verdict."""
    path = tmp_path / "policy.yaml"
    path.write_text(EXAMPLE.read_text())
    db = open_state_db(load_settings(home=tmp_path, policy={"policy_file": path}))
    assert db.policy is not None
    live = LiveSiteState(db.policy, ledger_budget(db.ledger), lambda: 500, lambda: NOW, closers=(db.close,))
    try:
        assert live.judge(job()).allowed  # a fresh ledger: the whole budget of 8 is left
        big = DpParams(noise_multiplier=1.0, max_grad_norm=1.0, target_epsilon=7.0, delta=1e-5)
        db.ledger.reserve("other-job", "omop", big, actor="test")
        verdict = live.judge(job())
        assert blocking_rules(verdict) == {"privacy_budget"}
        assert "left" in result(verdict, "privacy_budget").reason
    finally:
        live.close()


def test_cached_count_reads_once_per_interval() -> None:
    calls: list[int] = []

    def count() -> int:
        calls.append(1)
        return len(calls)

    cached = CachedCount(count, ttl_s=3600)
    assert (cached(), cached(), len(calls)) == (1, 1, 1)
    fresh = CachedCount(count, ttl_s=0)
    assert (fresh(), fresh()) == (2, 3)


def test_the_verdict_engine_does_not_import_the_live_state() -> None:
    """No circle: ``policies.site_state`` builds on ``policies.verdicts``, never the other way round."""
    import subprocess
    import sys

    code = "import sys, policies.verdicts; print('policies.site_state' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
