"""The chain anchored off the site's disk (issue 14): signed heads, checkpoints after decisions and by age,
verification against the coordinator's anchors with the pinned key only."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from fednode.errors import AuditChainError, BadInputError, ConfigError
from policies.audit import GENESIS_HASH, AuditEvent, AuditLog, SignedHead, find_heads
from policies.keys import SiteKey
from policies.state import StateStore
from tests.policies.statekit import FakeClock


def _log(tmp_path: Path, key: SiteKey | None = None, **kw: object) -> AuditLog:
    return AuditLog(
        StateStore.for_path(tmp_path / "state.db"),
        key or SiteKey.generate(),
        clock=FakeClock(),
        site="site-a",
        **kw,  # type: ignore[arg-type]
    )


def test_signed_head_roundtrip_and_verify(tmp_path: Path) -> None:
    key = SiteKey.generate()
    audit = _log(tmp_path, key)
    empty = audit.signed_head()
    assert (empty.site, empty.seq, empty.hash) == ("site-a", 0, GENESIS_HASH)
    for i in range(3):
        audit.append(AuditEvent.JOB_ROUND, actor="trainer", details={"round": i})
    head = audit.signed_head()
    assert (head.seq, head.hash) == audit.head()
    obj = json.loads(head.dumps())
    assert obj["type"] == "audit-head" and obj["key_id"] == key.key_id
    assert SignedHead.from_json(obj) == head
    head.verify(key.public_key)
    with pytest.raises(AuditChainError, match="not the pinned key"):
        head.verify(SiteKey.generate().public_key)
    forged = SignedHead.from_json({**obj, "seq": 2})
    with pytest.raises(AuditChainError, match="does not verify"):
        forged.verify(key.public_key)
    with pytest.raises(BadInputError):
        SignedHead.from_json({**obj, "seq": "2"})


def test_find_heads_at_any_depth(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    audit.append(AuditEvent.JOB_ROUND, actor="trainer", details={})
    head = audit.signed_head().to_json()
    doc = {"provenance": {"audit_heads": [{"head": head, "countersignature": "x"}]}, "other": [head]}
    assert [h.seq for h in find_heads(doc)] == [1, 1]
    assert find_heads({"heads": []}) == []


def _cp_seqs(audit: AuditLog) -> list[int]:
    return [c.seq for c in audit.checkpoints()]


def test_every_decision_is_signed_at_once(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    events = [AuditEvent.JOB_ROUND, AuditEvent.JOB_PENDING, AuditEvent.JOB_ROUND, AuditEvent.JOB_ROUND]
    events += [AuditEvent.JOB_APPROVED, AuditEvent.DIGEST_VERIFIED, AuditEvent.JOB_ROUND, AuditEvent.EGRESS_BLOCKED]
    events += [AuditEvent.JOB_REJECTED, AuditEvent.JOB_REFUSED, AuditEvent.JOB_APPROVAL_REFUSED]
    events += [AuditEvent.JOB_APPROVAL_RECORDED, AuditEvent.JOB_ROUND]
    for e in events:
        audit.append(e, actor="gate", job_id="job-1")
    assert _cp_seqs(audit) == [1, 2, 5, 6, 8, 9, 10, 11, 12]  # the first record, then each decision
    assert audit.verify().signed_through == 12


def test_a_checkpoint_when_the_last_is_older_than_n_minutes(tmp_path: Path) -> None:
    clock = FakeClock()
    audit = AuditLog(StateStore.for_path(tmp_path / "state.db"), SiteKey.generate(), clock=clock, checkpoint_minutes=10)
    for _ in range(3):
        audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    assert _cp_seqs(audit) == [1]
    clock.now += timedelta(minutes=9)
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    assert _cp_seqs(audit) == [1]
    clock.now += timedelta(minutes=1)
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")  # the last checkpoint is 10 minutes old now
    assert _cp_seqs(audit) == [1, 5]
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    assert _cp_seqs(audit) == [1, 5]
    assert audit.verify().records == 6
    with pytest.raises(ConfigError):
        AuditLog(audit._store, SiteKey.generate(), checkpoint_minutes=0)


def _sql(audit: AuditLog, statement: str) -> None:
    with audit._store.write() as s:
        s.execute(text(statement))


def test_a_deleted_checkpoint_is_caught_by_the_next_ones_link(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    for e in (AuditEvent.JOB_ROUND, AuditEvent.JOB_ROUND, AuditEvent.JOB_ROUND, AuditEvent.JOB_PENDING):
        audit.append(e, actor="gate", job_id="job-1")
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    audit.append(AuditEvent.JOB_PENDING, actor="gate", job_id="job-2")
    assert _cp_seqs(audit) == [1, 4, 6]
    _sql(audit, "DELETE FROM audit_checkpoint WHERE seq = 1")  # a checkpoint of no decision
    with pytest.raises(AuditChainError, match="before it, after 0, was deleted") as info:
        audit.verify()
    assert info.value.first_bad_seq == 4


def test_a_decision_without_its_checkpoint_is_caught(tmp_path: Path) -> None:
    audit = _log(tmp_path)
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    audit.append(AuditEvent.JOB_PENDING, actor="gate", job_id="job-1")
    audit.append(AuditEvent.JOB_ROUND, actor="trainer")
    _sql(audit, "DELETE FROM audit_checkpoint WHERE seq = 2")  # the last checkpoint: no later link to break
    with pytest.raises(AuditChainError, match="job:pending record is missing") as info:
        audit.verify()
    assert info.value.first_bad_seq == 2


def test_anchors_catch_a_cut_back_chain(tmp_path: Path) -> None:
    key = SiteKey.generate()
    audit = _log(tmp_path, key)
    for i in range(6):
        audit.append(AuditEvent.JOB_PENDING if i == 2 else AuditEvent.JOB_ROUND, actor="gate", details={"i": i})
    head = audit.signed_head()
    _sql(audit, "DELETE FROM audit_record WHERE seq > 3")  # back to the decision's checkpoint
    assert audit.verify(key.public_key).records == 3  # consistent and signed without the anchor
    with pytest.raises(AuditChainError, match="truncated"):
        audit.verify(key.public_key, anchors=[head])
    with pytest.raises(AuditChainError, match="not the pinned key"):
        audit.verify(
            key.public_key, anchors=[SignedHead.sign(SiteKey.generate(), site="site-a", seq=1, hash_="x", at="t")]
        )
