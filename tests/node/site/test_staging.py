"""The data contract: what the site stages for an approved job, from which columns, and how it goes away."""

from __future__ import annotations

import dataclasses
import stat
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import insert, text

from fednode.errors import StagingRefusedError
from node.ml.ner.data import NerExample, read_conll
from node.site import staging
from node.site.staging import NER_SPLIT_COLUMNS, remove_staged, stage_job_data, write_conll
from omop_etl.cdm import Person, create_cdm
from omop_etl.db import make_engine
from omop_etl.notes import DeidentifiedNote, load_notes
from policies.contracts import Approval, JobKind, JobManifest, JobRecord, JobState, RuleOutcome, RuleResult, Verdict
from policies.policy_model import SitePolicy, parse_policy

REPO = Path(__file__).resolve().parents[3]
MINI = REPO / "data" / "ncbi-disease-mini"
EXAMPLE_POLICY = REPO / "policies" / "examples" / "site-policy.yaml"
DIGEST = "ab" * 32
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def _note(tokens: tuple[str, ...], tags: tuple[str, ...], i: int) -> DeidentifiedNote:
    """Words joined by spaces, B-/I- runs as character spans (as the demo's notes carry them)."""
    text_ = " ".join(tokens)
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for tok, tag in zip(tokens, tags, strict=True):
        if tag.startswith("B-"):
            spans.append((pos, pos + len(tok), tag[2:]))
        elif tag.startswith("I-"):
            start, _, label = spans[-1]
            spans[-1] = (start, pos + len(tok), label)
        pos += len(tok) + 1
    return DeidentifiedNote(f"n-{i}", "p-1", date(2024, 1, 1), "Discharge", text_, "en", tuple(spans))


def _cdm(tmp_path: Path, notes: list[DeidentifiedNote]) -> str:
    url = f"sqlite:///{tmp_path / 'omop.db'}"
    engine = make_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {
                    "person_id": 1,
                    "gender_concept_id": 0,
                    "year_of_birth": 1970,
                    "race_concept_id": 0,
                    "ethnicity_concept_id": 0,
                    "person_source_value": "p-1",
                }
            ],
        )
    load_notes(engine, notes)
    engine.dispose()
    return url


def _policy(data_access: dict[str, list[str]] | None = None) -> SitePolicy:
    raw: dict[str, Any] = yaml.safe_load(EXAMPLE_POLICY.read_text(encoding="utf-8"))
    if data_access is not None:
        raw["data_access"] = data_access
    return parse_policy(raw, source="test")


def _record(
    *,
    state: JobState = JobState.APPROVED,
    approval_digest: str = DIGEST,
    data_access: dict[str, tuple[str, ...]] | None = None,
) -> JobRecord:
    manifest = JobManifest(
        job_id="job-1",
        study="byoc-ner",
        app_name="app",
        digest=DIGEST,
        files=(),
        kind=JobKind.BYOC,
        submitter="researcher / org",
        submitted_at=T0,
        data_access=dict(NER_SPLIT_COLUMNS) if data_access is None else data_access,
    )
    approval = Approval("job-1", "dr.hansen", "approve", "ok", approval_digest, T0)
    verdict = Verdict(True, (RuleResult("kind", RuleOutcome.ALLOW, "ok"),))
    return JobRecord("job-1", state, manifest, verdict, (approval,), 1, T0, T0)


@pytest.fixture(scope="module")
def source() -> list[NerExample]:
    return read_conll(MINI / "train.tsv", limit=30)


@pytest.fixture
def cdm_url(tmp_path: Path, source: list[NerExample]) -> str:
    notes = [_note(ex.tokens, ex.tags, i) for i, ex in enumerate(source)]
    notes.append(DeidentifiedNote("n-plain", "p-1", date(2024, 1, 2), "Letter", "Quuxplain letter zzunique.", "en", ()))
    return _cdm(tmp_path, notes)


