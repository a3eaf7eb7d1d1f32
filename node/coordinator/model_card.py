"""The model card: how the consortium's model does at every site and in every group, what went in, who decided.

The coordinator assembles it when a study ends (:func:`build_card`) from what it holds: the rounds it ran, each
site's signed approval receipt, and each site's answer to the cross-site ``validate`` task
(:mod:`node.kit.crosssite`: rounded figures, small groups suppressed by the site's policy, the epsilon the site's
ledger charged, the DP parameters it imposed). Per group (site, note language, entity type) it compares the best
and the worst F1 and flags a spread above the study's threshold, saying in plain words where the model is weaker.
Limitations are the submitter's own text (required at submission) and what the coordinator finds: weaker groups,
suppressed groups, sites that dropped out, rounds that ran under quorum or without every site.

It is written as ``model_card.json`` (validated against ``model_card.schema.json`` in this package) and
``model_card.md``; the provenance names both files' digests (``attachments``), so the coordinator's signature
covers them and one changed byte fails verification.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from fednode.errors import BadInputError, SignatureError
from node.coordinator.signing import PROVENANCE_FILE, RoundRecord
from node.kit.crosssite import ALL_SCOPE, SiteEvaluation, version_text

CARD_JSON = "model_card.json"
CARD_MD = "model_card.md"
CARD_FILES = (CARD_JSON, CARD_MD)
CARD_SCHEMA = "fednode.model_card/1"
SCHEMA_FILE = "model_card.schema.json"
DEFAULT_SPREAD_THRESHOLD = 0.1
"""The largest best-to-worst F1 spread a study accepts before the card flags it (a study may set its own)."""

LICENCES = {"minilm": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)", "tiny": "none (random initialisation)"}


@dataclass(frozen=True)
class CardInputs:
    """Everything the coordinator holds when the study ends."""

    study: str
    job_id: str
    job_digest: str
    algorithm: str
    sites: tuple[str, ...]
    rounds: tuple[RoundRecord, ...]
    rounds_planned: int
    quorum: int
    approvals: Mapping[str, Mapping[str, Any]]
    evaluations: Mapping[str, SiteEvaluation]
    limitations: str
    algorithm_args: Mapping[str, Any] = field(default_factory=dict)
    base_checkpoint: str = ""
    spread_threshold: float = DEFAULT_SPREAD_THRESHOLD
    coordinator_key_id: str = ""
    secure_aggregation: Mapping[str, Any] | None = None
    """Hook for secure aggregation (``node.coordinator.secagg``): what it reports, e.g. ``{"scheme": ...}``."""
    data_quality: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per site: ``{"passed": bool, "failed": int, "accepted": int}`` where the site reports it."""
    created_at: str = ""


# -- building -----------------------------------------------------------------------------------------------------


def licence_of(base: str) -> str:
    """The base checkpoint's licence: known for the bundled ones, else read from the folder's README front matter."""
    if base in LICENCES:
        return LICENCES[base]
    readme = Path(base) / "README.md"
    try:
        for line in readme.read_text(encoding="utf-8").splitlines()[:40]:
            if line.lower().startswith("license:"):
                return line.split(":", 1)[1].strip() or "unknown"
    except (OSError, UnicodeDecodeError):
        pass
    return "unknown (not stated by the checkpoint)"


def _receipt_summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    receipt = entry.get("receipt")
    body = receipt.get("body") if isinstance(receipt, Mapping) else None
    if not isinstance(body, Mapping):
        return {"evidence": str(entry.get("evidence", "none")), "approvers": [], "issued_at": None, "digest": None}
    approvers = [
        {"name": str(a.get("name", "")), "at": str(a.get("at", ""))}
        for a in body.get("approvers") or []
        if isinstance(a, Mapping)
    ]
    return {
        "evidence": "signed_receipt",
        "approvers": approvers,
        "issued_at": str(body.get("issued_at", "")) or None,
        "digest": str(body.get("job_digest", "")) or None,
        "key_id": str(receipt.get("key_id", "")) if isinstance(receipt, Mapping) else None,
    }


def _last_metric(rounds: Sequence[RoundRecord], site: str, name: str) -> float | None:
    for record in reversed(rounds):
        value = record.metrics.get(site, {}).get(name)
        if value is not None and math.isfinite(value):
            return float(value)
    return None


