"""The audit chain detects change, deletion, insertion, reordering, rewriting and truncation, and names the
first bad record."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from sqlalchemy import text

from fednode.errors import AuditChainError, ConfigError
from policies.audit import GENESIS_HASH, AuditEvent, AuditLog, canonical_json, record_hash
from policies.keys import SiteKey
from policies.state import StateStore
from tests.policies.statekit import FakeClock


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    audit = AuditLog(
        StateStore.for_path(tmp_path / "state.db"), SiteKey.generate(), checkpoint_every=5, clock=FakeClock()
    )
    for i in range(12):  # not decisions: checkpoints at 1 (the first record), 6 and 11
        audit.append(AuditEvent.JOB_ROUND, actor="trainer", job_id=f"job-{i}", details={"i": i, "digest": "a" * 64})
    return audit


def _sql(audit: AuditLog, statement: str, **params: object) -> None:
    with audit._store.write() as s:  # the attacker with direct database access
        s.execute(text(statement), params)


def _bad_seq(audit: AuditLog) -> int | None:
    with pytest.raises(AuditChainError) as info:
        audit.verify()
    return info.value.first_bad_seq


def test_intact_chain_verifies(log: AuditLog) -> None:
    report = log.verify()
    assert (report.records, report.last_seq, report.checkpoints) == (12, 12, 3)
    assert report.last_hash == log.head()[1]
    records = log.records()
    assert records[0].prev_hash == GENESIS_HASH
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(records))


def test_changed_details_named(log: AuditLog) -> None:
    _sql(
        log, "UPDATE audit_record SET details_json = :d WHERE seq = 7", d=canonical_json({"i": 70, "digest": "a" * 64})
    )
    assert _bad_seq(log) == 7


def test_changed_actor_named(log: AuditLog) -> None:
    _sql(log, "UPDATE audit_record SET actor = 'mallory' WHERE seq = 3")
    assert _bad_seq(log) == 3


def test_deleted_record_named(log: AuditLog) -> None:
    _sql(log, "DELETE FROM audit_record WHERE seq = 8")
    assert _bad_seq(log) == 8


def test_deleted_and_renumbered_named(log: AuditLog) -> None:
    _sql(log, "DELETE FROM audit_record WHERE seq = 8")
    _sql(log, "UPDATE audit_record SET seq = seq - 1 WHERE seq > 8")
    assert _bad_seq(log) == 8


def test_inserted_record_named(log: AuditLog) -> None:
    # shift records 4.. up by one, then insert a well-formed record at 4 that links to record 3
    _sql(log, "UPDATE audit_record SET seq = seq + 1000 WHERE seq >= 4")
    _sql(log, "UPDATE audit_record SET seq = seq - 999 WHERE seq >= 1004")
    prev = log.records()[2].hash
    at = log.records()[2].at
    forged = record_hash(4, at, "job:approved", "mallory", "job-x", {}, prev)
    _sql(
        log,
        "INSERT INTO audit_record (seq, at, event, actor, job_id, details_json, prev_hash, hash) "
        "VALUES (4, :at, 'job:approved', 'mallory', 'job-x', '{}', :prev, :h)",
        at=at,
        prev=prev,
        h=forged,
    )
    assert _bad_seq(log) == 4


def test_reordered_records_named(log: AuditLog) -> None:
    _sql(log, "UPDATE audit_record SET seq = -1 WHERE seq = 9")
    _sql(log, "UPDATE audit_record SET seq = 9 WHERE seq = 10")
    _sql(log, "UPDATE audit_record SET seq = 10 WHERE seq = -1")
    assert _bad_seq(log) == 9


def test_rewritten_chain_caught_by_signed_checkpoint(log: AuditLog) -> None:
    # the attacker changes record 7 and recomputes every hash after it: the chain is consistent again
    records = log.records()
    prev = records[5].hash
    for rec in records[6:]:
        details = {**rec.details, "i": 700} if rec.seq == 7 else dict(rec.details)
        h = record_hash(rec.seq, rec.at, rec.event, rec.actor, rec.job_id, details, prev)
        _sql(
            log,
            "UPDATE audit_record SET details_json = :d, prev_hash = :p, hash = :h WHERE seq = :s",
            d=canonical_json(details),
            p=prev,
            h=h,
            s=rec.seq,
        )
        prev = h
    with pytest.raises(AuditChainError) as info:
        log.verify()
    # checkpoint 6 still holds; the rewrite is somewhere in 7..11, the first record it can be is named
    assert info.value.first_bad_seq == 7
    assert "7..11" in info.value.message


def test_truncated_tail_past_checkpoint(log: AuditLog) -> None:
    _sql(log, "DELETE FROM audit_record WHERE seq >= 10")
    assert _bad_seq(log) == 10


def test_deleted_checkpoint(log: AuditLog) -> None:
    _sql(log, "DELETE FROM audit_checkpoint WHERE seq = 11")
    assert _bad_seq(log) == 11


def test_forged_checkpoint_signature(log: AuditLog) -> None:
    other = SiteKey.generate()
    _sql(log, "UPDATE audit_checkpoint SET signature = :sig WHERE seq = 6", sig=other.sign(b"x"))
    assert _bad_seq(log) == 6


def test_verify_with_another_sites_key_fails(log: AuditLog) -> None:
    with pytest.raises(AuditChainError) as info:
        log.verify(SiteKey.generate().public_key)
    assert info.value.first_bad_seq == 1


def test_checkpoint_interval_change_keeps_verifying(tmp_path: Path) -> None:
    store = StateStore.for_path(tmp_path / "state.db")
    key = SiteKey.generate()
    for every in (3, 7, 2):  # settings changed between runs
        audit = AuditLog(store, key, checkpoint_every=every)
        for _ in range(8):
            audit.append(AuditEvent.POLICY_LOADED, actor="cli")
    assert AuditLog(store, key).verify().records == 24


def test_details_refuse_long_text_and_odd_types(log: AuditLog) -> None:
    with pytest.raises(ValueError, match="longer than"):
        log.append(AuditEvent.JOB_ROUND, actor="trainer", details={"note": "x" * 5000})
    with pytest.raises(ValueError, match="finite"):
        log.append(AuditEvent.JOB_ROUND, actor="trainer", details={"loss": float("nan")})
    with pytest.raises(ValueError, match="bytes"):
        log.append(AuditEvent.JOB_ROUND, actor="trainer", details={"blob": b"\x00"})
    assert log.count() == 12  # nothing was written


def test_read_only_log_cannot_append(log: AuditLog) -> None:
    viewer = AuditLog(log._store, None, public_key=log._signer.public_key)  # type: ignore[union-attr]
    assert viewer.verify().records == 12
    with pytest.raises(ConfigError):
        viewer.append(AuditEvent.POLICY_LOADED, actor="x")


def test_filters(log: AuditLog) -> None:
    log.append(AuditEvent.EGRESS_BLOCKED, actor="egress_guard", job_id="job-3", details={"reason": "string tensor"})
    assert [r.seq for r in log.records(job_id="job-3")] == [4, 13]
    assert [r.event for r in log.records(events=[AuditEvent.EGRESS_BLOCKED])] == ["egress:blocked"]
    assert [r.seq for r in log.records(search="string tensor")] == [13]
    assert [r.seq for r in log.records(newest_first=True, limit=2)] == [13, 12]
    assert json.loads(canonical_json(log.records(after_seq=12)[0].details)) == {"reason": "string tensor"}