def test_an_approved_job_gets_the_split_and_the_model_folder(
    tmp_path: Path, cdm_url: str, source: list[NerExample]
) -> None:
    work = tmp_path / "job"
    staged = stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny", digest=DIGEST)

    assert staged.data_dir == work / "data" and staged.model_dir == work / "model"
    assert {p.name for p in staged.data_dir.iterdir()} == {"train.tsv", "dev.tsv"}
    train, dev = read_conll(work / "data" / "train.tsv"), read_conll(work / "data" / "dev.tsv")
    assert (staged.train_sentences, staged.dev_sentences) == (len(train), len(dev))
    assert dev and train
    # every annotated note's tagged words, split by note: nothing lost, nothing added, unannotated notes left out
    annotated = [e for e in source if "B-Disease" in e.tags]
    assert 0 < len(annotated) < len(source)
    staged_words = sorted(pair for e in train + dev for pair in zip(e.tokens, e.tags, strict=True))
    assert staged_words == sorted(pair for e in annotated for pair in zip(e.tokens, e.tags, strict=True))
    assert not {"Quuxplain", "zzunique."} & {t for e in train + dev for t in e.tokens}
    # the record count is the gate's: distinct annotated notes
    engine = make_engine(cdm_url)
    with engine.connect() as conn:
        gate_count = conn.execute(
            text("SELECT COUNT(DISTINCT note_id) FROM note_nlp WHERE nlp_system = 'gold'")
        ).scalar_one()
    engine.dispose()
    assert staged.records == gate_count == len(annotated)
    assert dict(staged.columns) == dict(NER_SPLIT_COLUMNS)
    assert staged.to_json()["files"] == [str(p.relative_to(work)) for p in staged.files]


