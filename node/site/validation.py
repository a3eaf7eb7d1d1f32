"""Cross-site evaluation at a site: the held-back split, the built-in evaluator, and what may leave.

A deterministic share of the site's notes (``evaluation.holdout_fraction`` of its policy) is held back from
training: a note is held back when the keyed hash (HMAC-SHA256, keyed by the site's name) of its CDM ``note_id``
falls below that share, so training (:func:`training_examples`) and evaluation (:func:`split_notes`) read
disjoint notes in every round and every job without storing a list. When the coordinator sends the final global
model in the ``validate`` task (:data:`node.kit.crosssite.VALIDATE_TASK`), the site scores it on its held-back
annotated notes with the reviewed evaluator (:func:`node.ml.ner.evaluate.evaluate`) and returns aggregate numbers
only: entity precision, recall, F1 and support overall, per entity type and per note language (the NOTE row's
``language_concept_id``, where the policy's ``data_access`` lets the site read it), each rounded by the egress
guard's metric rules (:func:`node.site.release.release_metric`, three significant digits) and suppressed below the
policy's ``evaluation.min_support``; plus the rounded record counts, the epsilon this job charged and the DP
parameters the site imposed (:func:`site_facts`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Any

from node.kit.crosssite import (
    ALL_SCOPE,
    ENTITY_SCOPES,
    LANGUAGES,
    GroupFigures,
    SiteEvaluation,
    flatten,
    version_number,
)
from node.site.release import ReleaseBounds, release_metric
from policies.policy_model import EvaluationSection

if TYPE_CHECKING:
    from nvflare.apis.shareable import Shareable
    from nvflare.apis.signal import Signal

    from node.ml.ner.data import NerExample
    from node.ml.ner.model import NerModel, StateDict
    from node.site.executor import NerExecutor
    from policies.contracts import DpParams
    from policies.policy_model import SitePolicy

log = logging.getLogger("fednode.node.site.validation")

HOLDOUT_DOMAIN = b"fednode.holdout/1|"
LANGUAGE_NAMES: Mapping[str, str] = {
    "English language": "en",
    "Swedish language": "sv",
    "Norwegian language": "no",
    "Danish language": "da",
    "Finnish language": "fi",
    "Estonian language": "et",
    "German language": "de",
    "French language": "fr",
    "Dutch language": "nl",
    "Spanish language": "es",
    "Italian language": "it",
}
"""SNOMED language concept names (``concept.concept_name``) -> the codes a group may be named by."""
ENGLISH_CONCEPT = 4180186
LANGUAGE_COLUMN = "language_concept_id"
UNKNOWN_LANGUAGE = "und"


@dataclass(frozen=True)
class EvalNote:
    """One annotated note as the evaluator reads it: id, de-identified text, gold spans, language code."""

    note_id: int
    text: str
    spans: tuple[tuple[int, int, str], ...]
    language: str = UNKNOWN_LANGUAGE


def is_held_back(note_id: int, *, site: str, fraction: float) -> bool:
    """Whether ``note_id`` belongs to this site's held-back split (the same answer in every job)."""
    digest = hmac.new(HOLDOUT_DOMAIN + site.encode("utf-8"), str(int(note_id)).encode("ascii"), hashlib.sha256)
    return int.from_bytes(digest.digest()[:8], "big") / 2.0**64 < fraction


def _languages(engine: Any) -> dict[int, str]:
    """note_id -> language code, from NOTE.language_concept_id and the site's vocabulary."""
    from sqlalchemy import select

    from omop_etl.cdm import Concept, Note

    with engine.connect() as conn:
        names: dict[int, str] = {}
        rows = conn.execute(select(Note.note_id, Note.language_concept_id)).all()
        wanted = {int(c) for _, c in rows if c}
        if wanted:
            stmt = select(Concept.concept_id, Concept.concept_name).where(Concept.concept_id.in_(wanted))
            names = {int(cid): str(name) for cid, name in conn.execute(stmt).all()}
    out = {}
    for note_id, concept in rows:
        code = LANGUAGE_NAMES.get(names.get(int(concept or 0), ""), "")
        if not code and concept == ENGLISH_CONCEPT:
            code = "en"
        out[int(note_id)] = code if code in LANGUAGES else UNKNOWN_LANGUAGE
    return out


def reads_language(policy: SitePolicy | None) -> bool:
    """Whether the site policy's ``data_access`` lets the site read ``note.language_concept_id`` (without it every
    note counts as ``und`` and no per-language figures are made)."""
    return policy is not None and LANGUAGE_COLUMN in policy.data_access.get("note", ())


def read_notes(engine: Any, *, languages: bool = False) -> list[EvalNote]:
    """Every note of the CDM with its gold spans (and language, when ``languages``), in note_id order."""
    from omop_etl.notes import read_gold_notes

    by_note = _languages(engine) if languages else {}
    return [
        EvalNote(int(nid), text, tuple(spans), by_note.get(int(nid), UNKNOWN_LANGUAGE))
        for nid, text, spans in read_gold_notes(engine)
    ]


