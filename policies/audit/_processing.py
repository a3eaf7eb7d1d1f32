"""The processing history (GDPR art. 30 record of processing): the audit records of what was done with the
site's data and to the site itself (ETL loads, notes de-identified, DQ runs, policy loads and compiles, keys,
approver enrolments, exports), each with a one-line summary a person reads, and as RO-Crate actions.

Only what the records hold is shown: ids, counts and digests, never patient data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from policies.audit._chain import AuditRecord
from policies.audit._events import AuditEvent
from policies.audit._log import AuditLog

PROCESSING_EVENTS: tuple[AuditEvent, ...] = (
    AuditEvent.ETL_LOADED,
    AuditEvent.NOTES_LOADED,
    AuditEvent.NOTES_DEIDENTIFIED,
    AuditEvent.DQ_RUN,
    AuditEvent.POLICY_LOADED,
    AuditEvent.POLICY_COMPILED,
    AuditEvent.KEY_CREATED,
    AuditEvent.KEY_INSTALLED,
    AuditEvent.APPROVER_ENROLLED,
    AuditEvent.AUDIT_EXPORTED,
    AuditEvent.RECEIPT_ISSUED,
    AuditEvent.FEDERATION_PROVISIONED,
    AuditEvent.STUDY_SUBMITTED,
    AuditEvent.STUDY_DOWNLOADED,
)
"""The events of the record of processing (job decisions and budgets have their own views)."""

_WHAT = {
    AuditEvent.ETL_LOADED.value: "ETL into the CDM",
    AuditEvent.NOTES_LOADED.value: "notes into the CDM",
    AuditEvent.NOTES_DEIDENTIFIED.value: "notes de-identified",
    AuditEvent.DQ_RUN.value: "data-quality gate",
    AuditEvent.POLICY_LOADED.value: "site policy loaded",
    AuditEvent.POLICY_COMPILED.value: "site policy compiled",
    AuditEvent.KEY_CREATED.value: "site key created",
    AuditEvent.KEY_INSTALLED.value: "site key installed",
    AuditEvent.APPROVER_ENROLLED.value: "approver enrolled",
    AuditEvent.AUDIT_EXPORTED.value: "audit log exported",
    AuditEvent.RECEIPT_ISSUED.value: "receipt issued",
    AuditEvent.FEDERATION_PROVISIONED.value: "kits provisioned",
    AuditEvent.STUDY_SUBMITTED.value: "study submitted",
    AuditEvent.STUDY_DOWNLOADED.value: "result downloaded",
}


@dataclass(frozen=True)
class ProcessingEntry:
    """One line of the processing history: what, when, by whom, and its counts in a few words."""

    seq: int
    at: str
    event: str
    actor: str
    what: str
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "event": self.event,
            "actor": self.actor,
            "what": self.what,
            "summary": self.summary,
        }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _sum(value: Any) -> int:
    return sum(_int(v) for v in value.values()) if isinstance(value, Mapping) else 0


def _short(digest: Any) -> str:
    text = str(digest or "")
    return text.removeprefix("sha256:")[:12] or "-"


def summarise(event: str, details: Mapping[str, Any]) -> str:
    """A person's one line for a processing record's details (counts and short digests only)."""
    d = details
    if event == AuditEvent.ETL_LOADED:
        rows = d.get("rows", {})
        persons = _int(rows.get("person")) if isinstance(rows, Mapping) else 0
        return (
            f"{_int(d.get('changed_total')):,} rows changed, {persons:,} persons, "
            f"{_int(d.get('quarantined_total')):,} quarantined; source {_short(d.get('source_digest'))} "
            f"({_int(d.get('source_files'))} files)"
        )
    if event in (AuditEvent.NOTES_LOADED, AuditEvent.NOTES_DEIDENTIFIED):
        loaded = d.get("loaded", {})
        into = f", {_sum(loaded) - _int(loaded.get('nlp_rows')):,} in NOTE" if isinstance(loaded, Mapping) else ""
        return (
            f"{_int(d.get('read')):,} read, {_int(d.get('deidentified')):,} de-identified{into}, "
            f"{_sum(d.get('quarantined')) + _sum(d.get('load_quarantined')):,} quarantined, "
            f"{_sum(d.get('phi')):,} PHI replaced; {d.get('operator')}, secret {_short(d.get('secret_id'))}"
        )
    if event == AuditEvent.DQ_RUN:
        s = d.get("summary", {}) if isinstance(d.get("summary"), Mapping) else {}
        return (
            f"{str(d.get('verdict', '?')).upper()}: {_int(s.get('pass')):,} passed, {_int(s.get('fail')):,} failed, "
            f"{_int(s.get('accepted')):,} accepted"
        )
    if event in (AuditEvent.POLICY_LOADED, AuditEvent.POLICY_COMPILED):
        return f"policy {_short(d.get('policy_digest'))}"
    if event in (AuditEvent.KEY_CREATED, AuditEvent.KEY_INSTALLED):
        return f"key {d.get('key_id', '-')}"
    if event == AuditEvent.APPROVER_ENROLLED:
        return f"{d.get('approver', '-')} ({d.get('factor', '-')}{', replaced' if d.get('replaced') else ''})"
    if event == AuditEvent.AUDIT_EXPORTED:
        return f"{_int(d.get('records')):,} records as {d.get('format', '-')}" + (
            f" from the {d['via']}" if d.get("via") else ""
        )
    if event == AuditEvent.RECEIPT_ISSUED:
        return f"digest {_short(d.get('digest'))}"
    if event == AuditEvent.FEDERATION_PROVISIONED:
        sites = d.get("sites", [])
        return f"{d.get('project', '-')}: {len(sites) if isinstance(sites, list) else 0} sites"
    if event in (AuditEvent.STUDY_SUBMITTED, AuditEvent.STUDY_DOWNLOADED):
        return f"{d.get('job_id', '-')} digest {_short(d.get('digest') or d.get('job_digest'))}"
    return ""


def entry_of(record: AuditRecord) -> ProcessingEntry:
    """A processing record as one history line."""
    return ProcessingEntry(
        record.seq,
        record.at,
        record.event,
        record.actor,
        _WHAT.get(record.event, record.event),
        summarise(record.event, record.details),
    )


def processing_history(
    audit: AuditLog, *, limit: int | None = None, newest_first: bool = True
) -> list[ProcessingEntry]:
    """The site's processing history from its audit log (``limit`` entries, newest first by default)."""
    records = audit.records(events=PROCESSING_EVENTS, limit=limit, newest_first=newest_first)
    return [entry_of(r) for r in records]


