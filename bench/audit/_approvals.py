"""What signing a checkpoint after every decision costs a review: the latency of recording a job for review
(``job:pending``) and of approving it (``job:approved``), with the decision checkpoints and without them."""

from __future__ import annotations

import statistics
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from policies.audit import CHECKPOINTED_EVENTS, AuditLog
from policies.contracts import JobKind, JobManifest, ManifestFile, RuleOutcome, RuleResult, Verdict
from policies.keys import SiteKey
from policies.ledger import PrivacyLedger
from policies.registry import ApprovalRules, JobService
from policies.state import StateStore

ALLOW = Verdict(True, (RuleResult("ethics", RuleOutcome.ALLOW, "ethics approval valid"),), policy_digest="p" * 64)


def _manifest(job_id: str) -> JobManifest:
    content = "print('hello')\n"
    return JobManifest(
        job_id=job_id,
        study="bench-study",
        app_name="app",
        digest=f"{abs(hash(job_id)):064x}"[-64:],
        files=(ManifestFile("custom/train.py", "c" * 64, len(content), content),),
        kind=JobKind.CONFIG_ONLY,
        submitter="lead@example.org / Example",
        submitted_at=datetime(2026, 12, 5, tzinfo=UTC),
        sites=("site-a",),
        pinned_meta={"min_clients": 1},
    )


def _service(db: Path, decisions: frozenset[str]) -> JobService:
    store = StateStore.for_path(db)
    audit = AuditLog(store, SiteKey.generate(), site="site-a", decisions=decisions)
    ledger = PrivacyLedger(store, audit, budgets={}, delta=1e-5)
    by_name: dict[str, Any] = {"identity": "name"} if "identity" in {f.name for f in fields(ApprovalRules)} else {}
    rules = ApprovalRules(approvers=("dr.hansen",), required_approvals=1, **by_name)
    return JobService(store, audit, ledger, rules=rules)


def approval_latency(tmp: Path, jobs: int = 300, block: int = 25) -> dict[str, Any]:
    """Median and p90 milliseconds of ``register_pending`` and ``approve``, the two modes interleaved in blocks
    (same process, same disk, alternating) so that the machine's load falls on both alike."""
    services = {
        "signed": _service(tmp / "signed.db", CHECKPOINTED_EVENTS),
        "baseline": _service(tmp / "baseline.db", frozenset()),  # as before issue 14: no decision checkpoints
    }
    times: dict[str, dict[str, list[float]]] = {m: {"pending": [], "approve": []} for m in services}
    for start in range(0, jobs, block):
        for mode, jobs_service in services.items():
            for j in range(start, min(start + block, jobs)):
                job = f"job-{mode}-{j}"
                t = time.perf_counter()
                jobs_service.register_pending(_manifest(job), ALLOW)
                t2 = time.perf_counter()
                jobs_service.approve(job, "dr.hansen", "bench")
                t3 = time.perf_counter()
                times[mode]["pending"].append(1e3 * (t2 - t))
                times[mode]["approve"].append(1e3 * (t3 - t2))
    out: dict[str, Any] = {"jobs": jobs}
    for mode, by_step in times.items():
        out[mode] = {
            step: {"median_ms": statistics.median(v), "p90_ms": statistics.quantiles(v, n=10)[-1]}
            for step, v in by_step.items()
        }
    for mode, jobs_service in services.items():
        out[mode]["checkpoints"] = len(jobs_service._audit.checkpoints())
    for step in ("pending", "approve"):
        out[f"{step}_ratio"] = out["signed"][step]["median_ms"] / out["baseline"][step]["median_ms"]
    for s in services.values():
        s._store.dispose()
    return out
