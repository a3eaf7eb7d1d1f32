"""The coordinator's side of the signed model: gather provenance from the job meta, write and sign the result."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from fednode.errors import BadInputError
from node.coordinator.signing import MODEL_FILE, Provenance, RoundRecord, digest_matches, sha256_file, sign_model
from policies.keys import load_or_create_site_key
from policies.manifest import stated_app_digests
from policies.receipts import Receipt


def job_digest_from_meta(meta: Mapping[str, Any]) -> str:
    """The app digest(s) the sites reviewed, recomputed from the manifest in the job meta as a site recomputes
    them (``policies.manifest.stated_app_digests``).

    One app: its digest. Several apps: ``app=digest`` pairs joined by ``;`` in app order. No manifest: ``""``.
    """
    digests = stated_app_digests(meta)
    if not digests:
        return ""
    if len(digests) == 1:
        return next(iter(digests.values()))
    return ";".join(f"{k}={v}" for k, v in digests.items())


def approvals_from_meta(
    meta: Mapping[str, Any],
    receipts: Mapping[str, object] | None = None,
    *,
    job_id: str = "",
    job_digest: str = "",
) -> dict[str, dict[str, Any]]:
    """Per-site approval evidence the coordinator holds: the sites that had to accept the job before it ran.

    NVFlare only deploys a job once every mandatory site accepted it at ``check_resources``, and a fednode site
    accepts only after its people approved the digest (``{"evidence": "accepted_for_deploy"}``). A site whose
    results carried its signed approval receipt for this job gets ``{"evidence": "signed_receipt", "receipt":
    ...}`` instead (:func:`receipt_evidence`); anyone holding the site's public key can verify it.
    """
    sites = meta.get("mandatory_clients") or []
    approvals = {str(s): {"evidence": "accepted_for_deploy"} for s in sites if isinstance(s, str)}
    for site, value in (receipts or {}).items():
        entry = receipt_evidence(site, value, job_id=job_id, job_digest=job_digest)
        if entry is not None:
            approvals[site] = entry
    return approvals


def receipt_evidence(site: str, value: object, *, job_id: str, job_digest: str) -> dict[str, Any] | None:
    """The provenance entry for ``site``'s receipt, or ``None`` when ``value`` is not a receipt that this site
    issued for this job and digest (the coordinator holds no site keys; a site verifies the signature)."""
    if not isinstance(value, Mapping):
        return None
    try:
        receipt = Receipt.from_json(value)
    except BadInputError:
        return None
    body = receipt.body
    if body.get("site") != site or body.get("job_id") != job_id:
        return None
    if job_digest and not digest_matches(str(body.get("job_digest", "")), str(body.get("app", "")), job_digest):
        return None
    return {"evidence": "signed_receipt", "receipt": receipt.to_json()}


def sign_final_model(
    *,
    run_dir: Path,
    key_dir: Path,
    state: Mapping[str, torch.Tensor],
    job_id: str,
    job_digest: str,
    study: str,
    algorithm: str,
    rounds: tuple[RoundRecord, ...],
    sites: tuple[str, ...],
    approvals: Mapping[str, Mapping[str, Any]],
    audit_heads: Mapping[str, Mapping[str, Any]] | None = None,
    restarts: tuple[Mapping[str, Any], ...] = (),
    attachments: Mapping[str, str] | None = None,
    credit: Mapping[str, Mapping[str, Any]] | None = None,
    secure_aggregation: Mapping[str, Any] | None = None,
) -> Path:
    """Save the weights as safetensors in ``run_dir`` and sign them with the key in ``key_dir``.

    ``audit_heads``: each site's last anchored audit head (countersigned, :class:`policies.anchors.Anchor` JSON).
    ``attachments``: files already in ``run_dir`` (name -> sha256) the signature covers too (the model card).
    ``credit``: each site's credit figures over this study (:mod:`node.coordinator.credit`).
    ``secure_aggregation``: how the rounds were securely aggregated (:mod:`node.coordinator.secagg`)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    model_path = run_dir / MODEL_FILE
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()}, str(model_path))
    provenance = Provenance(
        job_id=job_id,
        job_digest=job_digest,
        study=study,
        algorithm=algorithm,
        rounds=rounds,
        sites=sites,
        approvals={k: dict(v) for k, v in approvals.items()},
        audit_heads={k: dict(v) for k, v in (audit_heads or {}).items()},
        restarts=tuple(dict(r) for r in restarts),
        attachments=dict(attachments or {}),
        credit={k: dict(v) for k, v in (credit or {}).items()},
        secure_aggregation=dict(secure_aggregation or {}),
        model_sha256=sha256_file(model_path),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    return sign_model(run_dir, provenance, load_or_create_site_key(key_dir))
