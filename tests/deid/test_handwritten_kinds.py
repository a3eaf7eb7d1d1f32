"""Issue 15: the kinds of PHI that survived in notes written by people, one hand-written case per kind and language.

Each case names the PHI that must be replaced (with its label) and a non-PHI distractor next to it that must stay.
The hand-written evaluation set itself (``data/deid-handwritten``) is scored by ``python -m bench.deid.handwritten``;
here only that it runs (quality targets live in bench/, not in CI).
"""

from __future__ import annotations

import datetime as dt

import pytest

from bench.deid import handwritten
from deid.dates import find_dates, parse_one, render_like
from deid.engine import Deidentifier

Case = tuple[str, str, str, str, str]
"""(language, text, PHI, label, distractor)"""


def _check(deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str) -> None:
    spans = deidentifier.detect(text, lang)
    start = text.index(phi)
    end = start + len(phi)
    covering = [s for s in spans if s.start <= start and s.end >= end]
    if phi:
        assert covering, f"{phi!r} not fully caught: {[(text[s.start : s.end], str(s.label)) for s in spans]}"
        assert str(covering[0].label) == label
    if distractor:
        d_start = text.index(distractor)
        d_end = d_start + len(distractor)
        hit = [text[s.start : s.end] for s in spans if s.start < d_end and d_start < s.end]
        assert not hit, f"distractor {distractor!r} flagged: {hit}"


ADDRESSES: list[Case] = [
    ("nb", "Bor på Fjellveien 12, leil. H0304, 5019 Bergen. Hb 11,9.", "Fjellveien 12, leil. H0304", "ADDRESS", "11,9"),
    ("sv", "Bor på Kyrkogatan 3, lgh 1203, 411 15 Göteborg. CRP 44.", "Kyrkogatan 3, lgh 1203", "ADDRESS", "CRP 44"),
    ("da", "Bosat på Bredgade 40, 3. th., 1260 København K. INR 2,1.", "Bredgade 40, 3. th.", "ADDRESS", "2,1"),
    ("da", "Bosat på Havnegade 7, st. tv., 5000 Odense C. K 4,1.", "Havnegade 7, st. tv.", "ADDRESS", "4,1"),
    ("fi", "Osoite Koulukatu 9 as. 12, 65100 Vaasa. Hb 121.", "Koulukatu 9 as. 12", "ADDRESS", "Hb 121"),
    ("fi", "Osoite Rantatie 4 C 17, 02100 Espoo. Krea 88.", "Rantatie 4 C 17", "ADDRESS", "Krea 88"),
    ("et", "Elukoht: Vabaduse pst 8-21, 10141 Tallinn. CRP 12.", "Vabaduse pst 8-21", "ADDRESS", "CRP 12"),
    ("en", "Lives at Solveien 5, 1. sal, 0285 Oslo. Hb 10.9 g/dL.", "Solveien 5, 1. sal", "ADDRESS", "10.9 g/dL"),
    ("nb", "Pas. bor på Lyngheia 3, 4630 Kristiansand. Na 136.", "Lyngheia 3", "ADDRESS", "Na 136"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), ADDRESSES)
