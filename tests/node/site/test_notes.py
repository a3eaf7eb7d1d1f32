"""Raw notes -> de-identified NOTE + re-aligned NOTE_NLP: raw text never reaches the CDM."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, insert, select

from fednode.settings import load_settings
from node.site.notes import deidentify_notes_into_cdm
from omop_etl.cdm import Note, NoteNlp, Person, create_cdm


def test_notes_into_cdm(tmp_path: Path, fednode_home: Path) -> None:
    url = f"sqlite:///{tmp_path / 'omop.db'}"
    engine = create_engine(url)
    create_cdm(engine)
    with engine.begin() as conn:
        conn.execute(
            insert(Person),
            [
                {
                    "person_id": 1,
                    "gender_concept_id": 0,
                    "year_of_birth": 1950,
                    "race_concept_id": 0,
                    "ethnicity_concept_id": 0,
                    "person_source_value": "p1",
                }
            ],
        )
    text = "Pasient Ola Nordmann, fnr 12119616032, har Parkinsons sykdom. Kontroll 12.03.2024 hos lege Kari Hansen."
    start = text.index("Parkinsons sykdom")
    rows = [
        {
            "note_id": "n1",
            "person_source_value": "p1",
            "note_date": "2024-03-12",
            "title": "Epikrise",
            "lang": "nb",
            "text": text,
            "annotations": [
                {"start": start, "end": start + 17, "label": "Disease"},
                {"start": 8, "end": 20, "label": "Disease"},
            ],
        },
        {
            "note_id": "n2",
            "person_source_value": "p-unknown",
            "note_date": "2024-03-12",
            "title": "",
            "lang": "nb",
            "text": "Lege Kari Hansen.",
        },
        {"note_id": "n3", "person_source_value": "p1", "note_date": "2024-03-12", "title": "", "text": "  "},
    ]
    notes = tmp_path / "notes.jsonl"
    notes.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    settings = load_settings(home=fednode_home, deid={"secret": "site-secret"})
    report = deidentify_notes_into_cdm(settings, notes, url)
    assert report["deid"]["read"] == 3 and report["deid"]["quarantined"] == {"empty_text": 1}
    assert report["deid"]["annotations_dropped_overlapping_phi"] == 1
    assert report["load"]["inserted"] == 1 and report["load"]["quarantined"] == {"unknown_person": 1}
    with engine.connect() as conn:
        (note_text,) = conn.execute(select(Note.note_text)).one()
        nlp = conn.execute(select(NoteNlp.offset, NoteNlp.lexical_variant, NoteNlp.term_modifiers)).all()
    for raw in ("Ola Nordmann", "12119616032", "12.03.2024", "Kari Hansen"):
        assert raw not in note_text
    assert [(n.lexical_variant, n.term_modifiers) for n in nlp] == [("Parkinsons sykdom", "label=Disease")]
    assert note_text[int(nlp[0].offset) :].startswith("Parkinsons sykdom")
    # the same run again is idempotent and keeps the same surrogates (site secret)
    again = deidentify_notes_into_cdm(settings, notes, url)
    assert again["load"]["unchanged"] == 1
