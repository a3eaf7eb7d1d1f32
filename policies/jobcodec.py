"""JSON forms of the contract types the registry stores (``JobManifest``, ``Verdict``)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from policies.audit import canonical_json
from policies.contracts import (
    DpParams,
    Finding,
    JobKind,
    JobManifest,
    ManifestFile,
    RuleOutcome,
    RuleResult,
    Verdict,
)
from policies.state import isoformat


def dp_to_json(dp: DpParams) -> dict[str, Any]:
    return {
        "noise_multiplier": dp.noise_multiplier,
        "max_grad_norm": dp.max_grad_norm,
        "target_epsilon": dp.target_epsilon,
        "delta": dp.delta,
        "sample_rate": dp.sample_rate,
        "steps": dp.steps,
        "accountant": dp.accountant,
    }


def dp_from_json(obj: dict[str, Any]) -> DpParams:
    return DpParams(
        noise_multiplier=float(obj["noise_multiplier"]),
        max_grad_norm=float(obj["max_grad_norm"]),
        target_epsilon=float(obj["target_epsilon"]),
        delta=float(obj["delta"]),
        sample_rate=float(obj.get("sample_rate", 0.0)),
        steps=int(obj.get("steps", 0)),
        accountant=str(obj.get("accountant", "prv")),
    )


def _declared(m: JobManifest) -> dict[str, Any]:
    """Everything the submitter declared except the files and the submission time."""
    return {
        "job_id": m.job_id,
        "study": m.study,
        "app_name": m.app_name,
        "kind": m.kind.value,
        "submitter": m.submitter,
        "algorithm": m.algorithm,
        "rounds": m.rounds,
        "min_clients": m.min_clients,
        "sites": list(m.sites),
        "data_access": {k: list(v) for k, v in sorted(m.data_access.items())},
        "dp": None if m.dp is None else dp_to_json(m.dp),
        "dataset": m.dataset,
        "pinned_meta": m.pinned_meta,
        **({"secure_aggregation": True} if m.secure_aggregation else {}),  # absent when off: older digests hold
    }


def manifest_to_json(m: JobManifest) -> dict[str, Any]:
    return {
        **_declared(m),
        "digest": m.digest,
        "submitted_at": isoformat(m.submitted_at),
        "files": [{"path": f.path, "sha256": f.sha256, "size": f.size, "content": f.content} for f in m.files],
    }


def manifest_from_json(obj: dict[str, Any]) -> JobManifest:
    return JobManifest(
        job_id=str(obj["job_id"]),
        study=str(obj["study"]),
        app_name=str(obj["app_name"]),
        digest=str(obj["digest"]),
        files=tuple(
            ManifestFile(path=f["path"], sha256=f["sha256"], size=int(f["size"]), content=f.get("content"))
            for f in obj["files"]
        ),
        kind=JobKind(obj["kind"]),
        submitter=str(obj["submitter"]),
        submitted_at=datetime.fromisoformat(obj["submitted_at"]),
        algorithm=str(obj["algorithm"]),
        rounds=int(obj["rounds"]),
        min_clients=int(obj["min_clients"]),
        sites=tuple(obj["sites"]),
        data_access={k: tuple(v) for k, v in obj["data_access"].items()},
        dp=None if obj.get("dp") is None else dp_from_json(obj["dp"]),
        dataset=str(obj["dataset"]),
        pinned_meta=dict(obj["pinned_meta"]),
        secure_aggregation=obj.get("secure_aggregation") is True,
    )


def meta_digest(m: JobManifest) -> str:
    """sha256 over the declared, policy-relevant fields (pinned meta included), not the files."""
    return hashlib.sha256(canonical_json(_declared(m)).encode("utf-8")).hexdigest()


def verdict_to_json(v: Verdict) -> dict[str, Any]:
    return {
        "allowed": v.allowed,
        "policy_digest": v.policy_digest,
        "results": [{"rule": r.rule, "outcome": r.outcome.value, "reason": r.reason} for r in v.results],
        "findings": [
            {"file": f.file, "line": f.line, "capability": f.capability, "message": f.message, "severity": f.severity}
            for f in v.findings
        ],
    }


def verdict_from_json(obj: dict[str, Any]) -> Verdict:
    return Verdict(
        allowed=bool(obj["allowed"]),
        results=tuple(RuleResult(r["rule"], RuleOutcome(r["outcome"]), r["reason"]) for r in obj["results"]),
        findings=tuple(
            Finding(f["file"], int(f["line"]), f["capability"], f["message"], str(f.get("severity", "deny")))
            for f in obj["findings"]
        ),
        policy_digest=str(obj.get("policy_digest", "")),
    )
