"""The signed global model: Ed25519 over the model's digest and its provenance manifest.

The coordinator writes three files next to each other when a study ends:

- ``global_model.safetensors``: the model weights;
- ``provenance.json``: what produced them (job id and app digest, sites per round, rounds, approvals received,
  aggregation rule, model digest, and ``audit_heads``: each site's last audit head the coordinator verified against
  the site's pinned key and countersigned, which ``fednode audit verify --anchors`` checks a site's chain against);
- ``provenance.sig.json``: the coordinator's Ed25519 signature over the canonical JSON of the provenance (which
  itself names the model digest), with the key id and public key.

A site calls :func:`verify_signed_model` before it uses a model: the signature must verify against a public key the
site trusts (pinned out of band, e.g. shipped with the site's startup kit), the weights must hash to the digest in
the provenance, and the job digest must be the one the site approved. Where the provenance holds a site's signed
approval receipt (``approvals[site]["receipt"]``) and the caller gives that site's public key (a site its own), the
receipt must verify against it and name this job and digest. Any failure raises ``SignatureError``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import BadInputError, FednodeError, SignatureError
from policies.anchors import Anchor
from policies.keys import SiteKey, key_id, load_public_key, verify_signature
from policies.receipts import Receipt, verify_receipt

MODEL_FILE = "global_model.safetensors"
PROVENANCE_FILE = "provenance.json"
SIGNATURE_FILE = "provenance.sig.json"
SCHEMA = "fednode.provenance/1"


@dataclass(frozen=True)
class RoundRecord:
    """One aggregation round: who contributed, with what weight, and the numbers they reported."""

    round: int
    sites: tuple[str, ...]
    weights: Mapping[str, float] = field(default_factory=dict)
    missing: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    metrics: Mapping[str, Mapping[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Provenance:
    """What the coordinator attests about a global model."""

    job_id: str
    job_digest: str
    study: str
    algorithm: str
    rounds: tuple[RoundRecord, ...]
    sites: tuple[str, ...]
    approvals: Mapping[str, Mapping[str, Any]]
    model_sha256: str
    model_file: str = MODEL_FILE
    created_at: str = ""
    schema: str = SCHEMA
    audit_heads: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Site -> its last countersigned audit head (``policies.anchors.Anchor`` JSON); absent in older models."""
    restarts: tuple[Mapping[str, Any], ...] = ()
    """Each coordinator restart the study survived (``node.coordinator.checkpoint.Restart`` JSON: the job that
    continued it, the job it continued, the last round completed before it); absent when there was none."""
    attachments: Mapping[str, str] = field(default_factory=dict)
    """File name (beside the model) -> sha256: files the signature covers too, e.g. the model card."""
    credit: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Site -> its credit figures over this study's rounds (:class:`node.coordinator.credit.SiteCredit` JSON)."""
    secure_aggregation: Mapping[str, Any] = field(default_factory=dict)
    """When the rounds were securely aggregated: the protocol, the ring and, per round, the sites whose masked
    inputs were summed and those whose masks were recovered after they dropped out (``node.coordinator.secagg``)."""

    def canonical(self) -> bytes:
        """The exact bytes that are signed: sorted-key, compact JSON (``audit_heads`` only when there are some, so
        models signed before it existed still verify)."""
        data = asdict(self)
        if not data["audit_heads"]:
            del data["audit_heads"]
        if not data["restarts"]:
            del data["restarts"]
        if not data["attachments"]:
            del data["attachments"]
        if not data["credit"]:
            del data["credit"]
        if not data["secure_aggregation"]:
            del data["secure_aggregation"]
        return json.dumps(data, sort_keys=True, separators=(",", ":"), default=list).encode("utf-8")

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Provenance:
        try:
            rounds = tuple(
                RoundRecord(
                    round=int(r["round"]),
                    sites=tuple(r["sites"]),
                    weights=dict(r.get("weights", {})),
                    missing=tuple(r.get("missing", ())),
                    rejected=tuple(r.get("rejected", ())),
                    metrics={k: dict(v) for k, v in r.get("metrics", {}).items()},
                )
                for r in data["rounds"]
            )
            return cls(
                job_id=str(data["job_id"]),
                job_digest=str(data["job_digest"]),
                study=str(data["study"]),
                algorithm=str(data["algorithm"]),
                rounds=rounds,
                sites=tuple(data["sites"]),
                approvals={k: dict(v) for k, v in data["approvals"].items()},
                model_sha256=str(data["model_sha256"]),
                model_file=str(data.get("model_file", MODEL_FILE)),
                created_at=str(data.get("created_at", "")),
                schema=str(data.get("schema", "")),
                audit_heads={str(k): dict(v) for k, v in (data.get("audit_heads") or {}).items()},
                restarts=tuple(dict(r) for r in data.get("restarts") or ()),
                attachments={str(k): str(v) for k, v in (data.get("attachments") or {}).items()},
                credit={str(k): dict(v) for k, v in (data.get("credit") or {}).items()},
                secure_aggregation=dict(data.get("secure_aggregation") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SignatureError(f"{PROVENANCE_FILE}: malformed provenance ({type(exc).__name__}: {exc})") from exc


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sign_model(folder: Path, provenance: Provenance, key: SiteKey) -> Path:
    """Write ``provenance.json`` and its signature next to the model file already in ``folder``."""
    model_path = folder / provenance.model_file
    if sha256_file(model_path) != provenance.model_sha256:
        raise SignatureError(f"{model_path.name}: bytes do not match the provenance's model digest")
    (folder / PROVENANCE_FILE).write_text(json.dumps(asdict(provenance), indent=2, sort_keys=True), encoding="utf-8")
    signature = {
        "algorithm": "ed25519",
        "key_id": key.key_id,
        "public_key": key.public_pem,
        "signature": key.sign(provenance.canonical()),
    }
    sig_path = folder / SIGNATURE_FILE
    sig_path.write_text(json.dumps(signature, indent=2, sort_keys=True), encoding="utf-8")
    return sig_path


def digest_matches(receipt_digest: str, app: str, job_digest: str) -> bool:
    """Whether a receipt's app digest is the job's digest (one app) or that app's entry in it (several apps)."""
    return receipt_digest == job_digest or f"{app}={receipt_digest}" in job_digest.split(";")


def receipt_sites(provenance: Provenance) -> tuple[str, ...]:
    """The sites whose signed approval receipt the provenance holds."""
    return tuple(sorted(s for s, entry in provenance.approvals.items() if isinstance(entry.get("receipt"), Mapping)))


def verify_site_receipt(provenance: Provenance, site: str, public_key_pem: str) -> None:
    """Check ``site``'s receipt in the provenance against that site's public key; ``SignatureError`` if wrong."""
    entry = provenance.approvals.get(site, {}).get("receipt")
    try:
        receipt = Receipt.from_json(entry if isinstance(entry, Mapping) else {})
        body = verify_receipt(receipt, load_public_key(public_key_pem))
    except BadInputError as exc:
        raise SignatureError(f"provenance: {site}'s approval receipt is malformed") from exc
    except SignatureError as exc:
        raise SignatureError(f"provenance: {site}'s approval receipt: {exc.message}") from exc
    if body.get("site") != site or body.get("job_id") != provenance.job_id:
        raise SignatureError(f"provenance: {site}'s approval receipt names another site or job")
    if not digest_matches(str(body.get("job_digest", "")), str(body.get("app", "")), provenance.job_digest):
        raise SignatureError(f"provenance: {site}'s approval receipt is for another job digest")


def _check_audit_heads(provenance: Provenance, coordinator: Ed25519PublicKey, site_keys: Mapping[str, str]) -> None:
    """Each site's anchored audit head must be countersigned by the coordinator that signed the model and, where
    the caller gives that site's key, signed by the site; ``SignatureError`` otherwise."""
    for site, entry in provenance.audit_heads.items():
        try:
            anchor = Anchor.from_json(entry)
            anchor.verify(coordinator)
            if anchor.head.site != site:
                raise SignatureError("names another site")
            if site in site_keys:
                anchor.head.verify(load_public_key(site_keys[site]))
        except FednodeError as exc:
            raise SignatureError(f"provenance: {site}'s audit head: {exc.message}") from None


@dataclass(frozen=True)
class VerifiedModel:
    """A model whose signature, weights and provenance checked out.

    ``receipts``: the sites whose signed approval receipt the provenance holds; ``receipts_verified``: those whose
    receipt was checked against a public key the caller gave.
    """

    model_path: Path
    provenance: Provenance
    key_id: str
    receipts: tuple[str, ...] = ()
    receipts_verified: tuple[str, ...] = ()


def verify_signed_model(
    folder: Path,
    trusted_public_keys: Sequence[str],
    *,
    expected_job_digest: str | None = None,
    site_keys: Mapping[str, str] | None = None,
) -> VerifiedModel:
    """Verify a signed global model before use; raise ``SignatureError`` on anything wrong.

    ``trusted_public_keys`` are PEM texts the site trusts; the public key embedded in the signature file only
    selects among them and is never trusted on its own. ``site_keys`` maps site names to their public keys (PEM):
    each of those sites' receipts in the provenance, where present, must verify against its key.
    """
    if not trusted_public_keys:
        raise SignatureError("no trusted coordinator key configured: refusing to trust any model")
    try:
        sig = json.loads((folder / SIGNATURE_FILE).read_text(encoding="utf-8"))
        prov_data = json.loads((folder / PROVENANCE_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SignatureError(f"{Path(exc.filename).name}: missing; the model is not signed") from exc
    except json.JSONDecodeError as exc:
        raise SignatureError(f"signature or provenance file is not valid JSON (line {exc.lineno})") from exc
    if not isinstance(sig, dict) or sig.get("algorithm") != "ed25519":
        raise SignatureError(f"{SIGNATURE_FILE}: unsupported signature algorithm")
    provenance = Provenance.from_json(prov_data)
    if provenance.schema != SCHEMA:
        raise SignatureError(f"{PROVENANCE_FILE}: unknown schema {provenance.schema!r}")
    message = provenance.canonical()
    signer = None
    for pem in trusted_public_keys:
        public = load_public_key(pem)
        if verify_signature(public, str(sig.get("signature", "")), message):
            signer = key_id(public)
            break
    if signer is None:
        raise SignatureError(f"{SIGNATURE_FILE}: signature does not verify against any trusted coordinator key")
    _check_audit_heads(provenance, public, site_keys or {})
    model_path = folder / provenance.model_file
    if model_path.name != provenance.model_file or not model_path.is_file():
        raise SignatureError(f"{provenance.model_file}: model file missing")
    if sha256_file(model_path) != provenance.model_sha256:
        raise SignatureError(f"{model_path.name}: weights do not match the signed digest")
    for name, digest in provenance.attachments.items():
        attached = folder / name
        if attached.name != name or not attached.is_file() or sha256_file(attached) != digest:
            raise SignatureError(f"{name}: missing or does not match the signed digest")
    if expected_job_digest is not None and provenance.job_digest != expected_job_digest:
        raise SignatureError("provenance: the model comes from a job whose digest this site did not approve")
    receipts = receipt_sites(provenance)
    checked = tuple(sorted(s for s in (site_keys or {}) if s in receipts))
    for site in checked:
        verify_site_receipt(provenance, site, (site_keys or {})[site])
    return VerifiedModel(model_path, provenance, signer, receipts=receipts, receipts_verified=checked)