def test_addresses_with_designators_after_cue_words(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


FACILITIES: list[Case] = [
    ("nb", "Kommer fra Solbakken sykehjem, CRP 30.", "Solbakken sykehjem", "ORGANIZATION", "CRP 30"),
    ("nb", "Vurdert på Asker legevakt i natt, Hb 12,1.", "Asker legevakt", "ORGANIZATION", "12,1"),
    ("nb", "Henvist fra Furuheim omsorgssenter. Na 131.", "Furuheim omsorgssenter", "ORGANIZATION", "Na 131"),
    ("nb", "Svar sendt Helse Førde. INR 2,5.", "Helse Førde", "ORGANIZATION", "2,5"),
    ("sv", "Inkom från Äldreboendet Tallåsen med feber 38,6.", "Äldreboendet Tallåsen", "ORGANIZATION", "38,6"),
    ("sv", "Uppföljning på Hälsocentralen Storuman, Hb 118.", "Hälsocentralen Storuman", "ORGANIZATION", "Hb 118"),
    ("sv", "Remiss från Vårdcentralen Kvarnholmen, LPK 9,1.", "Vårdcentralen Kvarnholmen", "ORGANIZATION", "9,1"),
    ("da", "Henvist fra Lægehuset Havnen, CRP 18.", "Lægehuset Havnen", "ORGANIZATION", "CRP 18"),
    ("fi", "Tuotiin Lielahden terveysasemalta, CRP 66.", "Lielahden terveysasemalta", "ORGANIZATION", "CRP 66"),
    ("fi", "Aiemmin hoidossa Mehiläisessä, Hb 131.", "Mehiläisessä", "ORGANIZATION", "Hb 131"),
    ("et", "Saadetud Mustamäe Hooldekodust, CRP 21.", "Mustamäe Hooldekodust", "ORGANIZATION", "CRP 21"),
    ("en", "Previously seen at Capio Lundby, potassium 3.9.", "Capio Lundby", "ORGANIZATION", "potassium 3.9"),
    ("en", "Patient from Kotikartano care home, sodium 131.", "Kotikartano care home", "ORGANIZATION", "sodium 131"),
    ("fi", "Tuli Tammelan palvelukodista, Hb 111.", "Tammelan palvelukodista", "ORGANIZATION", "Hb 111"),
    ("nb", "Skal til Ekeberg bo- og servicesenter, CRP 9.", "Ekeberg bo- og servicesenter", "ORGANIZATION", "CRP 9"),
    ("sv", "Bor på Vård- och omsorgsboendet Björken, Hb 99.", "omsorgsboendet Björken", "ORGANIZATION", "Hb 99"),
    ("da", "Egen læge: Lægerne Søtorvet, CRP 4.", "Lægerne Søtorvet", "ORGANIZATION", "CRP 4"),
    ("da", "Borger på Plejecentret Solhøj, vægt 51 kg.", "Plejecentret Solhøj", "ORGANIZATION", "51 kg"),
    ("sv", "Läggs in på Lycksele lasarett, SpO2 84 %.", "Lycksele lasarett", "ORGANIZATION", "SpO2 84 %"),
    ("nb", "Går i Solsikken barnehage, vekt 16,2 kg.", "Solsikken barnehage", "ORGANIZATION", "16,2 kg"),
    ("sv", "Går på förskolan Lönnen, vikt 11,3 kg.", "förskolan Lönnen", "ORGANIZATION", "11,3 kg"),
    ("da", "Ansat som svejser hos Vestas Lem siden 2012, HbA1c 48.", "Vestas Lem", "ORGANIZATION", "2012"),
    ("fi", "Hitsaaja Meyer Turku Oy:ssä vuodesta 2010, Hb 140.", "Meyer Turku Oy:ssä", "ORGANIZATION", "2010"),
    (
        "et",
        "Hospitaliseeriti Jämejala psühhiaatriakeskusesse, CRP 3.",
        "Jämejala psühhiaatriakeskusesse",
        "ORGANIZATION",
        "CRP 3",
    ),
    ("nb", "Søknad sendt Hamar kommune, BT 120/80.", "Hamar kommune", "ORGANIZATION", "120/80"),
    ("fi", "Siirto OYS:n sydänvalvontaan, TnT 450.", "OYS:n", "ORGANIZATION", "TnT 450"),
    ("en", "Application sent to Tampere city council, Hb 12.1.", "Tampere city council", "ORGANIZATION", "Hb 12.1"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), FACILITIES)
def test_facilities_named_with_a_generic_noun(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NAMES: list[Case] = [
    ("nb", "Pasient: Strømsnes, Åse Marit\nHb 13,1.", "Strømsnes, Åse Marit", "PERSON", "13,1"),
    ("sv", "Patient: Wikström, Agneta\nCRP 12.", "Wikström, Agneta", "PERSON", "CRP 12"),
    ("da", "Vedr.: Søgaard, Preben\nINR 1,9.", "Søgaard, Preben", "PERSON", "1,9"),
    ("fi", "Potilas: Hyvönen, Tuula\nHb 119.", "Hyvönen, Tuula", "PERSON", "Hb 119"),
    ("et", "Patsient: Kallas, Mati\nCRP 7.", "Kallas, Mati", "PERSON", "CRP 7"),
    ("da", "Borger Sand, Gudrun, 97 år, vægt 48,2 kg.", "Sand, Gudrun", "PERSON", "48,2 kg"),
    ("nb", "Hjemmebesøk hos Olaug Stene, BT 130/80.", "Olaug Stene", "PERSON", "130/80"),
    ("sv", "Kontakt arbetsterapeut Lova Ekdahl, vikt 60 kg.", "Lova Ekdahl", "PERSON", "60 kg"),
    ("et", "Töötaja Andrus Kruus, keevitaja. CRP 2.", "Andrus Kruus", "PERSON", "CRP 2"),
    ("sv", "Apotekare Nadia Sahin deltog. eGFR 29.", "Nadia Sahin", "PERSON", "eGFR 29"),
    ("nb", "Pasienten, Aslaug Fjeld, kom i går. CRP 14.", "Aslaug Fjeld", "PERSON", "CRP 14"),
    ("fi", "Äiti Tarja tavoitettu. Hb 130.", "Tarja", "PERSON", "Hb 130"),
    ("nb", "Pas. bruker Madopar 125 mg x 4.", "", "", "Madopar"),
    ("en", "Patient: O'Neill-Berg, Siobhan\nHb 98.", "O'Neill-Berg, Siobhan", "PERSON", "Hb 98"),
    ("nb", "Elektronisk signert av K. Nygaard-Lie, overlege. Na 140.", "K. Nygaard-Lie", "PERSON", "Na 140"),
    ("sv", "Signerat av M. Strand, ST-läkare. K 3,9.", "M. Strand", "PERSON", "3,9"),
    ("da", "Elektronisk godkendt af A. B. Friis, overlæge. Hb 7,9.", "A. B. Friis", "PERSON", "7,9"),
    ("fi", "Allekirjoittanut J. Koskinen, sisätautilääkäri. Krea 70.", "J. Koskinen", "PERSON", "Krea 70"),
    ("et", "Allkirjastanud dr K. Põld. CRP 4.", "K. Põld", "PERSON", "CRP 4"),
    ("en", "Electronically signed by R. Hale-Johansen. Hb 12.2.", "R. Hale-Johansen", "PERSON", "Hb 12.2"),
    ("nb", "Samboeren Roar ringte i kveld. CRP 55.", "Roar", "PERSON", "CRP 55"),
    ("sv", "Barnbarnet Alva var på besök. Hb 121.", "Alva", "PERSON", "Hb 121"),
    ("da", "Nevøen Rasmus kommer i morgen. CRP 14.", "Rasmus", "PERSON", "CRP 14"),
    ("fi", "Lapsenlapsi Onni kävi eilen. CRP 9.", "Onni", "PERSON", "CRP 9"),
    ("et", "Lapselaps Karl-Erik käis eile. CRP 6.", "Karl-Erik", "PERSON", "CRP 6"),
    ("en", "Her nephew Callum phoned today. CRP 8.", "Callum", "PERSON", "CRP 8"),
    ("fi", "Potilas: Virtanen, Kalevi. Hoitaja soitti Virtasen tyttärelle. Hb 120.", "Virtasen", "PERSON", "Hb 120"),
    ("et", "Patsient: Tamm, Ants. Õde helistas Tammele tagasi. CRP 2.", "Tammele", "PERSON", "CRP 2"),
    ("fi", "Puhelu potilaan vaimolta Riitalta tänään. Hb 130.", "Riitalta", "PERSON", "Hb 130"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), NAMES)
def test_names_as_clinicians_write_them(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


DATES: list[Case] = [
    ("nb", "Rtg. thorax 14.9. viste infiltrat, BT 135/80.", "14.9.", "DATE", "135/80"),
    ("sv", "Blododling 7/2 växte E. coli, 1/2 tablett Sobril.", "7/2", "DATE", "1/2 tablett"),
    ("da", "Indlagt 9/3 2024 med KOL, K 4,1.", "9/3 2024", "DATE", "4,1"),
    ("fi", "Keuhkokuva 30.11. normaali, klo 14.30 soitettu.", "30.11.", "DATE", "14.30"),
    ("et", "Opereeritud 240315, RR 140/90.", "240315", "DATE", "140/90"),
    ("en", "Admitted 3/4–10/4 2024, VAS 3/10.", "3/4", "DATE", "3/10"),
    ("nb", "Innlagt på Ski sykehus 2.–5.4., Hb 9,9.", "2.–5.4.", "DATE", "9,9"),
    ("sv", "Återbesök 4–5/3 på mottagningen, MMSE 17/30.", "4–5/3", "DATE", "17/30"),
    ("nb", "Plan: hjem til Kolbotn 16.9. med hjemmetjeneste, Na 134.", "16.9.", "DATE", "Na 134"),
    ("en", "Blood culture 23/3 grew E. coli, 1/2 tablet at night.", "23/3", "DATE", "1/2 tablet"),
    ("en", "Admitted 21–28 June 2024 with pneumonia, CRP 254.", "21–28 June 2024", "DATE", "CRP 254"),
    ("en", "CXR 22/6: consolidation, urea 9.1.", "22/6", "DATE", "urea 9.1"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), DATES)
def test_partial_and_compact_dates(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NUMBERS: list[Case] = [
    ("nb", "Rekvisisjonsnr. 77120934, INR 2,2.", "77120934", "ID", "2,2"),
    ("sv", "Labnr 5530128, Hb 131.", "5530128", "ID", "Hb 131"),
    ("da", "Prøvenr. 881203, CRP 31.", "881203", "ID", "CRP 31"),
    ("fi", "Näytenumero 3310457, Hb 140.", "3310457", "ID", "Hb 140"),
    ("et", "Saatekirja nr 7720193, CRP 15.", "7720193", "ID", "CRP 15"),
    ("en", "Requisition no. 44718203, sodium 138.", "44718203", "ID", "sodium 138"),
    ("fi", "Asianumero 2024-1190, Hb 131.", "2024-1190", "ID", "Hb 131"),
    ("nb", "Oppdrag 2402-1187. Hentet pasient, BT 98/60.", "2402-1187", "ID", "98/60"),
    ("nb", "Datteren ringt på 91234567, Hb 10,4.", "91234567", "PHONE", "10,4"),
    ("sv", "Maken nås på 0701234567, CRP 12.", "0701234567", "PHONE", "CRP 12"),
    ("da", "Sønnen kan træffes på 28441907, K 3,6.", "28441907", "PHONE", "3,6"),
    ("fi", "Tytär tavoitettavissa 0401234567, Hb 99.", "0401234567", "PHONE", "Hb 99"),
    ("et", "Poeg helistas, number 53418827, CRP 3.", "53418827", "PHONE", "CRP 3"),
    ("en", "Her son can be reached on 92284017, Hb 11.1.", "92284017", "PHONE", "11.1"),
    ("fi", "Pojalle soitettu, numero 0400 812 345, RR 118/70.", "0400 812 345", "PHONE", "118/70"),
    ("en", "Contact: brother, +353 87 123 4567, urea 9.1.", "+353 87 123 4567", "PHONE", "urea 9.1"),
    ("sv", "Barnbarnet informerad på 0704 51 22 98, eGFR 29.", "0704 51 22 98", "PHONE", "eGFR 29"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), NUMBERS)
def test_reference_and_phone_numbers_after_cue_words(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


PLACES: list[Case] = [
    ("nb", "Har hytte på Beitostølen, CRP 20.", "Beitostølen", "LOCATION", "CRP 20"),
    ("sv", "Hon är uppvuxen i Överkalix, Hb 120.", "Överkalix", "LOCATION", "Hb 120"),
    ("da", "Har sommerhus i Løkken, CRP 11.", "Løkken", "LOCATION", "CRP 11"),
    ("fi", "Mökki Puumalassa, CRP 17.", "Puumalassa", "LOCATION", "CRP 17"),
    ("et", "Suvekodu Kärdlas, CRP 5.", "Kärdlas", "LOCATION", "CRP 5"),
    ("en", "Born and raised in Kirkenes, Hb 13.5.", "Kirkenes", "LOCATION", "Hb 13.5"),
    ("nb", "Bor med kona i enebolig i Fjellhamar, CRP 20.", "Fjellhamar", "LOCATION", "CRP 20"),
    ("sv", "Bor ensam på en gård utanför Kalix, Hb 128.", "Kalix", "LOCATION", "Hb 128"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), PLACES)
def test_places_after_cue_words_and_in_case_forms(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


AGES: list[Case] = [
    ("nb", "92 år gammel kvinne, tidligere 88-årig ved forrige innleggelse.", "92", "AGE", "88-årig"),
    ("sv", "93-årig man, maka 85 år.", "93", "AGE", "85 år"),
    ("da", "91-årig kvinde, ægtefælle 79-årig.", "91", "AGE", "79-årig"),
    ("fi", "94-vuotias nainen, puoliso 47-vuotias.", "94", "AGE", "47-vuotias"),
    ("et", "96-aastane mees, abikaasa 71-aastane.", "96", "AGE", "71-aastane"),
    ("en", "A 90-year-old woman; her son is 64 years old.", "90", "AGE", "64 years"),
    ("fi", "Potilas Lindholm, Sirkka (92 v) palvelukodista, tytär (61 v).", "92", "AGE", "61 v"),
    ("et", "Patsient Kõiv, Salme (93 a), poeg (66 a).", "93", "AGE", "66 a"),
    ("nb", "Hjemmebesøk hos Olaug Stene (90), Hb (120) normal.", "90", "AGE", "(120)"),
    ("fi", "Noudettu Eino Kallio, 93 v, kotoa. Potilaan poika 61 v.", "93", "AGE", "61 v"),
    ("en", "Collected Frank Holloway, 95, from home. GCS 14.", "95", "AGE", "GCS 14"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), AGES)
def test_ages_over_89_only(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


@pytest.mark.parametrize(
    "text",
    ["BT 148/86", "K 4.8.", "kl. 03.10.", "1/2 tablett", "VAS 3/10", "Labnr 240315", "lactate 3.1.", "CRP 3.4."],
)
def test_short_date_forms_that_are_measurements_stay(text: str) -> None:
    assert [text[f.start : f.end] for f in find_dates(text)] == []


def test_a_date_range_moves_as_one() -> None:
    found = parse_one("2.–5.4.")
    assert found is not None and (found.day, found.month) == (5, 4)
    assert render_like(found, dt.date(2000, 5, 20)) == "17.–20.5."  # both days move by the same offset


def test_markup_parses_into_gold_spans_and_distractors() -> None:
    source = "# comment\n### nb | Notat | 2024-01-02\nPasient: [P|Berg, Ola], {CRP 12}, født [D|3.4.]\n"
    (note,) = handwritten.parse(source, "dev")
    text = note["text"]
    assert text == "Pasient: Berg, Ola, CRP 12, født 3.4.\n"
    assert [text[s["start"] : s["end"]] for s in note["phi"]] == ["Berg, Ola", "3.4."]
    assert [s["label"] for s in note["phi"]] == ["PERSON", "DATE"]
    assert [text[d["start"] : d["end"]] for d in note["distractors"]] == ["CRP 12"]
    assert note["lang"] == "nb" and note["note_date"] == "2024-01-02"


def test_the_held_out_evaluation_runs(deidentifier: Deidentifier) -> None:
    results = handwritten.run(["heldout"], engine=deidentifier)["heldout"]
    assert results["notes"] >= 24
    assert set(results["per_language"]) == {"nb", "sv", "da", "fi", "et", "en"}
    assert {"PERSON", "ADDRESS", "ORGANIZATION", "DATE"} <= set(results["per_label"])
    assert results["distractors"]["total"] > 0 and 0.0 <= results["distractors"]["rate"] <= 1.0
    assert "heldout" in handwritten.markdown("heldout", results)
