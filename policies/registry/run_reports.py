"""What a running job reports: each round's local metrics and bytes sent, and each egress-guard decision;
stored and audited."""

from __future__ import annotations

import json

from policies.audit import AuditEvent
from policies.contracts import EgressDecision, RoundReport
from policies.registry.base import RegistryBase
from policies.registry.rules import clean_reason
from policies.state import EgressRow, RoundRow


class RunReports(RegistryBase):
    """``record_round`` (the trainer) and ``record_egress`` (the egress guard)."""

    def record_round(self, report: RoundReport, *, actor: str = "trainer") -> None:
        """Store one round's local metrics (numbers only) and bytes sent; audited as ``job:round``."""
        metrics = {str(k): float(v) for k, v in report.metrics.items()}
        with self._store.write() as s:
            self._row(s, report.job_id)
            existing = s.get(RoundRow, (report.job_id, report.round))
            if existing is None:
                s.add(
                    RoundRow(
                        job_id=report.job_id,
                        round=report.round,
                        metrics_json=json.dumps(metrics),
                        bytes_sent=report.bytes_sent,
                        at=report.at,
                    )
                )
            else:
                existing.metrics_json, existing.bytes_sent, existing.at = (
                    json.dumps(metrics),
                    report.bytes_sent,
                    report.at,
                )
            self._audit.append(
                AuditEvent.JOB_ROUND,
                actor=actor,
                job_id=report.job_id,
                details={"round": report.round, "metrics": metrics, "bytes_sent": report.bytes_sent},
                session=s,
            )

    def record_egress(self, decision: EgressDecision, *, actor: str = "egress_guard") -> None:
        """Store one egress-guard decision; audited as ``egress:allowed`` or ``egress:blocked``."""
        with self._store.write() as s:
            self._row(s, decision.job_id)
            s.add(
                EgressRow(
                    job_id=decision.job_id,
                    round=decision.round,
                    allowed=decision.allowed,
                    reason=clean_reason(decision.reason),
                    at=decision.at,
                )
            )
            self._audit.append(
                AuditEvent.EGRESS_ALLOWED if decision.allowed else AuditEvent.EGRESS_BLOCKED,
                actor=actor,
                job_id=decision.job_id,
                details={"round": decision.round, "reason": clean_reason(decision.reason)},
                session=s,
            )
