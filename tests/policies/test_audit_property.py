"""Property: any single-field change to any record is caught at exactly that record."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from fednode.errors import AuditChainError
from policies.audit import AuditEvent, AuditLog
from policies.keys import SiteKey
from policies.state import StateStore
from tests.policies.statekit import FakeClock

FIELDS = {
    "at": "'2030-01-01T00:00:00.000000+00:00'",
    "event": "'job:approved'",
    "actor": "'mallory'",
    "job_id": "'job-evil'",
    "details_json": "'{\"i\":-1}'",
}


@settings(max_examples=30, deadline=None)
@given(n=st.integers(2, 25), data=st.data(), field=st.sampled_from(sorted(FIELDS)), every=st.integers(1, 9))
def test_single_change_named(n: int, data: st.DataObject, field: str, every: int) -> None:
    target = data.draw(st.integers(1, n), label="target")
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore.for_path(Path(tmp) / "state.db")
        audit = AuditLog(store, SiteKey.generate(), checkpoint_every=every, clock=FakeClock())
        for i in range(n):
            audit.append(AuditEvent.JOB_ROUND, actor="trainer", job_id="job-1", details={"i": i})
        audit.verify()
        with store.write() as s:
            s.execute(text(f"UPDATE audit_record SET {field} = {FIELDS[field]} WHERE seq = :s"), {"s": target})
        with pytest.raises(AuditChainError) as info:
            audit.verify()
        store.dispose()
    assert info.value.first_bad_seq == target