def split_notes(notes: Sequence[EvalNote], *, site: str, fraction: float) -> tuple[list[EvalNote], list[EvalNote]]:
    """(training notes, held-back annotated notes): disjoint; held-back notes without gold spans are left out of
    both."""
    train, held = [], []
    for note in notes:
        if not is_held_back(note.note_id, site=site, fraction=fraction):
            train.append(note)
        elif note.spans:
            held.append(note)
    return train, held


def training_examples(engine: Any, *, site: str, section: EvaluationSection) -> list[NerExample]:
    """The site's training examples with its held-back notes left out (what the trainer reads with a study that
    evaluates across sites)."""
    from node.ml.ner.cdm import notes_to_examples

    train, held = split_notes(read_notes(engine), site=site, fraction=section.holdout_fraction)
    log.info("validation.split train_notes=%d heldout_notes=%d", len(train), len(held))
    return notes_to_examples((n.note_id, n.text, n.spans) for n in train)


# -- scoring --------------------------------------------------------------------------------------------------------


def _only_type(tags: Sequence[str], entity: str) -> list[str]:
    return [t if t != "O" and t.split("-", 1)[-1].lower() == entity else "O" for t in tags]


def _figures(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, min_support: int, bounds: ReleaseBounds
) -> GroupFigures:
    """One group's figures released by the egress guard's metric rules, or suppressed below ``min_support``."""
    from node.ml.ner.metrics import entity_scores

    scores = entity_scores(gold, pred)
    if scores.support < min_support:
        return GroupFigures(suppressed=True)
    return GroupFigures(
        precision=float(release_metric("precision", scores.precision, bounds)),
        recall=float(release_metric("recall", scores.recall, bounds)),
        f1=float(release_metric("f1", scores.f1, bounds)),
        support=int(release_metric("support", scores.support, bounds)),
    )


def score_groups(
    examples: Sequence[tuple[str, NerExample]],
    predictions: Sequence[Sequence[str]],
    *,
    min_support: int,
    records: int,
) -> dict[str, GroupFigures]:
    """Figures overall, per entity type and per language from gold-tagged ``(language, example)`` pairs and the
    model's predicted tags for them."""
    bounds = ReleaseBounds(rounds=1, local_records=max(records, 1))
    gold = [ex.tags for _, ex in examples]
    groups = {ALL_SCOPE: _figures(gold, predictions, min_support=min_support, bounds=bounds)}
    for entity in ENTITY_SCOPES:
        g = [_only_type(t, entity) for t in gold]
        p = [_only_type(t, entity) for t in predictions]
        groups[f"type_{entity}"] = _figures(g, p, min_support=min_support, bounds=bounds)
    for lang in sorted({lang for lang, _ in examples}):
        idx = [i for i, (lg, _) in enumerate(examples) if lg == lang]
        groups[f"lang_{lang}"] = _figures(
            [gold[i] for i in idx], [predictions[i] for i in idx], min_support=min_support, bounds=bounds
        )
    return groups


def evaluate_held_back(
    state: StateDict | None,
    notes: Sequence[EvalNote],
    *,
    model: NerModel,
    min_support: int,
    records: int,
) -> dict[str, GroupFigures]:
    """Score ``state`` on the held-back ``notes`` with the built-in evaluator; released figures per group."""
    from node.ml.ner.cdm import notes_to_examples
    from node.ml.ner.evaluate import evaluate

    pairs = [(n.language, ex) for n in notes for ex in notes_to_examples([(n.note_id, n.text, n.spans)])]
    if not pairs:
        return {ALL_SCOPE: GroupFigures(suppressed=True)}
    result = evaluate(state, [ex for _, ex in pairs], model=model)
    return score_groups(pairs, result.predictions, min_support=min_support, records=records)


def _round_count(n: int) -> int:
    """A record count as the card shows it: to the nearest ten (exact below ten would identify small sites)."""
    return round(n, -1)


def site_facts(
    *,
    records: int,
    heldout: int,
    section: EvaluationSection,
    epsilon: float | None,
    dp: DpParams | None,
    dq: Mapping[str, Any] | None = None,
) -> dict[str, float]:
    """The site's numbers for the card (see :data:`node.kit.crosssite.SITE_FACTS`); ``dq``: the site's last
    ``fednode dq`` report (``ok`` and its ``summary`` counts), when there is one."""
    facts: dict[str, float] = {
        "records": float(_round_count(records)),
        "heldout": float(_round_count(heldout)),
        "min_support": float(section.min_support),
    }
    if epsilon is not None:
        facts["epsilon"] = round(float(epsilon), 3)
    if dp is not None:
        facts.update(
            dp_noise_multiplier=float(dp.noise_multiplier), dp_max_grad_norm=float(dp.max_grad_norm), dp_delta=dp.delta
        )
    summary = dq.get("summary") if dq is not None else None
    if dq is not None and isinstance(summary, Mapping):
        facts.update(
            dq_passed=1.0 if dq.get("ok") else 0.0,
            dq_failed=float(int(summary.get("fail", 0) or 0)),
            dq_accepted=float(int(summary.get("accepted", 0) or 0)),
        )
    with contextlib.suppress(metadata.PackageNotFoundError):
        facts["deid_version"] = float(version_number(metadata.version("fednode")))
    return facts