def _data_quality(facts: Mapping[str, float]) -> dict[str, Any] | None:
    """The site's data-quality gate as it reported it with its figures (None when it did not)."""
    if "dq_passed" not in facts:
        return None
    return {
        "passed": bool(facts["dq_passed"]),
        "failed": int(facts.get("dq_failed", 0)),
        "accepted": int(facts.get("dq_accepted", 0)),
    }


def _site_row(inputs: CardInputs, site: str) -> dict[str, Any]:
    ev = inputs.evaluations.get(site)
    facts = ev.facts if ev is not None else {}
    dp = None
    if "dp_noise_multiplier" in facts:
        dp = {
            "noise_multiplier": facts["dp_noise_multiplier"],
            "max_grad_norm": facts.get("dp_max_grad_norm"),
            "delta": facts.get("dp_delta"),
        }
    epsilon = facts.get("epsilon")
    if epsilon is None:
        epsilon = _last_metric(inputs.rounds, site, "epsilon")

    def whole(name: str) -> int | None:
        value = facts.get(name)
        return int(value) if value is not None else None

    return {
        "site": site,
        "records": whole("records"),
        "heldout": whole("heldout"),
        "min_support": whole("min_support"),
        "rounds_contributed": sum(1 for r in inputs.rounds if site in r.sites),
        "dp": dp,
        "epsilon": epsilon,
        "deid_version": version_text(facts["deid_version"]) if "deid_version" in facts else None,
        "data_quality": _data_quality(facts)
        or (dict(inputs.data_quality[site]) if site in inputs.data_quality else None),
        "approval": _receipt_summary(inputs.approvals.get(site, {})),
        "evaluated": ev is not None,
    }


def _group_rows(evaluations: Mapping[str, SiteEvaluation]) -> list[dict[str, Any]]:
    rows = []
    for site in sorted(evaluations):
        for scope, g in sorted(evaluations[site].groups.items()):
            kind = "all" if scope == ALL_SCOPE else scope.split("_", 1)[0]
            rows.append(
                {
                    "site": site,
                    "scope": scope,
                    "kind": {"all": "site", "type": "entity_type", "lang": "language"}[kind],
                    "group": scope.split("_", 1)[1] if "_" in scope else site,
                    "precision": g.precision,
                    "recall": g.recall,
                    "f1": g.f1,
                    "support": g.support,
                    "suppressed": g.suppressed,
                }
            )
    return rows


def _spread(dimension: str, scores: Mapping[str, float], threshold: float) -> dict[str, Any] | None:
    """Best and worst group of one dimension, their spread, and the groups more than ``threshold`` below the best
    (``weaker``, each with its F1)."""
    if len(scores) < 2:
        return None
    best = max(scores, key=lambda k: (scores[k], k))
    worst = min(scores, key=lambda k: (scores[k], k))
    spread = round(scores[best] - scores[worst], 3)
    weaker = sorted(g for g, s in scores.items() if scores[best] - s > threshold)
    return {
        "dimension": dimension,
        "best": {"group": best, "f1": scores[best]},
        "worst": {"group": worst, "f1": scores[worst]},
        "spread": spread,
        "threshold": threshold,
        "flagged": spread > threshold,
        "weaker": [{"group": g, "f1": scores[g]} for g in weaker],
    }


def _pooled(rows: Sequence[Mapping[str, Any]], kind: str) -> dict[str, float]:
    """Support-weighted mean F1 per group of ``kind`` over the sites that released it."""
    sums: dict[str, tuple[float, int]] = {}
    for row in rows:
        if row["kind"] != kind or row["suppressed"] or row["f1"] is None or not row["support"]:
            continue
        total, n = sums.get(row["group"], (0.0, 0))
        sums[row["group"]] = (total + row["f1"] * row["support"], n + row["support"])
    return {g: round(t / n, 3) for g, (t, n) in sums.items() if n}


