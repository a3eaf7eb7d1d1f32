"""The villages gazetteer (``deid/data/places_geonames.txt``, built by ``python -m bench.deid.gazetteer``): what
the builder keeps and refuses, that no rule reads a village alone as a place, and that a village the tagger calls
an organisation is read as the place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.deid.gazetteer import gb_ie_names, names
from deid.engine import Deidentifier
from deid.labels import Label
from deid.lexicon import cities, first_names, villages
from deid.resolve import fill_gaps
from deid.tagger import TaggedSpan

REPO = Path(__file__).resolve().parents[2]


def _record(name: str, country: str, population: int = 800) -> dict[str, object]:
    return {"name": name, "countrycode": country, "population": population}


def test_the_builder_keeps_villages_of_the_five_countries_only() -> None:
    records = [
        _record("Ballstad", "NO"),
        _record("Kopparberg", "SE"),
        _record("Ballstad", "NO"),  # twice in GeoNames: once in the list
        _record("Tallinn", "EE"),  # a city the curated lists hold
        _record("Ingrid", "NO"),  # a given name
        _record("Os", "NO"),  # too short
        _record("Kilcolgan", "IE"),  # outside the five countries
    ]
    assert "Tallinn" in cities() and "Ingrid" in first_names()
    assert names(records) == ["Ballstad", "Kopparberg"]


def test_the_builder_refuses_a_file_that_is_no_cities_list(tmp_path: Path) -> None:
    bad = tmp_path / "cities500.json"
    bad.write_text(json.dumps(["not", "records"]), encoding="utf-8")
    before = (REPO / "deid" / "data" / "places_geonames.txt").read_bytes()
    run = subprocess.run(
        [sys.executable, "-m", "bench.deid.gazetteer", str(bad)], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 2 and "cities500.json" in run.stderr
    assert (REPO / "deid" / "data" / "places_geonames.txt").read_bytes() == before


def test_villages_are_evidence_not_places_of_their_own(rules_deidentifier: Deidentifier) -> None:
    assert {"Ballstad", "Kopparberg"} <= villages() and not villages() & cities()
    # a village that is also a word or a family name is never taken alone
    text = "Bor alene. Bjarte Haga ringte, time avtalt."
    assert {"Bor", "Haga", "Time"} <= villages()
    found = {text[s.start : s.end] for s in rules_deidentifier.detect(text, "nb")}
    assert "Bor" not in found and "Time" not in found


def test_a_village_the_tagger_calls_an_organisation_is_the_place() -> None:
    text = "Falt av sykkelen ved Ballstad, sydd på Meilahti, jobber i Nordkran."
    tagged = [
        TaggedSpan(text.index("Ballstad"), text.index(", sydd"), Label.ORGANIZATION, 0.8),
        TaggedSpan(text.index("Meilahti"), text.index(", jobber"), Label.ORGANIZATION, 0.8),  # a hospital's name
        TaggedSpan(text.index("Nordkran"), len(text) - 1, Label.ORGANIZATION, 0.8),  # no place
    ]
    found = fill_gaps([], tagged, text)
    assert [(text[s.start : s.end], s.label) for s in found] == [
        ("Ballstad", Label.LOCATION),
        ("Meilahti", Label.ORGANIZATION),
        ("Nordkran", Label.ORGANIZATION),
    ]


def test_the_british_and_irish_list_keeps_large_towns_that_are_no_words() -> None:
    records = [
        _record("Ennis", "IE", 25_000),
        _record("Bristol", "GB", 430_000),
        _record("Reading", "GB", 320_000),  # an English word
        _record("Barnet", "GB", 47_000),  # "the child" in three Nordic languages
        _record("Preston", "GB", 140_000),  # a family name
        _record("Perranporth", "GB", 3_000),  # too small to be read alone
        _record("Ballstad", "NO", 25_000),  # not British or Irish
    ]
    assert gb_ie_names(records) == ["Bristol", "Ennis"]


def test_british_and_irish_towns_are_places_but_not_in_a_scales_name(deidentifier: Deidentifier) -> None:
    text = "Foyle Hospice, Derry - admitted. GCS 15, Glasgow Coma Scale normal, Boston Naming Test 52/60."
    found = {text[s.start : s.end]: str(s.label) for s in deidentifier.detect(text, "en")}
    assert found.get("Derry") == "LOCATION"
    assert "Glasgow" not in found and "Boston" not in found


def test_the_builder_writes_neither_list_when_one_would_be_empty(tmp_path: Path) -> None:
    nordic_only = tmp_path / "cities500.json"
    nordic_only.write_text(json.dumps({"1": _record("Ballstad", "NO")}), encoding="utf-8")
    lists = [REPO / "deid" / "data" / name for name in ("places_geonames.txt", "places_gb_ie.txt")]
    before = [path.read_bytes() for path in lists]
    run = subprocess.run(
        [sys.executable, "-m", "bench.deid.gazetteer", str(nordic_only)], cwd=REPO, capture_output=True, text=True
    )
    assert run.returncode == 2 and "GB, IE" in run.stderr
    assert [path.read_bytes() for path in lists] == before
