"""Cross-site evaluation at a site: a held-back split disjoint from training, figures released by the egress
guard's rules and suppressed below the policy's minimum support, and a ``validate`` result the guard lets out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from nvflare.apis.dxo import DataKind, from_shareable
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, ReservedKey, ReturnCode
from nvflare.apis.shareable import Shareable
from nvflare.apis.signal import Signal
from nvflare.app_common.abstract.fl_model import FLModel, ParamsType
from nvflare.app_common.utils.fl_model_utils import FLModelUtils

from fednode.settings import load_settings
from node.kit.crosssite import VALIDATE_TASK, GroupFigures, unflatten
from node.ml.ner.data import NerExample
from node.ml.ner.model import load_ner_model
from node.site.context import SiteContext
from node.site.egress.guard import EgressGuard
from node.site.egress.rules import DEFAULT_METRICS, EgressPolicy, check_result
from node.site.executor import NerExecutor
from node.site.gate import ApprovalGate
from node.site.receipts import ReceiptIssuer
from node.site.validation import (
    EvalNote,
    is_held_back,
    local_evaluation,
    read_notes,
    score_groups,
    split_notes,
    training_examples,
)
from omop_etl.db import make_engine
from policies.policy_model import EvaluationSection
from tests.node.sitekit import ALLOW, build_cdm, ctx, make_job, new_site, server_meta


@pytest.fixture(scope="module")
def cdm_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return build_cdm(tmp_path_factory.mktemp("cdm") / "omop.db")


def test_the_held_back_share_is_deterministic_keyed_by_site_and_about_the_fraction() -> None:
    ids = range(1, 2001)
    held = [i for i in ids if is_held_back(i, site="site-a", fraction=0.2)]
    assert held == [i for i in ids if is_held_back(i, site="site-a", fraction=0.2)]
    assert 300 < len(held) < 500
    other = {i for i in ids if is_held_back(i, site="site-b", fraction=0.2)}
    assert other != set(held)  # each site's own key
    assert set(held) <= {i for i in ids if is_held_back(i, site="site-a", fraction=0.5)}  # a bigger share grows it


def test_training_and_the_held_back_split_are_disjoint_on_a_real_cdm(cdm_url: str) -> None:
    engine = make_engine(cdm_url)
    try:
        notes = read_notes(engine)
        section = EvaluationSection(holdout_fraction=0.3)
        train, held = split_notes(notes, site="site-a", fraction=section.holdout_fraction)
        examples = training_examples(engine, site="site-a", section=section)
    finally:
        engine.dispose()
    assert held and train
    assert not {n.note_id for n in train} & {n.note_id for n in held}
    assert all(n.spans for n in held)
    held_words = {" ".join(n.text.split()[:6]) for n in held}
    assert not any(" ".join(ex.tokens[:6]) in held_words for ex in examples)
    assert {n.language for n in notes} <= {"en", "und"}


def _ex(tags: list[str]) -> NerExample:
    return NerExample(tokens=tuple(f"w{i}" for i in range(len(tags))), tags=tuple(tags))


def test_groups_below_the_minimum_support_are_suppressed_and_figures_rounded() -> None:
    disease = ["B-Disease", "I-Disease", "O"]
    pairs = [("en", _ex(disease)) for _ in range(12)] + [("sv", _ex(disease)) for _ in range(3)]
    predictions = [tuple(disease)] * 11 + [("O", "O", "O")] * 4
    groups = score_groups(pairs, predictions, min_support=10, records=100)
    assert groups["lang_sv"] == GroupFigures(suppressed=True)  # 3 mentions < 10
    en = groups["lang_en"]
    assert (en.precision, en.support) == (1.0, 12)
    assert en.recall == 0.917  # 11/12, three significant digits
    overall = groups["all"]
    assert overall.support == 15 and overall.recall == 0.733
    assert groups["type_disease"] == overall


def test_a_validate_result_passes_the_egress_rules_and_an_unknown_name_does_not() -> None:
    groups = {"all": GroupFigures(0.5, 0.5, 0.5, 20), "lang_sv": GroupFigures(suppressed=True)}
    from node.kit.crosssite import flatten

    metrics = flatten(groups, {"records": 300.0, "epsilon": 1.5})
    result = FLModelUtils.to_shareable(FLModel(metrics=metrics, current_round=2))
    policy = EgressPolicy(allowed_metrics=DEFAULT_METRICS)
    assert check_result(result, None, policy) is None
    leaky = FLModelUtils.to_shareable(FLModel(metrics={**metrics, "xsite_lang_Anna_f1": 0.5}, current_round=2))
    assert check_result(leaky, None, policy) == "metrics not on the allow-list (1)"


def _context(tmp_path: Path, cdm_url: str) -> tuple[object, SiteContext]:
    site = new_site(tmp_path)
    settings = load_settings(home=tmp_path, omop_url=cdm_url)
    issuer = ReceiptIssuer(site="site-a", jobs=site.jobs, key=site.key, audit=site.audit)
    context = SiteContext(
        site_name="site-a", jobs=site.jobs, evaluate=lambda _m: ALLOW, settings=settings, receipts=issuer
    )
    job = make_job(tmp_path)
    ApprovalGate(context=context).check_job("job-1", server_meta(job, "job-1"), "site-a")
    site.jobs.approve("job-1", "dr.hansen", "ok")
    site.jobs.mark_running("job-1")
    return site, context


def test_the_executor_answers_validate_with_figures_only_and_the_guard_lets_them_out(
    tmp_path: Path, cdm_url: str
) -> None:
    site, context = _context(tmp_path, cdm_url)
    model = load_ner_model("tiny", seed=0)
    params = {k: v.numpy() for k, v in model.state().items()}
    executor = NerExecutor(model_spec="tiny", max_steps=1, validate_task=VALIDATE_TASK, context=context)
    guard = EgressGuard(context=context)
    fl_ctx = ctx()
    fl_ctx.set_prop(ReservedKey.RUN_NUM, "job-1", private=False, sticky=False)
    fl_ctx.set_prop(FLContextKey.TASK_ID, "v0", private=True, sticky=False)
    task: Shareable = FLModelUtils.to_shareable(
        FLModel(params=params, params_type=ParamsType.FULL, current_round=1, total_rounds=1)
    )
    fl_ctx.set_prop(FLContextKey.TASK_DATA, task, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_DATA_FILTER, fl_ctx)

    result = executor.execute(VALIDATE_TASK, task, fl_ctx, Signal())

    assert result.get_return_code() == ReturnCode.OK
    dxo = from_shareable(result)
    assert dxo.data_kind == DataKind.METRICS
    assert all(k.startswith("xsite_") and isinstance(v, float) for k, v in dxo.data.items())
    fl_ctx.set_prop(FLContextKey.TASK_RESULT, result, private=True, sticky=False)
    guard.handle_event(EventType.AFTER_TASK_RESULT_FILTER, fl_ctx)
    assert result.get_return_code() == ReturnCode.OK
    assert site.jobs.egress("job-1")[-1].allowed  # type: ignore[attr-defined]

    sent = unflatten(dxo.data)
    assert sent.facts["min_support"] == 10 and sent.facts["records"] % 10 == 0
    engine = make_engine(cdm_url)
    try:  # the site's own evaluation of the same model gives the same figures
        local = local_evaluation(engine, model.state(), model=model, site="site-a", policy=None)
    finally:
        engine.dispose()
    assert local.groups == sent.groups
    assert [r.round for r in site.jobs.rounds("job-1")] == [1]  # type: ignore[attr-defined]


def test_with_validation_the_trainer_leaves_the_held_back_notes_out(tmp_path: Path, cdm_url: str) -> None:
    _site, context = _context(tmp_path, cdm_url)
    plain = NerExecutor(model_spec="tiny", context=context)
    holding = NerExecutor(model_spec="tiny", validate_task=VALIDATE_TASK, context=context)
    engine = make_engine(cdm_url)
    try:
        everything = plain._training_examples(engine)
        fewer = holding._training_examples(engine)
        notes = read_notes(engine)
    finally:
        engine.dispose()
    held = [n for n in notes if is_held_back(n.note_id, site="site-a", fraction=0.2)]
    assert held and len(fewer) < len(everything)


def test_languages_come_from_the_note_rows_only_where_the_policy_lets_the_site_read_them(
    cdm_url: str, tmp_path: Path
) -> None:
    import shutil

    from sqlalchemy import update

    from node.site.validation import ENGLISH_CONCEPT, reads_language
    from omop_etl.cdm import Note
    from omop_etl.db import sqlite_file
    from policies.policy_model import load_policy

    source = sqlite_file(cdm_url)
    assert source is not None
    copy = tmp_path / "omop.db"
    shutil.copy(source, copy)
    engine = make_engine(f"sqlite:///{copy}")
    try:
        with engine.begin() as conn:
            conn.execute(update(Note).values(language_concept_id=0))
            conn.execute(update(Note).where(Note.note_id % 2 == 0).values(language_concept_id=ENGLISH_CONCEPT))
        with_lang = read_notes(engine, languages=True)
        without = read_notes(engine)
    finally:
        engine.dispose()
    assert {n.language for n in with_lang} == {"en", "und"}
    assert all((n.language == "en") == (n.note_id % 2 == 0) for n in with_lang)
    assert {n.language for n in without} == {"und"}
    assert not reads_language(None)
    example = load_policy(Path(__file__).parents[3] / "policies" / "examples" / "site-policy.yaml")
    note = [*example.data_access["note"], "language_concept_id"]
    allowed = example.model_copy(update={"data_access": {**example.data_access, "note": note}})
    assert not reads_language(example) and reads_language(allowed)


def test_eval_notes_default_to_an_unknown_language() -> None:
    assert EvalNote(1, "x", ()).language == "und"
    assert np.isclose(0.2, EvaluationSection().holdout_fraction)


def test_site_facts_round_counts_and_carry_the_dq_gate_as_reported() -> None:
    from node.site.validation import site_facts

    dq = {"ok": True, "summary": {"pass": 40, "fail": 0, "not_applicable": 3, "accepted": 2}}
    facts = site_facts(records=347, heldout=68, section=EvaluationSection(), epsilon=None, dp=None, dq=dq)
    assert (facts["records"], facts["heldout"], facts["min_support"]) == (350.0, 70.0, 10.0)
    assert (facts["dq_passed"], facts["dq_failed"], facts["dq_accepted"]) == (1.0, 0.0, 2.0)
    assert "epsilon" not in facts and "dp_noise_multiplier" not in facts
    assert "dq_passed" not in site_facts(records=5, heldout=1, section=EvaluationSection(), epsilon=None, dp=None)