def is_processing(record: AuditRecord) -> bool:
    return record.event in {e.value for e in PROCESSING_EVENTS}


def processing_actions(records: Iterable[AuditRecord], *, site: str) -> list[dict[str, Any]]:
    """RO-Crate ``CreateAction`` entities for the processing records (ids, counts, digests as properties)."""
    out: list[dict[str, Any]] = []
    for r in records:
        if not is_processing(r):
            continue
        out.append(
            {
                "@id": f"#processing-{r.seq}",
                "@type": "CreateAction",
                "name": f"{_WHAT.get(r.event, r.event)} at {site}",
                "description": summarise(r.event, r.details),
                "endTime": r.at,
                "agent": {"@id": f"#agent-{r.actor}"},
                "additionalType": r.event,
                "identifier": f"audit-seq-{r.seq}",
                "additionalProperty": _properties(r.details),
            }
        )
    return out


def _properties(details: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The record's details as schema.org PropertyValues (nested values as compact JSON text)."""
    import json

    props: list[dict[str, Any]] = []
    for key in sorted(details):
        value = details[key]
        if not isinstance(value, str | int | float | bool) and value is not None:
            value = json.dumps(value, sort_keys=True, separators=(",", ":"))
        props.append({"@type": "PropertyValue", "name": key, "value": value})
    return props


def processing_agents(actions: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``#agent-<actor>`` entities the actions name (OS users and service actors, never patients)."""
    ids = sorted({str(a["agent"]["@id"]) for a in actions})
    return [{"@id": i, "@type": "Person" if "boot" not in i else "SoftwareApplication", "name": i[7:]} for i in ids]


def with_processing_history(graph: list[dict[str, Any]], audit: AuditLog, *, site: str) -> list[dict[str, Any]]:
    """``graph`` (an RO-Crate's) with the site's processing history: one ``CreateAction`` per processing record
    and its agents, mentioned by the root dataset."""
    actions = processing_actions(audit.records(events=PROCESSING_EVENTS), site=site)
    if not actions:
        return graph
    out = [dict(e) for e in graph]
    for entity in out:
        if entity.get("@id") == "./":
            entity["mentions"] = [*entity.get("mentions", []), *({"@id": a["@id"]} for a in actions)]
    return out + actions + processing_agents(actions)


__all__ = [
    "PROCESSING_EVENTS",
    "ProcessingEntry",
    "entry_of",
    "is_processing",
    "processing_actions",
    "processing_agents",
    "processing_history",
    "summarise",
    "with_processing_history",
]
