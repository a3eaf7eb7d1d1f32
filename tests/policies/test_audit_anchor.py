"""The chain anchored off the site's disk (issue 14): signed heads, checkpoints after decisions and by age,
verification against the coordinator's anchors with the pinned key only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fednode.errors import AuditChainError, BadInputError
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
