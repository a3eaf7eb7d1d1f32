"""The model card: per-site and per-group figures, the spread flag, suppressed groups, the schema, the signature."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fednode.errors import BadInputError, SignatureError
from node.coordinator.model_card import (
    CARD_JSON,
    CARD_MD,
    CardInputs,
    build_card,
    card_schema,
    read_card,
    render_markdown,
    schema_errors,
    validate_card,
    write_card,
)
from node.coordinator.signing import MODEL_FILE, Provenance, RoundRecord, sha256_file, sign_model, verify_signed_model
from node.kit.crosssite import (
    CROSS_SITE_METRICS,
    ENTITY_SCOPES,
    GroupFigures,
    SiteEvaluation,
    flatten,
    unflatten,
    version_number,
)
from policies.keys import SiteKey

SITES = ("site-1", "site-2", "site-3")


def _receipt(site: str) -> dict[str, object]:
    body = {
        "site": site,
        "job_id": "job-1",
        "job_digest": "d" * 64,
        "issued_at": "2026-12-05T10:00:00+00:00",
        "approvers": [{"name": f"dr-{site}", "at": "2026-12-05T09:59:00+00:00", "second_factor": "totp"}],
    }
    return {"evidence": "signed_receipt", "receipt": {"body": body, "key_id": f"key-{site}", "signature": "sig"}}


def _evaluation(f1: float, *, support: int = 120, langs: dict[str, GroupFigures] | None = None) -> SiteEvaluation:
    groups = {
        "all": GroupFigures(precision=f1, recall=f1, f1=f1, support=support),
        "type_disease": GroupFigures(precision=f1, recall=f1, f1=f1, support=support),
        **(langs or {}),
    }
    facts = {
        "records": 300.0,
        "heldout": 60.0,
        "min_support": 10.0,
        "epsilon": 1.25,
        "dp_noise_multiplier": 1.1,
        "dp_max_grad_norm": 1.0,
        "dp_delta": 1e-5,
        "deid_version": float(version_number("0.1.0")),
    }
    return SiteEvaluation(groups=groups, facts=facts)


def _inputs(**changes: object) -> CardInputs:
    base: dict[str, object] = {
        "study": "ner",
        "job_id": "job-1",
        "job_digest": "d" * 64,
        "algorithm": "fedavg",
        "sites": SITES,
        "rounds": (RoundRecord(0, SITES), RoundRecord(1, SITES)),
        "rounds_planned": 2,
        "quorum": 3,
        "approvals": {s: _receipt(s) for s in SITES},
        "evaluations": {"site-1": _evaluation(0.82), "site-2": _evaluation(0.8), "site-3": _evaluation(0.41)},
        "limitations": "Trained on English and Swedish discharge notes only.",
        "base_checkpoint": "minilm",
        "spread_threshold": 0.1,
        "coordinator_key_id": "coord-key",
        "created_at": "2026-12-05T12:00:00+00:00",
    }
    base.update(changes)
    return CardInputs(**base)  # type: ignore[arg-type]


def test_a_site_more_than_the_threshold_below_the_best_is_flagged_in_plain_words() -> None:
    card = build_card(_inputs())
    spread = next(s for s in card["evaluation"]["spreads"] if s["dimension"] == "site")
    assert (spread["best"]["group"], spread["worst"]["group"]) == ("site-1", "site-3")
    assert spread["spread"] == pytest.approx(0.41)
    assert spread["flagged"] and [w["group"] for w in spread["weaker"]] == ["site-3"]
    (finding,) = card["evaluation"]["findings"]
    assert finding.startswith("The model is weaker at site-3: F1 0.41 against 0.82 at site-1")
    assert finding in card["limitations"]["automatic"]


def test_a_spread_within_the_threshold_is_not_flagged() -> None:
    card = build_card(_inputs(spread_threshold=0.5))
    assert not any(s["flagged"] for s in card["evaluation"]["spreads"])
    assert card["evaluation"]["findings"] == []


def test_every_sites_epsilon_dp_and_receipt_are_on_the_card() -> None:
    card = build_card(_inputs())
    rows = {s["site"]: s for s in card["sites"]}
    assert set(rows) == set(SITES)
    for site, row in rows.items():
        assert row["epsilon"] == 1.25
        assert row["dp"] == {"noise_multiplier": 1.1, "max_grad_norm": 1.0, "delta": 1e-5}
        assert row["approval"]["approvers"] == [{"name": f"dr-{site}", "at": "2026-12-05T09:59:00+00:00"}]
        assert row["approval"]["digest"] == "d" * 64
        assert (row["records"], row["heldout"], row["deid_version"]) == (300, 60, "0.1.0")
    assert card["model"]["licence"].startswith("Apache-2.0")


def test_suppressed_groups_carry_no_figures_and_are_named_as_a_limitation() -> None:
    small = {"lang_sv": GroupFigures(suppressed=True), "lang_en": GroupFigures(0.8, 0.8, 0.8, 100)}
    flat = flatten(_evaluation(0.8, langs=small).groups, {})
    assert flat["xsite_lang_sv_suppressed"] == 1.0
    assert not any(k.startswith("xsite_lang_sv_") and not k.endswith("suppressed") for k in flat)
    back = unflatten(flat)
    assert back.groups["lang_sv"] == GroupFigures(suppressed=True)
    card = build_card(_inputs(evaluations={**_inputs().evaluations, "site-2": back}))
    row = next(g for g in card["evaluation"]["groups"] if g["site"] == "site-2" and g["group"] == "sv")
    assert row["suppressed"] and row["f1"] is None and row["support"] is None
    assert any("site-2: figures for language sv are withheld" in x for x in card["limitations"]["automatic"])
    assert "| site-2 | language sv | suppressed |" in render_markdown(card)


def test_languages_pool_across_sites_and_a_weaker_language_is_flagged() -> None:
    langs = {"lang_en": GroupFigures(0.85, 0.85, 0.85, 100), "lang_sv": GroupFigures(0.3, 0.3, 0.3, 50)}
    evaluations = {s: _evaluation(0.8, langs=langs) for s in SITES}
    card = build_card(_inputs(evaluations=evaluations))
    spread = next(s for s in card["evaluation"]["spreads"] if s["dimension"] == "language")
    assert (spread["best"]["group"], spread["worst"]["group"], spread["flagged"]) == ("en", "sv", True)
    assert any("weaker on notes in sv" in f for f in card["evaluation"]["findings"])


def test_dropped_sites_and_rounds_under_quorum_are_automatic_limitations() -> None:
    rounds = (RoundRecord(0, SITES), RoundRecord(1, ("site-1",), missing=("site-2", "site-3")))
    evaluations = {"site-1": _evaluation(0.8)}
    card = build_card(_inputs(rounds=rounds, rounds_planned=3, evaluations=evaluations))
    auto = card["limitations"]["automatic"]
    assert "Round 1 ran without site-2, site-3 (dropped out, refused or rejected)." in auto
    assert "Round 1 ran under quorum (1 of 3 sites)." in auto
    assert "Only 2 of 3 planned rounds ran." in auto
    assert "No cross-site evaluation from site-2, site-3: the model's performance there is unknown." in auto
    assert [s["rounds_contributed"] for s in card["sites"]] == [2, 1, 1]


def test_the_submitters_limitations_are_required() -> None:
    with pytest.raises(BadInputError, match="limitations"):
        build_card(_inputs(limitations="  \n"))


def test_the_schema_refuses_what_the_builder_never_writes() -> None:
    card = build_card(_inputs())
    validate_card(card)
    schema = card_schema()
    assert schema_errors(card, schema, schema) == []
    broken = json.loads(json.dumps(card))
    broken["evaluation"]["groups"][0]["f1"] = 1.5
    del broken["limitations"]["submitter"]
    broken["extra"] = 1
    errors = schema_errors(broken, schema, schema)
    assert "$.evaluation.groups[0].f1: above 1" in errors
    assert "$.limitations: submitter is required" in errors
    assert "$: unexpected key extra" in errors
    with pytest.raises(BadInputError, match="not a valid model card"):
        validate_card(broken)


def _signed_with_card(tmp_path: Path, key: SiteKey) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    save_file({"w": torch.zeros(2)}, str(folder / MODEL_FILE))
    attachments = write_card(folder, build_card(_inputs()))
    prov = Provenance(
        job_id="job-1",
        job_digest="d" * 64,
        study="ner",
        algorithm="fedavg",
        rounds=(RoundRecord(0, SITES),),
        sites=SITES,
        approvals={},
        model_sha256=sha256_file(folder / MODEL_FILE),
        attachments=attachments,
    )
    sign_model(folder, prov, key)
    return folder


def test_the_card_rides_on_the_signature_and_one_changed_byte_fails(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = _signed_with_card(tmp_path, key)
    verified = verify_signed_model(folder, [key.public_pem])
    assert sorted(verified.provenance.attachments) == [CARD_JSON, CARD_MD]
    assert read_card(folder, verified.provenance.attachments)["study"] == "ner"
    for name in (CARD_JSON, CARD_MD):
        path = folder / name
        original = path.read_bytes()
        changed = bytearray(original)
        changed[len(changed) // 2] ^= 0x01
        path.write_bytes(bytes(changed))
        with pytest.raises(SignatureError, match=name):
            verify_signed_model(folder, [key.public_pem])
        with pytest.raises(SignatureError, match=name):
            read_card(folder, verified.provenance.attachments)
        path.write_bytes(original)
    verify_signed_model(folder, [key.public_pem])


def test_a_model_signed_without_a_card_still_verifies_as_before(tmp_path: Path) -> None:
    key = SiteKey.generate()
    folder = tmp_path / "m"
    folder.mkdir()
    save_file({"w": torch.zeros(2)}, str(folder / MODEL_FILE))
    prov = Provenance("j", "", "s", "fedavg", (), (), {}, sha256_file(folder / MODEL_FILE))
    sign_model(folder, prov, key)
    assert "attachments" not in json.loads(prov.canonical())
    assert verify_signed_model(folder, [key.public_pem]).provenance.attachments == {}


def test_the_wire_names_are_closed_and_cover_the_label_set() -> None:
    from node.ml.ner.labels import ENTITY_TYPES

    assert tuple(t.lower() for t in ENTITY_TYPES) == ENTITY_SCOPES
    assert "xsite_all_f1" in CROSS_SITE_METRICS and "xsite_lang_en_support" in CROSS_SITE_METRICS
    assert all(name.isascii() and name.replace("_", "").isalnum() for name in CROSS_SITE_METRICS)
    with pytest.raises(ValueError, match="scope"):
        flatten({"lang_klingon": GroupFigures(0.1, 0.1, 0.1, 10)}, {})


def test_a_sites_data_quality_gate_as_it_reported_it_is_on_its_row() -> None:
    from dataclasses import replace

    base = _evaluation(0.8)
    reported = replace(base, facts={**base.facts, "dq_passed": 0.0, "dq_failed": 2.0, "dq_accepted": 1.0})
    card = build_card(_inputs(evaluations={**_inputs().evaluations, "site-2": reported}))
    rows = {s["site"]: s["data_quality"] for s in card["sites"]}
    assert rows == {"site-1": None, "site-2": {"passed": False, "failed": 2, "accepted": 1}, "site-3": None}
    assert "| site-2 | 300 | 60 | 2 | 1.25 | 1.1 / 1 / 1e-05 | fail, 1 accepted |" in render_markdown(card)


def test_every_weaker_site_is_named_with_its_own_f1() -> None:
    evaluations = {"site-1": _evaluation(0.82), "site-2": _evaluation(0.6), "site-3": _evaluation(0.41)}
    card = build_card(_inputs(evaluations=evaluations))
    spread = next(s for s in card["evaluation"]["spreads"] if s["dimension"] == "site")
    assert spread["weaker"] == [{"group": "site-2", "f1": 0.6}, {"group": "site-3", "f1": 0.41}]
    assert [f.split(":")[1].split(" against")[0] for f in card["evaluation"]["findings"]] == [" F1 0.6", " F1 0.41"]
