"""The synthetic gold generator, the Danish CPR provider, the demo header, and the evaluation metrics."""

from __future__ import annotations

import random

import pytest
from faker import Faker

from deid.evaluate import ANY, Targets, evaluate, score_note
from deid.labels import LANGUAGES, Label
from deid.recognizers import dk_cpr, ee_isikukood, fi_henkilotunnus, no_fodselsnummer, se_personnummer
from deid.synthetic import DanishCprProvider, generate, make_phi_header


def test_generator_is_deterministic_and_spans_are_consistent() -> None:
    notes = generate("dev", 24, seed=5)
    assert notes == generate("dev", 24, seed=5)
    assert {n["lang"] for n in notes} == set(LANGUAGES)
    for note in notes:
        text = note["text"]
        assert isinstance(text, str)
        for span in note["phi"]:  # type: ignore[union-attr]
            assert (
                Label(span["label"]) and text[span["start"] : span["end"]].strip() == text[span["start"] : span["end"]]
            )
            assert span["end"] > span["start"]


def test_generator_never_asks_faker_for_a_date_relative_to_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faker's ``ssn()`` counts ages back from today, so a gold set made with it changes from day to day."""
    import faker.providers.ssn.et_EE
    import faker.providers.ssn.fi_FI
    import faker.providers.ssn.no_NO
    import faker.providers.ssn.sv_SE

    def today_relative(*_: object, **__: object) -> str:
        raise AssertionError("Faker's ssn() depends on today's date")

    for module in (
        faker.providers.ssn.no_NO,
        faker.providers.ssn.sv_SE,
        faker.providers.ssn.fi_FI,
        faker.providers.ssn.et_EE,
    ):
        monkeypatch.setattr(module.Provider, "ssn", today_relative)
    notes = generate("dev", 40, seed=3) + generate("test", 40, seed=4)
    ids = [str(n["text"])[s["start"] : s["end"]] for n in notes for s in n["phi"] if s["label"] == "NATIONAL_ID"]  # type: ignore[union-attr,index]
    assert len(ids) >= 80
    checks = {"no": no_fodselsnummer, "se": se_personnummer, "fi": fi_henkilotunnus, "ee": ee_isikukood, "dk": dk_cpr}
    assert all(any(m.is_valid(i) for m in checks.values()) for i in ids), ids


def test_dev_and_test_splits_use_disjoint_templates() -> None:
    dev = " ".join(str(n["text"]) for n in generate("dev", 30, seed=1) if n["lang"] == "nb")
    test = " ".join(str(n["text"]) for n in generate("test", 30, seed=2) if n["lang"] == "nb")
    assert "Vurdert av overlege" in dev and "Vurdert av overlege" not in test
    assert "Tilsett av lege" in test and "Tilsett av lege" not in dev


def test_danish_cpr_provider_is_date_valid() -> None:
    fake = Faker("da_DK")
    fake.add_provider(DanishCprProvider)
    fake.seed_instance(3)
    numbers = [fake.cpr() for _ in range(200)]
    assert all(dk_cpr.is_valid(n) and n[6] == "-" for n in numbers)
    assert len(set(numbers)) > 190


def test_phi_header_for_the_demo() -> None:
    header, spans = make_phi_header(random.Random(1), "sv")
    assert header.endswith("\n") and len(spans) == 6
    assert {label for _, _, label in spans} == {"PERSON", "NATIONAL_ID", "ADDRESS", "PHONE", "EMAIL", "ID"}
    for start, end, _ in spans:
        assert header[start:end] and "\n" not in header[start:end]


def test_entity_and_character_metrics() -> None:
    gold = [(0, 10, "PERSON"), (20, 30, "DATE")]
    pred = [(0, 5, "PERSON"), (40, 45, "PHONE"), (20, 30, "PERSON")]
    counts = score_note(gold, pred)
    person = counts["PERSON"].metrics()
    assert person["recall"] == 1.0 and person["precision"] == 0.5  # (20,30) PERSON overlaps no gold PERSON
    assert counts["DATE"].metrics()["recall"] == 0.0
    assert counts["DATE"].metrics()["removed"] == 1.0  # replaced, if as a PERSON
    assert counts["PHONE"].metrics()["removed"] == 1.0  # no gold PHONE: nothing to remove
    assert score_note([(0, 4, "ID"), (9, 12, "ID")], [(0, 4, "DATE")])["ID"].metrics()["removed"] == 0.5
    assert counts[ANY].metrics()["recall"] == 1.0  # every gold character span was replaced by something
    assert counts["PERSON"].metrics()["char_recall"] == 0.5
    report = evaluate([("nb", gold, pred), ("sv", [], [])])
    assert report.notes == 2
    assert "DATE recall 0.000 < 0.95" in report.failures(Targets(own_label=True))
    assert not any(f.startswith("DATE") for f in report.failures(Targets()))  # removed, if as a PERSON