def _spreads(rows: Sequence[Mapping[str, Any]], threshold: float) -> list[dict[str, Any]]:
    by_site = {r["site"]: r["f1"] for r in rows if r["kind"] == "site" and not r["suppressed"] and r["f1"] is not None}
    out = [_spread("site", by_site, threshold), _spread("language", _pooled(rows, "language"), threshold)]
    out.append(_spread("entity_type", _pooled(rows, "entity_type"), threshold))
    for site in sorted({r["site"] for r in rows}):
        langs = {
            r["group"]: r["f1"]
            for r in rows
            if r["site"] == site and r["kind"] == "language" and not r["suppressed"] and r["f1"] is not None
        }
        out.append(_spread(f"language at {site}", langs, threshold))
    return [s for s in out if s is not None]


def _findings(spreads: Sequence[Mapping[str, Any]]) -> list[str]:
    """Plain words for every flagged spread: where the model is weaker, by how much."""
    words = {"site": "at", "language": "on notes in", "entity_type": "on entity type"}
    out = []
    for s in spreads:
        if not s["flagged"]:
            continue
        dim = str(s["dimension"])
        where = words.get(dim, "on notes in" if dim.startswith("language at") else "in")
        suffix = f" ({dim.removeprefix('language ')})" if dim.startswith("language at") else ""
        best = s["best"]
        for weak in s["weaker"]:
            out.append(
                f"The model is weaker {where} {weak['group']}{suffix}: F1 {weak['f1']:.3g} against {best['f1']:.3g} "
                f"{where} {best['group']} (spread {s['spread']:.3g}, above the study's threshold {s['threshold']:.3g})."
            )
    return out


def _automatic_limitations(inputs: CardInputs, rows: Sequence[Mapping[str, Any]], findings: list[str]) -> list[str]:
    out = list(findings)
    for row in rows:
        if row["suppressed"]:
            what = "overall" if row["kind"] == "site" else f"{row['kind'].replace('_', ' ')} {row['group']}"
            out.append(
                f"{row['site']}: figures for {what} are withheld (fewer mentions than the site's minimum support)."
            )
    missing = sorted(set(inputs.sites) - set(inputs.evaluations))
    if missing:
        out.append(f"No cross-site evaluation from {', '.join(missing)}: the model's performance there is unknown.")
    for record in inputs.rounds:
        absent = sorted({*record.missing, *record.rejected})
        if absent:
            out.append(f"Round {record.round} ran without {', '.join(absent)} (dropped out, refused or rejected).")
        if len(record.sites) < inputs.quorum:
            out.append(f"Round {record.round} ran under quorum ({len(record.sites)} of {inputs.quorum} sites).")
    if len(inputs.rounds) < inputs.rounds_planned:
        out.append(f"Only {len(inputs.rounds)} of {inputs.rounds_planned} planned rounds ran.")
    no_dp = [s for s in inputs.sites if not any("epsilon" in r.metrics.get(s, {}) for r in inputs.rounds)]
    no_dp = [s for s in no_dp if "epsilon" not in (inputs.evaluations.get(s) or SiteEvaluation()).facts]
    if no_dp:
        out.append(f"No differential-privacy charge reported by {', '.join(no_dp)}.")
    return out


def build_card(inputs: CardInputs) -> dict[str, Any]:
    """The card as JSON data (valid against the schema; see :func:`validate_card`)."""
    if not inputs.limitations.strip():
        raise BadInputError("the study's limitations are empty; the submitter must write them")
    rows = _group_rows(inputs.evaluations)
    spreads = _spreads(rows, inputs.spread_threshold)
    findings = _findings(spreads)
    sites = [_site_row(inputs, s) for s in inputs.sites]
    deid = sorted({s["deid_version"] for s in sites if s["deid_version"]})
    card: dict[str, Any] = {
        "schema": CARD_SCHEMA,
        "study": inputs.study,
        "job_id": inputs.job_id,
        "job_digest": inputs.job_digest,
        "created_at": inputs.created_at,
        "model": {
            "base_checkpoint": inputs.base_checkpoint or "unknown",
            "licence": licence_of(inputs.base_checkpoint),
            "deid_versions": deid,
        },
        "training": {
            "algorithm": inputs.algorithm,
            "algorithm_args": json.loads(json.dumps(dict(inputs.algorithm_args), default=str)),
            "rounds_planned": inputs.rounds_planned,
            "rounds_run": len(inputs.rounds),
            "quorum": inputs.quorum,
            "secure_aggregation": {
                "used": inputs.secure_aggregation is not None,
                "detail": json.loads(json.dumps(dict(inputs.secure_aggregation), default=str))
                if inputs.secure_aggregation is not None
                else None,
            },
        },
        "sites": sites,
        "evaluation": {
            "metric": "f1",
            "spread_threshold": inputs.spread_threshold,
            "groups": rows,
            "spreads": spreads,
            "findings": findings,
        },
        "limitations": {
            "submitter": inputs.limitations.strip(),
            "automatic": _automatic_limitations(inputs, rows, findings),
        },
        "decisions": {
            "coordinator_key_id": inputs.coordinator_key_id,
            "signature": f"Ed25519 over {PROVENANCE_FILE}, which names this card's digest",
        },
    }
    validate_card(card)
    return card