def validation_metrics(groups: Mapping[str, GroupFigures], facts: Mapping[str, float]) -> dict[str, float]:
    """The flat metrics of the ``validate`` result (what the egress guard sees)."""
    return flatten(groups, facts)


def local_evaluation(
    engine: Any, state: StateDict, *, model: NerModel, site: str, policy: SitePolicy | None
) -> SiteEvaluation:
    """The same evaluation a site runs for the ``validate`` task, for a model it holds (tests, ``model card``
    comparisons): groups and record facts, without the DP facts."""
    section = policy.evaluation if policy is not None else EvaluationSection()
    notes = read_notes(engine, languages=reads_language(policy))
    _train, held = split_notes(notes, site=site, fraction=section.holdout_fraction)
    records = sum(1 for n in notes if n.spans)
    groups = evaluate_held_back(state, held, model=model, min_support=section.min_support, records=records)
    facts = site_facts(records=records, heldout=len(held), section=section, epsilon=None, dp=None)
    return SiteEvaluation(groups=groups, facts=facts)


# -- the task --------------------------------------------------------------------------------------------------------


def _job_epsilon(executor: NerExecutor, job_id: str) -> float | None:
    """Epsilon this job's steps composed to in the site's privacy ledger (``None`` without DP steps)."""
    ledger, policy = executor.context.ledger, executor.context.policy
    if ledger is None or policy is None:
        return None
    steps = ledger.job_steps(job_id)
    if not steps:
        return None
    from policies.ledger import epsilon_of

    dp = policy.privacy.dp
    return float(epsilon_of(steps, dp.delta, dp.accountant))


def _dq_report(settings: Any) -> Mapping[str, Any] | None:
    """The site's last data-quality report (``fednode dq``), or None when there is none or it is unreadable."""
    from fednode.errors import BadInputError
    from node.site.reports import ReportStore

    try:
        return ReportStore.for_settings(settings).read("dq")
    except BadInputError:
        log.warning("validation.dq_report_unreadable")
        return None


def answer_validate(executor: NerExecutor, job_id: str, shareable: Shareable, abort_signal: Signal | None) -> Shareable:
    """Answer the ``validate`` task: score the global model in ``shareable`` on the held-back notes and reply with
    the released figures only (a ``METRICS`` result; an error reply when the task or the site cannot do it)."""
    from nvflare.apis.dxo import DataKind, from_shareable
    from nvflare.apis.fl_constant import ReturnCode
    from nvflare.apis.shareable import make_reply
    from nvflare.app_common.abstract.fl_model import FLModel
    from nvflare.app_common.app_constant import AppConstants
    from nvflare.app_common.utils.fl_model_utils import FLModelUtils

    from fednode.errors import ConfigError, FednodeError
    from node.site.executor import to_torch
    from omop_etl.db import make_engine
    from policies.contracts import RoundReport

    round_ = int(shareable.get_header(AppConstants.CURRENT_ROUND, 0) or 0)
    try:
        dxo = from_shareable(shareable)
        if dxo.data_kind != DataKind.WEIGHTS:
            return make_reply(ReturnCode.BAD_TASK_DATA)
        model, _ = executor._prepare()
        context = executor.context
        if context.settings is None:
            raise ConfigError("cross-site evaluation needs the site settings (CDM URL)")
        section = context.policy.evaluation if context.policy is not None else EvaluationSection()
        engine = make_engine(context.settings.omop_db_url)
        try:
            notes = read_notes(engine, languages=reads_language(context.policy))
        finally:
            engine.dispose()
        _train, held = split_notes(notes, site=context.site_name, fraction=section.holdout_fraction)
        records = sum(1 for n in notes if n.spans)
        if abort_signal is not None and abort_signal.triggered:
            return make_reply(ReturnCode.TASK_ABORTED)
        groups = evaluate_held_back(
            to_torch(dxo.data), held, model=model, min_support=section.min_support, records=records
        )
        dp_run = executor._dp_run(job_id)
        facts = site_facts(
            records=records,
            heldout=len(held),
            section=section,
            epsilon=_job_epsilon(executor, job_id),
            dp=dp_run.params if dp_run is not None else None,
            dq=_dq_report(context.settings),
        )
    except FednodeError as exc:
        log.error("validation.failed job=%s kind=%s reason=%s", job_id, exc.title, exc.message)
        return make_reply(ReturnCode.EXECUTION_EXCEPTION)
    metrics = validation_metrics(groups, facts)
    try:
        report = RoundReport(job_id=job_id, round=round_, metrics=metrics, bytes_sent=0, at=datetime.now(UTC))
        context.jobs.record_round(report)
    except FednodeError as exc:  # the figures still go; the dashboard misses the row
        log.warning("validation.not_recorded job=%s kind=%s", job_id, exc.title)
    shown = sum(1 for g in groups.values() if not g.suppressed)
    log.info(
        "validation.done job=%s heldout_notes=%d groups=%d suppressed=%d", job_id, len(held), shown, len(groups) - shown
    )
    return FLModelUtils.to_shareable(FLModel(metrics=metrics, current_round=round_))