def test_staged_files_are_read_only_and_the_model_folder_has_no_weights(tmp_path: Path, cdm_url: str) -> None:
    staged = stage_job_data(_record(), tmp_path / "job", policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    for path in staged.files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o444
    for folder in staged.read_only_paths():
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
    names = {p.name for p in staged.model_dir.iterdir()}
    assert "config.json" in names and "tokenizer_config.json" in names
    assert not [n for n in names if n.endswith((".safetensors", ".bin", ".pt"))]
    assert not [p for p in staged.workdir.iterdir() if p.name.startswith(".fednode-staging-")]


def test_the_model_folder_builds_the_architecture_the_coordinator_sends_weights_for(
    tmp_path: Path, cdm_url: str
) -> None:
    from transformers import AutoConfig, AutoModelForTokenClassification, AutoTokenizer

    from node.ml.ner.model import load_ner_model

    staged = stage_job_data(_record(), tmp_path / "job", policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    config = AutoConfig.from_pretrained(str(staged.model_dir), local_files_only=True)
    model = AutoModelForTokenClassification.from_config(config)
    server = load_ner_model("tiny").state()
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {k: tuple(v.shape) for k, v in server.items()}
    model.load_state_dict(server)  # the first task's weights fit exactly
    assert config.id2label == {0: "O", 1: "B-Disease", 2: "I-Disease"}
    tokenizer = AutoTokenizer.from_pretrained(str(staged.model_dir), local_files_only=True)
    assert len(tokenizer) == config.vocab_size


def test_the_tsv_layout_is_the_ncbi_disease_layout(tmp_path: Path) -> None:
    out = tmp_path / "again.tsv"
    write_conll(out, read_conll(MINI / "train.tsv"))
    assert out.read_bytes() == (MINI / "train.tsv").read_bytes()


def test_a_hand_written_note_is_tagged_word_by_word(tmp_path: Path) -> None:
    note = DeidentifiedNote(
        "n-1", "p-1", date(2024, 1, 1), "Note", "Breast cancer was found.", "en", ((0, 13, "Disease"),)
    )
    url = _cdm(tmp_path, [note])
    staged = stage_job_data(
        _record(), tmp_path / "job", policy=_policy(), cdm_url=url, model_spec="tiny", dev_fraction=0.0
    )
    assert (staged.data_dir / "train.tsv").read_text(encoding="utf-8") == (
        "Breast\tB-Disease\ncancer\tI-Disease\nwas\tO\nfound.\tO\n\n"
    )
    assert (staged.data_dir / "dev.tsv").read_text(encoding="utf-8") == ""
    assert staged.records == 1


@pytest.mark.parametrize(
    ("record", "policy_access", "digest", "reason"),
    [
        (_record(state=JobState.PENDING), None, None, "pending, not approved"),
        (_record(state=JobState.REJECTED), None, None, "rejected, not approved"),
        (_record(state=JobState.FINISHED), None, None, "finished, not approved"),
        (_record(), None, "cd" * 32, "differ from the approved digest"),
        (_record(approval_digest="ef" * 32), None, None, "0 approvals bound to its digest"),
        (
            _record(),
            {"note": ["note_id", "note_text"], "note_nlp": ["note_id", "offset", "lexical_variant"]},
            None,
            "policy's data_access does not allow note_nlp.term_modifiers, note_nlp.nlp_system",
        ),
        (_record(), {"note_nlp": list(NER_SPLIT_COLUMNS["note_nlp"])}, None, "note.note_id, note.note_text"),
        (
            _record(data_access={"note_nlp": NER_SPLIT_COLUMNS["note_nlp"], "note": ("note_id",)}),
            None,
            None,
            "approved without access to note.note_text",
        ),
        (_record(data_access={}), None, None, "approved without access to note.note_id"),
    ],
)
def test_staging_is_refused_and_nothing_is_written(
    tmp_path: Path,
    cdm_url: str,
    record: JobRecord,
    policy_access: dict[str, list[str]] | None,
    digest: str | None,
    reason: str,
) -> None:
    work = tmp_path / "job"
    with pytest.raises(StagingRefusedError, match=reason):
        stage_job_data(record, work, policy=_policy(policy_access), cdm_url=cdm_url, model_spec="tiny", digest=digest)
    assert not work.exists() or not list(work.iterdir())


def test_two_approvers_are_needed_where_the_record_says_so(tmp_path: Path, cdm_url: str) -> None:
    record = dataclasses.replace(_record(), required_approvals=2)
    with pytest.raises(StagingRefusedError, match="1 approvals bound to its digest; 2 are required"):
        stage_job_data(record, tmp_path / "job", policy=_policy(), cdm_url=cdm_url, model_spec="tiny")


def test_a_job_that_brings_its_own_data_folder_is_refused(tmp_path: Path, cdm_url: str) -> None:
    work = tmp_path / "job"
    (work / "data").mkdir(parents=True)
    (work / "data" / "train.tsv").write_text("mine\tO\n", encoding="utf-8")
    with pytest.raises(StagingRefusedError, match="already holds data/"):
        stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    assert (work / "data" / "train.tsv").read_text(encoding="utf-8") == "mine\tO\n"
    assert not (work / "model").exists()


def test_a_failure_half_way_leaves_nothing(tmp_path: Path, cdm_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(folder: Path, model_spec: str) -> None:
        folder.mkdir()
        (folder / "config.json").write_text("{}", encoding="utf-8")
        raise OSError("disk full")

    monkeypatch.setattr(staging, "_write_model", broken)
    work = tmp_path / "job"
    with pytest.raises(OSError, match="disk full"):
        stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    assert list(work.iterdir()) == []


def test_remove_staged_takes_everything_away_and_may_run_twice(tmp_path: Path, cdm_url: str) -> None:
    work = tmp_path / "job"
    (work / "custom").mkdir(parents=True)
    staged = stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    remove_staged(staged)
    assert [p.name for p in work.iterdir()] == ["custom"]
    remove_staged(work)  # by path, already gone: fine
    remove_staged(tmp_path / "never-made")
    again = stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    assert again.records == staged.records


def test_spans_of_a_note_the_cdm_lacks_make_the_count_disagree_and_staging_is_refused(
    tmp_path: Path, cdm_url: str
) -> None:
    engine = make_engine(cdm_url)
    with engine.begin() as conn:
        conn.execute(
            text(
                'INSERT INTO note_nlp (note_nlp_id, note_id, "offset", lexical_variant, note_nlp_concept_id, '
                "nlp_system, nlp_date, term_modifiers) VALUES (99999, 99999, '0', 'x', 0, 'gold', '2024-01-01', "
                "'label=Disease')"
            )
        )
    engine.dispose()
    work = tmp_path / "job"
    with pytest.raises(StagingRefusedError, match="annotated notes but"):
        stage_job_data(_record(), work, policy=_policy(), cdm_url=cdm_url, model_spec="tiny")
    assert not (work / "data").exists()
