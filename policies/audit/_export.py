"""Exports of the audit log an auditor can verify without the site: JSONL, and an RO-Crate folder (Five Safes
RO-Crate for one job).

JSONL: one object a line; ``{"type": "record", ...}`` for each record in order, then
``{"type": "checkpoint", ...}`` for each signed checkpoint, then the site's signed head of the last record
(``{"type": "audit-head", ...}``, :class:`~policies.audit.SignedHead`): a cut, rewritten or empty export fails.
An export from before issue 14 ends with an unsigned ``{"type": "head", ...}`` line: read, and reported unsigned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fednode.errors import AuditChainError, BadInputError
from fednode.inputs import read_input_text
from policies.audit._chain import (
    HEAD_TYPE,
    AuditRecord,
    Checkpoint,
    SignedHead,
    VerifyReport,
    canonical_json,
    find_heads,
    verify_records,
)
from policies.audit._log import AuditLog
from policies.audit._processing import with_processing_history
from policies.contracts import EgressDecision, JobRecord
from policies.keys import public_key_pem

FIVE_SAFES_PROFILE = "https://w3id.org/5s-crate/0.4"
RO_CRATE_SPEC = "https://w3id.org/ro/crate/1.1"
SHP = "https://w3id.org/shp#"
SHA256 = "https://www.iana.org/assignments/named-information#sha-256"
COMPLETED = "http://schema.org/CompletedActionStatus"
FAILED = "http://schema.org/FailedActionStatus"


def export_jsonl(audit: AuditLog, out: IO[str]) -> VerifyReport:
    """Write the whole log as JSONL, verifying it while it is written, and end it with the signed head of its last
    record; returns the verification report."""

    def tee(records: Iterable[AuditRecord]) -> Iterable[AuditRecord]:
        for rec in records:
            out.write(canonical_json({"type": "record", **rec.to_json()}) + "\n")
            yield rec

    with audit.scan() as (records, checkpoints):
        report = audit.verify_stream(tee(records), checkpoints)
    for cp in checkpoints:
        out.write(canonical_json({"type": "checkpoint", **cp.to_json()}) + "\n")
    out.write(audit.sign_head(report.last_seq, report.last_hash).dumps() + "\n")
    return replace(report, head_signed=True)


@dataclass
class AuditExport:
    """An exported JSONL file, parsed: ``head`` is its signed head line (None: none, or an unsigned legacy one)."""

    records: list[AuditRecord]
    checkpoints: list[Checkpoint]
    head: SignedHead | None
    legacy_head: bool
    """It ends with an unsigned ``{"type": "head"}`` line (an export from before signed heads)."""


def read_jsonl(path: Path) -> tuple[list[AuditRecord], list[Checkpoint]]:
    """Records and checkpoints of an exported JSONL file (see :func:`read_export`)."""
    parsed = read_export(path)
    return parsed.records, parsed.checkpoints


def read_export(path: Path) -> AuditExport:
    """Parse an exported JSONL file. A missing, unreadable, binary or empty file, or a malformed line, raises
    :class:`BadInputError` naming the file (and the line)."""
    parsed = AuditExport([], [], None, False)
    heads: list[SignedHead] = []
    lines = 0
    try:
        with path.open(encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                lines += 1
                _read_line(path, lineno, line, parsed, heads)
    except FileNotFoundError:
        raise BadInputError("no such file", file=str(path)) from None
    except UnicodeDecodeError:
        raise BadInputError("not an audit export (not UTF-8 text: a binary file?)", file=str(path)) from None
    except OSError as exc:
        raise BadInputError(f"cannot read it ({type(exc).__name__})", file=str(path)) from None
    if lines == 0:
        raise BadInputError("empty: not an audit export (`fednode audit export --out FILE` writes one)", file=str(path))
    if len(heads) > 1:
        raise BadInputError(f"{len(heads)} signed head lines: an export has one, at its end", file=str(path))
    parsed.head = heads[0] if heads else None
    return parsed


def _read_line(path: Path, lineno: int, line: str, parsed: AuditExport, heads: list[SignedHead]) -> None:
    try:
        obj = json.loads(line)
        kind = obj.get("type")
        if kind == "record":
            parsed.records.append(AuditRecord.from_json(obj))
        elif kind == "checkpoint":
            parsed.checkpoints.append(Checkpoint.from_json(obj))
        elif kind == HEAD_TYPE:
            heads.append(SignedHead.from_json(obj))
        elif kind == "head":
            parsed.legacy_head = True
        else:
            raise ValueError(f"unknown type {kind!r}")
    except BadInputError as exc:
        raise BadInputError(exc.message, file=str(path), line=lineno) from None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BadInputError(f"not an audit export line ({type(exc).__name__})", file=str(path), line=lineno) from exc


def verify_export(
    parsed: AuditExport, public_key: Ed25519PublicKey | None, *, anchors: Sequence[SignedHead] = ()
) -> VerifyReport:
    """Verify a parsed export offline (another site, an auditor) with the pinned ``public_key``: the chain, its
    checkpoints, its signed head line (it must cover exactly the last record) and ``anchors``.

    An export with no head line at all was cut (:class:`AuditChainError`); one with only an unsigned legacy head
    verifies, and the report says how much of it no signature covers (``unsigned``)."""
    records = parsed.records
    end = records[-1].seq if records else 0
    if parsed.head is None and not parsed.legacy_head:
        raise AuditChainError(
            f"audit export cut: it has no head line (an export ends with the site's signed head); it ends at record "
            f"{end}",
            first_bad_seq=end + 1,
        )
    if parsed.head is None and not records:
        raise BadInputError("no records and no signed head: nothing to verify (an empty export)")
    report = verify_records(records, parsed.checkpoints, public_key, anchors=anchors)
    head = parsed.head
    if head is None:
        return report
    if public_key is not None:
        head.verify(public_key)
    if head.seq > report.last_seq:
        raise AuditChainError(
            f"audit export cut: its signed head covers record {head.seq}, the export ends at {report.last_seq}",
            first_bad_seq=report.last_seq + 1,
        )
    if head.seq < report.last_seq:
        raise AuditChainError(
            f"audit export extended: records {head.seq + 1}..{report.last_seq} follow its signed head",
            first_bad_seq=head.seq + 1,
        )
    if head.hash != report.last_hash:
        after = report.last_checkpoint_seq or 0
        raise AuditChainError(
            f"audit export rewritten: record {head.seq} differs from the export's signed head (records "
            f"{after + 1}..{head.seq} were rewritten)",
            first_bad_seq=after + 1,
        )
    return replace(report, head_signed=True)


def verify_jsonl(
    path: Path, public_key: Ed25519PublicKey | None, *, anchors: Sequence[SignedHead] = ()
) -> VerifyReport:
    """Read and verify an exported JSONL file (:func:`read_export`, :func:`verify_export`)."""
    return verify_export(read_export(path), public_key, anchors=anchors)


def read_anchors(path: Path, *, option: str = "--anchors") -> list[SignedHead]:
    """Every signed head in a JSON or JSONL file (the coordinator's kept heads, a signed model's provenance, a
    receipt, an export): see :func:`~policies.audit.find_heads`. A missing, binary or malformed file, or one
    holding no signed head, is :class:`BadInputError` naming the option and the file."""
    where = f"{option} {path}"
    text = read_input_text(path, where=where, not_text="not JSON text (a binary file?)")
    try:
        heads = find_heads(json.loads(text))
    except json.JSONDecodeError:
        heads = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                heads += find_heads(json.loads(line))
            except json.JSONDecodeError:
                raise BadInputError("not JSON or JSONL", file=where, line=lineno) from None
            except BadInputError as exc:
                raise BadInputError(exc.message, file=where, line=lineno) from None
    except BadInputError as exc:
        raise BadInputError(exc.message, file=where) from None
    if not heads:
        raise BadInputError('holds no signed audit head (objects with "type": "audit-head")', file=where)
    return heads


def export_ro_crate(
    audit: AuditLog,
    folder: Path,
    *,
    site: str,
    public_key: Ed25519PublicKey,
    job: JobRecord | None = None,
    egress: Sequence[EgressDecision] = (),
    rounds: int = 0,
) -> VerifyReport:
    """Write an RO-Crate folder: ``audit.jsonl`` (the whole chain, verified while written), ``site.pub`` and
    ``ro-crate-metadata.json``.

    With ``job`` the crate follows the Five Safes RO-Crate profile (0.4) for that job: the app (by digest) as
    main entity, the study as project, the run as a ``CreateAction``, the policy verdict as a
    ``ValidationCheck``, each approval as a ``SignOff``, the egress guard's decisions as a ``DisclosureCheck``,
    and the chain verification as a ``CheckValue``. Without one it is a plain RO-Crate 1.1 of the log.
    """
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "audit.jsonl").open("w", encoding="utf-8") as fh:
        report = export_jsonl(audit, fh)
    (folder / "site.pub").write_text(public_key_pem(public_key), encoding="ascii")
    graph = with_processing_history(_base_graph(site, report), audit, site=site)  # what was done with the data
    if job is not None:
        graph = _five_safes(graph, site, report, job, egress, rounds)
    metadata = {"@context": "https://w3id.org/ro/crate/1.1/context", "@graph": graph}
    (folder / "ro-crate-metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return report


def _base_graph(site: str, report: VerifyReport) -> list[dict[str, Any]]:
    return [
        {
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "conformsTo": {"@id": RO_CRATE_SPEC},
            "about": {"@id": "./"},
        },
        {
            "@id": "./",
            "@type": "Dataset",
            "name": f"fednode audit log of {site}",
            "description": "Hash-chained audit log of the site's federated-learning jobs, with Ed25519-signed "
            "checkpoints. Contains no patient data.",
            "datePublished": datetime.now(UTC).isoformat(timespec="seconds"),
            "hasPart": [{"@id": "audit.jsonl"}, {"@id": "site.pub"}],
            "publisher": {"@id": _site_id(site)},
            "mentions": [{"@id": "#audit-verification"}],
        },
        {
            "@id": "audit.jsonl",
            "@type": "File",
            "encodingFormat": "application/jsonl",
            "description": f"{report.records} records, {report.checkpoints} signed checkpoints; "
            f"head {report.last_hash}",
        },
        {"@id": "site.pub", "@type": "File", "encodingFormat": "application/x-pem-file", "name": "site public key"},
        {
            "@id": "#audit-verification",
            "@type": "AssessAction",
            "additionalType": {"@id": SHP + "CheckValue"},
            "name": f"Audit chain and checkpoint signatures verified: {report.records} records",
            "object": {"@id": "audit.jsonl"},
            "instrument": {"@id": SHA256},
            "agent": {"@id": _site_id(site)},
            "actionStatus": COMPLETED,
        },
        {"@id": SHA256, "@type": "DefinedTerm", "name": "sha-256 hash chain with Ed25519-signed checkpoints"},
        {"@id": _site_id(site), "@type": "Organization", "name": site},
    ]


def _five_safes(
    graph: list[dict[str, Any]],
    site: str,
    report: VerifyReport,
    job: JobRecord,
    egress: Sequence[EgressDecision],
    rounds: int,
) -> list[dict[str, Any]]:
    m = job.manifest
    by_id = {node["@id"]: node for node in graph}
    root = by_id["./"]
    app_id = f"#app-{m.digest}"
    project_id = f"#study-{m.study}"
    policy_id = f"#policy-{job.verdict.policy_digest or 'unknown'}"
    root["name"] = f"fednode job {job.job_id} at {site}"
    root["conformsTo"] = {"@id": FIVE_SAFES_PROFILE}
    root["mainEntity"] = {"@id": app_id}
    root["sourceOrganization"] = {"@id": project_id}
    mentions: list[dict[str, str]] = root["mentions"]
    extra: list[dict[str, Any]] = [
        {"@id": FIVE_SAFES_PROFILE, "@type": "Profile", "name": "Five Safes RO-Crate profile"},
        {
            "@id": app_id,
            "@type": ["SoftwareSourceCode", "Dataset"],
            "name": m.app_name,
            "identifier": f"sha256:{m.digest}",
            "description": f"{m.kind.value} job app, {len(m.files)} files, {m.algorithm}, {m.rounds} rounds",
        },
        {"@id": project_id, "@type": "Project", "name": m.study},
        {"@id": policy_id, "@type": "CreativeWork", "name": "fednode site policy", "identifier": policy_id[8:]},
        {"@id": "#submitter", "@type": "Person", "name": m.submitter},
    ]
    run_id = f"#run-{job.job_id}"
    mentions.append({"@id": run_id})
    extra.append(
        {
            "@id": run_id,
            "@type": "CreateAction",
            "name": f"Federated training job {job.job_id}: {job.state.value}, {rounds} rounds recorded",
            "instrument": {"@id": app_id},
            "agent": {"@id": "#submitter"},
            "object": [{"@id": f"#dataset-{m.dataset}"}],
            "actionStatus": _status(job.state.value),
        }
    )
    extra.append({"@id": f"#dataset-{m.dataset}", "@type": "Dataset", "name": f"site dataset {m.dataset}"})
    verdict_id = f"#validate-{job.job_id}"
    mentions.append({"@id": verdict_id})
    extra.append(
        {
            "@id": verdict_id,
            "@type": "AssessAction",
            "additionalType": {"@id": SHP + "ValidationCheck"},
            "name": "Site policy verdict: " + ("allowed" if job.verdict.allowed else "denied"),
            "object": {"@id": app_id},
            "instrument": {"@id": policy_id},
            "agent": {"@id": _site_id(site)},
            "actionStatus": COMPLETED if job.verdict.allowed else FAILED,
            "result": [{"@id": f"#rule-{r.rule}"} for r in job.verdict.results],
        }
    )
    extra += [
        {"@id": f"#rule-{r.rule}", "@type": "PropertyValue", "name": r.rule, "value": r.outcome.value}
        for r in job.verdict.results
    ]
    for n, a in enumerate(job.approvals, 1):
        sign_id = f"#signoff-{n}"
        mentions.append({"@id": sign_id})
        extra.append(
            {
                "@id": sign_id,
                "@type": "AssessAction",
                "additionalType": {"@id": SHP + "SignOff"},
                "name": f"Sign-off by {a.approver}: {'approved' if a.decision == 'approve' else 'rejected'}",
                "endTime": a.at.isoformat(),
                "object": [{"@id": app_id}, {"@id": project_id}],
                "instrument": {"@id": policy_id},
                "agent": {"@id": f"#approver-{n}"},
                "actionStatus": COMPLETED if a.decision == "approve" else FAILED,
            }
        )
        extra.append({"@id": f"#approver-{n}", "@type": "Person", "name": a.approver})
    if egress:
        blocked = sum(1 for e in egress if not e.allowed)
        mentions.append({"@id": "#disclosure"})
        extra.append(
            {
                "@id": "#disclosure",
                "@type": "AssessAction",
                "additionalType": {"@id": SHP + "DisclosureCheck"},
                "name": f"Egress guard: {len(egress) - blocked} results released, {blocked} blocked",
                "object": {"@id": run_id},
                "agent": {"@id": _site_id(site)},
                "actionStatus": COMPLETED,
            }
        )
    return graph + extra


def _site_id(site: str) -> str:
    return f"#site-{site}"


def _status(state: str) -> str:
    """schema.org action status of a job state."""
    active = "http://schema.org/ActiveActionStatus"
    return {"finished": COMPLETED, "approved": active, "running": active}.get(
        state, "http://schema.org/PotentialActionStatus" if state == "pending" else FAILED
    )
