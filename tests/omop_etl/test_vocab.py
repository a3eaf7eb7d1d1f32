"""Vocabulary load: Athena's tab layout and the bundled comma subset, optional tables, clear delimiter errors."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fednode.errors import EtlInputError
from omop_etl.cdm import Concept, ConceptAncestor, DrugEra, create_cdm
from omop_etl.db import make_engine
from omop_etl.synthea.run import run_etl
from omop_etl.vocab import ConceptMapper, load_vocabulary
from tests.omop_etl.helpers import SYNTHEA, VOCAB


def _athena_copy(dest: Path) -> Path:
    """The bundled subset rewritten as Athena ships it: tab-separated, YYYYMMDD dates, no quoting."""
    dest.mkdir()
    for path in VOCAB.glob("*.csv"):
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        header = rows[0]
        dates = [i for i, name in enumerate(header) if name.endswith("_date")]
        with (dest / path.name).open("w", encoding="utf-8", newline="") as out:
            for n, row in enumerate(rows):
                if n:
                    row = [v.replace("-", "") if i in dates else v for i, v in enumerate(row)]
                out.write("\t".join(row) + "\n")
    return dest


def test_athena_tab_layout_loads_like_the_comma_subset(tmp_path: Path) -> None:
    athena = _athena_copy(tmp_path / "athena")
    counts = []
    for folder, name in ((VOCAB, "a.db"), (athena, "b.db")):
        engine = make_engine(f"sqlite:///{tmp_path / name}")
        create_cdm(engine)
        with engine.begin() as conn:
            counts.append(load_vocabulary(conn, folder).rows)
            mapping = ConceptMapper(conn).map("SNOMED", "195662009")
            assert mapping.concept_id == 4112343 and mapping.domain_id == "Condition"
    assert counts[0] == counts[1] and counts[0]["concept"] == 2294 and counts[0]["concept_relationship"] == 5178


def test_unknown_delimiter_is_a_clear_error(tmp_path: Path) -> None:
    broken = _athena_copy(tmp_path / "v")
    text = (broken / "CONCEPT.csv").read_text().replace("\t", ";")
    (broken / "CONCEPT.csv").write_text(text)
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    create_cdm(engine)
    with pytest.raises(EtlInputError, match=r"CONCEPT\.csv:1: .*delimiter"), engine.begin() as conn:
        load_vocabulary(conn, broken)


def test_optional_ancestor_rolls_drug_eras_up_to_ingredients(tmp_path: Path) -> None:
    folder = _athena_copy(tmp_path / "v")
    # loratadine 5 MG chewable tablet (RxNorm 665078) -> its ingredient, added as Athena would ship it
    with (folder / "CONCEPT.csv").open("a", encoding="utf-8") as out:
        out.write(
            "\t".join(["28356", "loratadine", "Drug", "RxNorm", "Ingredient", "S", "28889", "19700101", "20991231", ""])
            + "\n"
        )
    with (folder / "CONCEPT_ANCESTOR.csv").open("w", encoding="utf-8") as out:
        out.write("ancestor_concept_id\tdescendant_concept_id\tmin_levels_of_separation\tmax_levels_of_separation\n")
        out.write("28356\t19125062\t1\t1\n")
    engine = make_engine(f"sqlite:///{tmp_path / 'e.db'}")
    report = run_etl(engine, SYNTHEA, vocab_dir=folder)
    assert report.vocabulary is not None and report.vocabulary["rows"]["concept_ancestor"] == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ConceptAncestor)).scalar() == 1
        assert conn.execute(select(func.count()).select_from(DrugEra).where(DrugEra.drug_concept_id == 28356)).scalar()
        assert not conn.execute(
            select(func.count()).select_from(DrugEra).where(DrugEra.drug_concept_id == 19125062)
        ).scalar()
        assert (
            conn.execute(select(Concept.concept_name).where(Concept.concept_id == 0)).scalar() == "No matching concept"
        )
