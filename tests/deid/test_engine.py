"""The whole detector and the operators: what must go, what must stay, conflicts, consistency, operators."""

from __future__ import annotations

import re

import pytest

from deid.engine import Deidentifier
from deid.labels import Label

STAYS = {
    "nb": "Diagnose I21.4 og G20. Medisin N04BA02 levodopa 100 mg x 3, metformin 500 mg. Hb 12.3 g/dL, CRP 45 mg/L, "
    "kreatinin 88 µmol/L. Operert i 2019. 45 år gammel, bror 89 år. Ref. 12345678901 er ugyldig. "
    "Kjent Parkinsons sykdom og Alzheimers sykdom. Innlagt på sykehuset.",
    "sv": "Diagnos E11.9. Läkemedel C09AA05 ramipril 5 mg. Hb 13.1 g/dL. Opererad 2005. 67 år. "
    "Nr 811218-9875 avvisat. Parkinsons sjukdom sedan 2010.",
    "da": "Diagnose J44.1. Medicin B01AF01 20 mg. Hb 8.1 mmol/L. Opereret i 1998. 72 år. Nr. 320199-1234 ugyldigt.",
    "fi": "Diagnoosi I48.0. Lääkitys C07AB02 metoprololi 50 mg. Hb 14.2 g/dl. Leikattu 2001. 55-vuotias. "
    "Numero 131052-308U on virheellinen. Parkinsonin tauti.",
    "et": "Diagnoos G30.1. Ravim N06DA02 10 mg. Hb 12.9 g/dl. Opereeritud 2012. 61-aastane. "
    "Number 37605030298 on vigane. Parkinsoni tõbi.",
    "en": "Diagnosis G20 and G30.1; levodopa 100 mg three times daily. Hb 12.3 g/dL. Operated in 2015. "
    "A 67-year-old man with Parkinson disease, Alzheimer's disease, Huntington disease and Duchenne muscular "
    "dystrophy. Number 12345678901 is invalid.",
}


@pytest.mark.parametrize("lang", sorted(STAYS))
def test_clinical_content_stays(deidentifier: Deidentifier, lang: str) -> None:
    text = STAYS[lang]
    spans = deidentifier.detect(text, lang)
    assert [(text[s.start : s.end], s.label) for s in spans] == []
    assert deidentifier.deidentify(text, lang, "p1").text == text


GOES = [
    (
        "nb",
        "Pasient: Ola Nordmann, fnr 12119616032, tlf 22 33 44 55, Storgata 12, 0155 Oslo. Innlagt 12. mars 2024 "
        "ved Haukeland universitetssjukehus. Alder 92 år. Journalnr: 2024-000123. ola@helse.no, 10.0.0.12",
        {
            Label.PERSON,
            Label.NATIONAL_ID,
            Label.PHONE,
            Label.ADDRESS,
            Label.DATE,
            Label.ORGANIZATION,
            Label.AGE,
            Label.ID,
            Label.EMAIL,
            Label.IP,
        },
    ),
    (
        "fi",
        "Potilas Kalevi Koskinen, hetu 131052-308T, puh 040 123 4567, asuu Tampereella. 12. maaliskuuta 2024.",
        {Label.PERSON, Label.NATIONAL_ID, Label.PHONE, Label.LOCATION, Label.DATE},
    ),
    (
        "en",
        "Patient John Smith (MRN 4471823) was seen by Dr. Rachel Davis at Massachusetts General Hospital on "
        "March 12, 2024; see https://portal.example.org/p/1.",
        {Label.PERSON, Label.ID, Label.ORGANIZATION, Label.DATE, Label.URL},
    ),
]


@pytest.mark.parametrize(("lang", "text", "labels"), GOES)
def test_phi_is_found_and_replaced(deidentifier: Deidentifier, lang: str, text: str, labels: set[Label]) -> None:
    spans = deidentifier.detect(text, lang)
    assert {s.label for s in spans} == labels
    out = deidentifier.deidentify(text, lang, "p1").text
    for s in spans:
        assert text[s.start : s.end] not in out


def test_swedish_and_danish_reading_resolved_by_language(deidentifier: Deidentifier) -> None:
    # 120312-0009 is a valid personnummer (2012-03-12, Luhn) and a valid CPR (12 March 2012)
    assert [s.country for s in deidentifier.detect("CPR 120312-0009", "da")] == ["dk"]
    assert [s.country for s in deidentifier.detect("pnr 120312-0009", "sv")] == ["se"]


def test_surrogates_consistent_per_patient_and_dates_keep_intervals(deidentifier: Deidentifier) -> None:
    first = deidentifier.deidentify("Overlege Kari Hansen. Innlagt 2024-03-12, utskrevet 2024-03-20.", "nb", "p1")
    second = deidentifier.deidentify("Kontroll hos overlege Kari Hansen 2024-04-01.", "nb", "p1")
    other = deidentifier.deidentify("Kontroll hos overlege Kari Hansen 2024-04-01.", "nb", "p2")
    name1 = first.text.split(". Innlagt")[0].removeprefix("Overlege ")
    assert name1 != "Kari Hansen" and name1 in second.text
    assert name1 not in other.text
    d1, d2 = re.findall(r"\d{4}-\d{2}-\d{2}", first.text)
    import datetime as dt

    assert (dt.date.fromisoformat(d2) - dt.date.fromisoformat(d1)).days == 8
    assert d1 != "2024-03-12"


def test_surrogate_national_ids_are_valid_and_different(deidentifier: Deidentifier) -> None:
    from deid.recognizers import fi_henkilotunnus, no_fodselsnummer, se_personnummer

    text = "fnr 12119616032, pnr 811218-9876, hetu 131052-308T"
    out = deidentifier.deidentify(text, "nb", "p1").text
    no, se, fi = re.findall(r"(\d{11}), pnr (\S+), hetu (\S+)$", out)[0]
    assert no != "12119616032" and no_fodselsnummer.is_valid(no)
    assert se != "811218-9876" and se_personnummer.is_valid(se) and "-" in se
    assert fi != "131052-308T" and fi_henkilotunnus.is_valid(fi)


def test_operators(deidentifier: Deidentifier) -> None:
    text = "Overlege Kari Hansen ringte 22 33 44 55."
    assert deidentifier.deidentify(text, "nb", "p1", "tag").text == "Overlege <PERSON> ringte <PHONE>."
    assert deidentifier.deidentify(text, "nb", "p1", "redact").text == "Overlege  ringte ."
    hmac1 = deidentifier.deidentify(text, "nb", "p1", "hmac").text
    hmac2 = deidentifier.deidentify("Lege Kari Hansen", "nb", "p9", "hmac").text.removeprefix("Lege ")
    token = re.search(r"<PERSON:[0-9a-f]{16}>", hmac1)
    assert token is not None and token.group(0) == hmac2  # keyed pseudonym: same name, same token, any patient
    other_key = Deidentifier(operator="hmac", key=b"another-site-key", analyzer=deidentifier.analyzer)
    assert token.group(0) not in other_key.deidentify(text, "nb", "p1").text


def test_mixed_language_note(deidentifier: Deidentifier) -> None:
    text = "Pasient Ola Nordmann (fnr 12119616032) overført fra Tampereella; hetu 131052-308T, puh 040 123 4567."
    labels = [s.label for s in deidentifier.detect(text, "nb")]
    assert labels.count(Label.NATIONAL_ID) == 2 and Label.PHONE in labels and Label.LOCATION in labels
