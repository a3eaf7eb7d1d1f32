"""`fednode ner predict`: a downloaded, signed model folder tags the site's NOTE rows into valid NOTE_NLP rows;
a model whose signature fails is refused (exit 5) and bad input names file:line (exit 4); nothing is written then."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from fednode.bundled import bundled
from node.cli.main import app
from node.coordinator.model_folder import (
    MANIFEST_FILE,
    complete_model_folder,
    nlp_system_name,
    study_model_spec,
    verify_model_folder,
)
from node.coordinator.signing import MODEL_FILE, Provenance, RoundRecord, sha256_file, sign_model, verify_signed_model
from node.ml.ner import load_ner_model, read_conll
from node.ml.ner.predict import spans_from_tags, words_with_offsets
from omop_etl.cdm import Note, NoteNlp, create_cdm
from omop_etl.db import make_engine
from omop_etl.notes import GOLD_SYSTEM
from policies.keys import SiteKey

STUDY = "ncbi-ner"


def _notes() -> list[tuple[int, str]]:
    """Five notes of three NCBI-disease test sentences each (the bundled corpus), words joined by spaces."""
    sentences = read_conll(bundled("ncbi-disease") / "test.tsv", limit=15)
    return [(i + 1, " ".join(" ".join(s.tokens) for s in sentences[3 * i : 3 * i + 3])) for i in range(5)]


@pytest.fixture(scope="module")
def key() -> SiteKey:
    return SiteKey.generate()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, key: SiteKey) -> Path:
    """A signed study model (tiny BERT whose head says B-Disease for every piece), completed for use."""
    folder = tmp_path_factory.mktemp("result") / "job-7" / "model"
    folder.mkdir(parents=True)
    state = load_ner_model("tiny", seed=0).state()
    state["classifier.weight"] = torch.zeros_like(state["classifier.weight"])
    state["classifier.bias"] = torch.tensor([0.0, 5.0, 0.0])
    save_file(state, str(folder / MODEL_FILE))
    prov = Provenance(
        job_id="job-7",
        job_digest="b" * 64,
        study=STUDY,
        algorithm="fedavg",
        rounds=(RoundRecord(1, ("site-1",)),),
        sites=("site-1",),
        approvals={},
        model_sha256=sha256_file(folder / MODEL_FILE),
    )
    sign_model(folder, prov, key)
    config = folder.parent / "app_server" / "config"
    config.mkdir(parents=True)
    (config / "config_fed_server.json").write_text(json.dumps({"workflows": [{"args": {"model_spec": "tiny"}}]}))
    assert study_model_spec(folder.parent) == "tiny"
    manifest = complete_model_folder(verify_signed_model(folder, [key.public_pem]), "tiny")
    assert {"config.json", "labels.json", "tokenizer.json"} <= set(manifest["files"])
    return folder


@pytest.fixture()
def cdm(tmp_path: Path) -> tuple[str, Engine]:
    url = f"sqlite:///{tmp_path / 'omop.db'}"
    engine = make_engine(url)
    create_cdm(engine)
    rows = [
        {
            "note_id": i,
            "person_id": 1,
            "note_date": date(2026, 1, 1),
            "note_type_concept_id": 32817,
            "note_class_concept_id": 0,
            "note_text": text,
            "encoding_concept_id": 0,
            "language_concept_id": 0,
            "note_source_value": f"src-{i}",
        }
        for i, text in _notes()
    ]
    with engine.begin() as conn:
        conn.execute(insert(Note), rows)
        conn.execute(
            insert(NoteNlp),
            [
                {
                    "note_nlp_id": 1,
                    "note_id": 1,
                    "lexical_variant": "x",
                    "nlp_system": GOLD_SYSTEM,
                    "nlp_date": date.today(),
                }
            ],
        )
    return url, engine


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _key_file(tmp_path: Path, key: SiteKey) -> Path:
    path = tmp_path / "coordinator.pub"
    path.write_text(key.public_pem, encoding="ascii")
    return path


def test_words_and_bio_runs_become_character_spans() -> None:
    text = "Type II  diabetes, and ataxia-telangiectasia."
    offsets = words_with_offsets(text)
    assert [text[s:e] for s, e in offsets][:4] == ["Type", "II", "diabetes", ","]
    tags = ["B-Disease", "I-Disease", "I-Disease", "O", "O", "I-Disease", "I-Disease", "I-Disease", "O"]
    spans = spans_from_tags(offsets, tags)
    assert [text[m.start : m.end] for m in spans] == ["Type II  diabetes", "ataxia-telangiectasia"]


def test_predict_writes_valid_note_nlp_rows_in_the_cdm(
    fednode_home: Path, tmp_path: Path, model_dir: Path, key: SiteKey, cdm: tuple[str, Engine]
) -> None:
    url, engine = cdm
    notes = tmp_path / "notes.jsonl"
    texts = dict(_notes())
    notes.write_text(
        json.dumps({"note_id": 1, "text": texts[1]}) + "\n" + json.dumps({"note_id": "src-3"}) + "\n", encoding="utf-8"
    )
    args = ["--json", "ner", "predict", "--model", str(model_dir), "--input", str(notes), "--db", url]
    code, stdout, stderr = _invoke(*args, "--coordinator-key", str(_key_file(tmp_path, key)))
    assert code == 0, stderr
    payload = json.loads(stdout.strip().splitlines()[-1])
    system = nlp_system_name(STUDY, sha256_file(model_dir / MODEL_FILE))
    assert payload["nlp_system"] == system and payload["notes"] == 2 and payload["rows"] > 0
    with engine.connect() as conn:
        rows = conn.execute(select(NoteNlp).where(NoteNlp.nlp_system == system)).all()
        gold = conn.execute(select(NoteNlp).where(NoteNlp.nlp_system == GOLD_SYSTEM)).all()
    assert len(rows) == payload["rows"] and len(gold) == 1  # the gold row is untouched
    assert {r.note_id for r in rows} == {1, 3}
    for r in rows:
        for required in ("note_nlp_id", "note_id", "lexical_variant", "nlp_date", "offset", "nlp_system"):
            assert getattr(r, required) is not None
        start = int(r.offset)
        assert texts[r.note_id][start : start + len(r.lexical_variant)] == r.lexical_variant
        assert r.lexical_variant in r.snippet and r.term_exists == "Y" and r.term_modifiers == "label=Disease"
        assert r.note_nlp_concept_id == 0 and r.section_concept_id == 0
    assert len({r.note_nlp_id for r in rows}) == len(rows)
    # a rerun replaces this system's rows instead of adding more
    code, _, stderr = _invoke(*args, "--coordinator-key", str(_key_file(tmp_path, key)))
    assert code == 0, stderr
    with engine.connect() as conn:
        again = conn.execute(select(NoteNlp).where(NoteNlp.nlp_system == system)).all()
    assert len(again) == len(rows)


def test_a_model_whose_signature_fails_is_refused_and_nothing_is_written(
    fednode_home: Path, tmp_path: Path, model_dir: Path, key: SiteKey, cdm: tuple[str, Engine]
) -> None:
    url, engine = cdm
    stranger = _key_file(tmp_path, SiteKey.generate())
    code, _, stderr = _invoke(
        "ner", "predict", "--model", str(model_dir), "--db", url, "--coordinator-key", str(stranger)
    )
    assert code == 5 and "signature does not verify" in stderr
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    for f in model_dir.iterdir():
        (tampered / f.name).write_bytes(f.read_bytes())
    (tampered / "labels.json").write_text('{"labels": ["O", "B-Disease"]}')
    with pytest.raises(Exception, match="changed since download"):
        verify_model_folder(tampered, [key.public_pem])
    code, _, stderr = _invoke(
        "ner", "predict", "--model", str(tampered), "--db", url, "--coordinator-key", str(_key_file(tmp_path, key))
    )
    assert code == 5 and "labels.json" in stderr
    (tampered / MANIFEST_FILE).unlink()
    with pytest.raises(Exception, match="missing"):
        verify_model_folder(tampered, [key.public_pem])
    with engine.connect() as conn:
        assert conn.execute(select(NoteNlp).where(NoteNlp.nlp_system != GOLD_SYSTEM)).all() == []


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"note_id": 1}\nnot json\n', ":2: not a JSON object"),
        ('{"text": "x"}\n', ":1 field 'note_id'"),
        ('{"note_id": 99}\n', ":1 field 'note_id': no such note"),
        ('{"note_id": 2, "text": "other text"}\n', ":1 field 'text': differs"),
    ],
)
def test_bad_input_names_file_and_line(
    fednode_home: Path, tmp_path: Path, model_dir: Path, key: SiteKey, cdm: tuple[str, Engine], content: str, where: str
) -> None:
    url, engine = cdm
    notes = tmp_path / "notes.jsonl"
    notes.write_text(content, encoding="utf-8")
    code, _, stderr = _invoke(
        "ner", "predict", "--model", str(model_dir), "--input", str(notes), "--db", url,
        "--coordinator-key", str(_key_file(tmp_path, key)),
    )  # fmt: skip
    assert code == 4, stderr
    assert f"{notes}{where}" in stderr
    with engine.connect() as conn:
        assert conn.execute(select(NoteNlp).where(NoteNlp.nlp_system != GOLD_SYSTEM)).all() == []


def test_missing_model_folder_pinned_key_or_cdm_is_bad_input(
    fednode_home: Path, tmp_path: Path, model_dir: Path, key: SiteKey, cdm: tuple[str, Engine]
) -> None:
    url, _ = cdm
    key_file = str(_key_file(tmp_path, key))
    code, _, stderr = _invoke(
        "ner", "predict", "--model", str(tmp_path / "nope"), "--db", url, "--coordinator-key", key_file
    )
    assert code == 4 and "no such model folder" in stderr
    code, _, stderr = _invoke("ner", "predict", "--model", str(tmp_path), "--db", url, "--coordinator-key", key_file)
    assert code == 4 and "no model.json" in stderr
    code, _, stderr = _invoke("ner", "predict", "--model", str(model_dir))
    assert code == 4 and "no pinned coordinator key" in stderr
    code, _, stderr = _invoke("ner", "predict", "--model", str(model_dir), "--coordinator-key", key_file)
    assert code == 4 and "no OMOP CDM with NOTE and NOTE_NLP" in stderr
    assert not (fednode_home / "omop.db").exists()


def test_a_crf_model_folder_loads_and_tags_with_its_crf(tmp_path: Path, key: SiteKey) -> None:
    from node.ml.ner.crf import crf_of
    from node.ml.ner.predict import load_model_folder, predict_mentions

    folder = tmp_path / "model"
    folder.mkdir()
    save_file(load_ner_model("tiny", seed=1, crf=True).state(), str(folder / MODEL_FILE))
    prov = Provenance(
        job_id="job-8", job_digest="d" * 64, study=STUDY, algorithm="fedavg", rounds=(), sites=("site-1",),
        approvals={}, model_sha256=sha256_file(folder / MODEL_FILE),
    )  # fmt: skip
    sign_model(folder, prov, key)
    complete_model_folder(verify_signed_model(folder, [key.public_pem]), "tiny")
    verify_model_folder(folder, [key.public_pem])
    model = load_model_folder(folder)
    assert crf_of(model.model) is not None
    text = dict(_notes())[2]
    mentions = predict_mentions(model, [(2, text)])[2]
    assert all(0 <= m.start < m.end <= len(text) for m in mentions)
