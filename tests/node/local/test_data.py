"""The demo's hospital data: notes whose spans point at the disease mentions, a disjoint split of the patients."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path

import pytest

from node.local.data import SYNTHEA_DIR, prepare_sites, sentence_text, split_synthea
from node.local.demo import site_policy
from node.ml.ner.data import NerExample
from policies.policy_model import load_policy


def test_sentence_text_gives_the_character_spans_of_each_mention() -> None:
    ex = NerExample(
        ("Familial", "breast", "cancer", "and", "ataxia", "-", "telangiectasia", "."),
        ("O", "B-Disease", "I-Disease", "O", "B-Disease", "I-Disease", "I-Disease", "O"),
    )
    text, spans = sentence_text(ex)
    assert [text[s:e] for s, e in spans] == ["breast cancer", "ataxia - telangiectasia"]


def test_adjacent_mentions_stay_apart() -> None:
    text, spans = sentence_text(NerExample(("a", "b", "c"), ("B-Disease", "B-Disease", "O")))
    assert [text[s:e] for s, e in spans] == ["a", "b"]


def _ids(path: Path, key: str) -> list[str]:
    with path.open(newline="") as fh:
        return [row[key] for row in csv.DictReader(fh)]


def test_the_synthea_split_gives_each_patient_and_their_rows_to_one_site(tmp_path: Path) -> None:
    parts = split_synthea(SYNTHEA_DIR, tmp_path, 3)
    owners = [set(_ids(p / "patients.csv", "Id")) for p in parts]
    assert sum(len(o) for o in owners) == len(_ids(SYNTHEA_DIR / "patients.csv", "Id"))
    assert not (owners[0] & owners[1]) and not (owners[1] & owners[2])
    for part, own in zip(parts, owners, strict=True):
        assert set(_ids(part / "conditions.csv", "PATIENT")) <= own
    assert _ids(parts[0] / "organizations.csv", "Id") == _ids(SYNTHEA_DIR / "organizations.csv", "Id")


@pytest.mark.slow  # loads Presidio's synthetic-PHI generator
def test_each_site_gets_notes_with_phi_and_gold_spans_on_its_own_patients(tmp_path: Path) -> None:
    data = prepare_sites(["site-1", "site-2"], tmp_path, sentences=40)
    assert sum(d.notes_count for d in data) == 40
    for d in data:
        patients = {row["Id"]: row for row in csv.DictReader((d.synthea / "patients.csv").open(newline=""))}
        for line in d.notes.read_text().splitlines():
            note = json.loads(line)
            assert note["person_source_value"] in patients
            born = date.fromisoformat(patients[note["person_source_value"]]["BIRTHDATE"][:10])
            assert date.fromisoformat(note["note_date"]) > born
            header, _, sentence = note["text"].partition("\n")
            assert header and sentence
            for span in note["annotations"]:
                assert span["start"] >= len(header) and span["label"] == "Disease"
                assert note["text"][span["start"] : span["end"]].strip() == note["text"][span["start"] : span["end"]]


def test_the_demo_policy_validates_and_names_this_federation(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(site_policy("site-2", sites=3, min_records=10)))
    policy = load_policy(path)
    assert policy.site.name == "site-2"
    assert policy.approval.required_approvals == 1
    assert not policy.approval.totp_required
