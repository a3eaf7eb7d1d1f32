"""The writer process of the two-process append measurement (importable, so ``spawn`` can start it)."""

from __future__ import annotations

import os
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from policies.audit import AuditEvent, AuditLog
from policies.keys import SiteKey
from policies.state import StateStore

DETAILS = {"digest": "a" * 64, "round": 3, "metrics": {"f1": 0.81, "loss": 0.42}, "bytes_sent": 90_842_112}


def concurrent_worker(db: str, pem: bytes, n: int, every: int, barrier: Any) -> None:
    """Append ``n`` records once every writer is ready (``barrier``), then wait at the barrier again."""
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    audit = AuditLog(StateStore(f"sqlite:///{db}"), SiteKey(key), checkpoint_every=every)
    audit.head()  # connect and warm up before the clock starts
    barrier.wait()
    for i in range(n):
        audit.append(AuditEvent.JOB_ROUND, actor=f"proc-{os.getpid()}", job_id="job-bench", details={**DETAILS, "i": i})
    barrier.wait()
