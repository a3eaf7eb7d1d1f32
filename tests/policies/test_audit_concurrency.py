"""Appends from several processes and threads at once keep one linear chain."""

from __future__ import annotations

import multiprocessing as mp
import threading
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policies.audit import AuditEvent, AuditLog
from policies.keys import SiteKey
from policies.state import StateStore


def _append_many(db: str, pem: bytes, tag: str, n: int) -> None:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    audit = AuditLog(StateStore(f"sqlite:///{db}"), SiteKey(key), checkpoint_every=17)
    for i in range(n):
        audit.append(AuditEvent.JOB_ROUND, actor=tag, details={"i": i})


def test_two_processes_and_threads_append_linearly(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    key = SiteKey.generate()
    pem = key.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    store = StateStore.for_path(db)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_append_many, args=(str(db), pem, f"proc-{p}", 60)) for p in range(2)]
    threads = [threading.Thread(target=_append_many, args=(str(db), pem, f"thread-{t}", 40)) for t in range(2)]
    for w in (*procs, *threads):
        w.start()
    for t in threads:
        t.join(120)
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    audit = AuditLog(store, key)
    report = audit.verify()
    assert report.records == 2 * 60 + 2 * 40
    assert report.checkpoints == 1 + (2 * 60 + 2 * 40 - 1) // 17  # the first record, then every 17th
    by_actor: dict[str, list[int]] = {}
    for rec in audit.records():
        by_actor.setdefault(rec.actor, []).append(int(rec.details["i"]))
    # each writer's records appear in its own order, none lost or duplicated
    assert all(v == list(range(len(v))) for v in by_actor.values())
    assert sorted(len(v) for v in by_actor.values()) == [40, 40, 60, 60]