# -- the schema -----------------------------------------------------------------------------------------------------


def card_schema() -> dict[str, Any]:
    """The committed JSON Schema (draft 2020-12 subset) of ``model_card.json``."""
    text = resources.files("node.coordinator").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}


def _type_ok(value: object, name: str) -> bool:
    if isinstance(value, bool) and name in ("integer", "number"):
        return False
    return isinstance(value, _TYPES[name])


def schema_errors(value: object, schema: Mapping[str, Any], root: Mapping[str, Any], path: str = "$") -> list[str]:
    """Where ``value`` breaks ``schema``: the subset of JSON Schema the card's schema uses (``$ref`` to ``$defs``,
    ``type``, ``enum``, ``const``, ``properties``, ``required``, ``additionalProperties``, ``items``,
    ``minimum``, ``maximum``, ``minLength``)."""
    if "$ref" in schema:
        name = str(schema["$ref"]).removeprefix("#/$defs/")
        return schema_errors(value, root["$defs"][name], root, path)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else list(types)
        if not any(_type_ok(value, t) for t in names):
            return [f"{path}: expected {' or '.join(names)}"]
    errors: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: not one of {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{path}: must be {schema['const']!r}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: below {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: above {schema['maximum']}")
    if isinstance(value, str) and len(value) < int(schema.get("minLength", 0)):
        errors.append(f"{path}: shorter than {schema['minLength']}")
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        errors += [f"{path}: {k} is required" for k in schema.get("required", []) if k not in value]
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors += schema_errors(item, props[key], root, f"{path}.{key}")
            elif extra is False:
                errors.append(f"{path}: unexpected key {key}")
            elif isinstance(extra, Mapping):
                errors += schema_errors(item, extra, root, f"{path}.{key}")
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{path}[{i}]")
    return errors


def validate_card(card: object) -> None:
    """Raise :class:`BadInputError` naming the first problems when ``card`` does not match the schema."""
    schema = card_schema()
    errors = schema_errors(card, schema, schema)
    if errors:
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        raise BadInputError(f"not a valid model card: {'; '.join(errors[:3])}{more}", file=CARD_JSON)


# -- files --------------------------------------------------------------------------------------------------------


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def render_markdown(card: Mapping[str, Any]) -> str:
    """The card for people: the same facts as the JSON, in sections."""
    ev, training, model = card["evaluation"], card["training"], card["model"]
    lines = [
        f"# Model card: {card['study']}",
        "",
        f"Job `{card['job_id']}`, app digest `{card['job_digest'] or '-'}`, created {card['created_at'] or '-'}.",
        "",
        "## Performance at each site (cross-site evaluation on each site's held-back split)",
        "",
        "| site | group | precision | recall | F1 | support |",
        "|---|---|---|---|---|---|",
    ]
    for row in ev["groups"]:
        group = "all" if row["kind"] == "site" else f"{row['kind'].replace('_', ' ')} {row['group']}"
        if row["suppressed"]:
            lines.append(f"| {row['site']} | {group} | suppressed | | | < min |")
        else:
            values = (row["precision"], row["recall"], row["f1"], row["support"])
            lines.append(f"| {row['site']} | {group} | " + " | ".join(_fmt(v) for v in values) + " |")
    lines += ["", f"Spread of F1 between the best and the worst group (threshold {_fmt(ev['spread_threshold'])}):", ""]
    for s in ev["spreads"]:
        flag = "**flagged**" if s["flagged"] else "within threshold"
        lines.append(
            f"- {s['dimension']}: best {s['best']['group']} {_fmt(s['best']['f1'])}, worst {s['worst']['group']} "
            f"{_fmt(s['worst']['f1'])}, spread {_fmt(s['spread'])} ({flag})"
        )
    if not ev["spreads"]:
        lines.append("- fewer than two groups with released figures")
    lines += ["", *(f"- {f}" for f in ev["findings"])] if ev["findings"] else []
    sa = training["secure_aggregation"]
    lines += [
        "",
        "## What went in",
        "",
        f"- Algorithm: {training['algorithm']} {json.dumps(training['algorithm_args'], sort_keys=True)}; "
        f"rounds {training['rounds_run']} of {training['rounds_planned']}, quorum {training['quorum']}",
        f"- Secure aggregation: {'used' if sa['used'] else 'not used'}"
        + (f" ({json.dumps(sa['detail'], sort_keys=True)})" if sa["detail"] else ""),
        f"- Base checkpoint: {model['base_checkpoint']} (licence: {model['licence']})",
        f"- De-identification version(s): {', '.join(model['deid_versions']) or 'not reported'}",
        "",
        "| site | records | held back | rounds | epsilon | DP noise / clip / delta | DQ |",
        "|---|---|---|---|---|---|---|",
    ]
    for site in card["sites"]:
        dp = site["dp"]
        dp_text = (
            "none" if dp is None else " / ".join(_fmt(dp[k]) for k in ("noise_multiplier", "max_grad_norm", "delta"))
        )
        dq = site["data_quality"]
        dq_text = (
            "not reported"
            if dq is None
            else ("pass" if dq.get("passed") else "fail")
            + (f", {dq.get('accepted', 0)} accepted" if dq.get("accepted") else "")
        )
        lines.append(
            f"| {site['site']} | {_fmt(site['records'])} | {_fmt(site['heldout'])} | {site['rounds_contributed']} | "
            f"{_fmt(site['epsilon'])} | {dp_text} | {dq_text} |"
        )
    lines += ["", "## Who decided", ""]
    for site in card["sites"]:
        a = site["approval"]
        who = ", ".join(f"{p['name']} at {p['at']}" for p in a["approvers"]) or "no approver named"
        lines.append(f"- {site['site']}: {a['evidence']}; {who}; digest `{a['digest'] or '-'}`")
    lines += [
        f"- Coordinator: key `{card['decisions']['coordinator_key_id'] or '-'}`; {card['decisions']['signature']}",
        "",
        "## Limitations",
        "",
        "Written by the submitter:",
        "",
        card["limitations"]["submitter"],
        "",
        "Found automatically:",
        "",
        *(f"- {x}" for x in card["limitations"]["automatic"] or ["none"]),
        "",
    ]
    return "\n".join(lines)


def card_bytes(card: Mapping[str, Any]) -> dict[str, bytes]:
    """The two files' exact bytes."""
    return {
        CARD_JSON: (json.dumps(card, indent=2, sort_keys=True) + "\n").encode("utf-8"),
        CARD_MD: render_markdown(card).encode("utf-8"),
    }


def write_card(folder: Path, card: Mapping[str, Any]) -> dict[str, str]:
    """Write ``model_card.json`` and ``model_card.md`` into ``folder``; return each file's sha256 (for the
    provenance's ``attachments``)."""
    folder.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, data in card_bytes(card).items():
        (folder / name).write_bytes(data)
        digests[name] = hashlib.sha256(data).hexdigest()
    return digests


def read_card(folder: Path, attachments: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read ``model_card.json`` from a model folder; with ``attachments`` (from a verified provenance) each card
    file must hash to its signed digest (:class:`SignatureError` otherwise). The JSON must match the schema."""
    path = folder / CARD_JSON
    if not path.is_file():
        if attachments:
            raise SignatureError(f"{CARD_JSON}: missing, but the signed provenance names it")
        raise BadInputError(f"no {CARD_JSON} here: this model has no card", file=str(folder))
    for name in CARD_FILES if attachments is not None else ():
        want = attachments.get(name) if attachments is not None else None
        file = folder / name
        if want is None:
            raise SignatureError(f"{name}: not named by the signed provenance")
        if not file.is_file() or hashlib.sha256(file.read_bytes()).hexdigest() != want:
            raise SignatureError(f"{name}: does not match the digest the coordinator signed")
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"not JSON ({type(exc).__name__})", file=str(path)) from None
    validate_card(card)
    return dict(card)
