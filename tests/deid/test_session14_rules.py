"""Session 14's rules, on sentences written by hand for these tests (none copied from the hand-written set): the
kinds part Y showed (a form's field for where one lives, a place where one works, police ranks and short titles,
hyphen-joined initials, an interpreter named without a colon, hospital extensions, a part of a month), what
identifies no one, and the windows the faster rules run in."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier
from deid.recognizers._base import blank_free_around
from deid.recognizers._tokens import joined_initials
from deid.recognizers.address import _street_lines
from tests.deid.test_handwritten_kinds import _check

KINDS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, phi, its label, a distractor that must survive)
    ("fi", "Kuntoutuja kävi 12 kertaa. Kotikunta Sodankylä, CRP 3.", "Sodankylä", "LOCATION", "CRP 3"),
    ("fi", "Hoitojakso päättyi 2024. Kotipaikka Kuusamo.\nSeuraava käynti syksyllä.", "Kuusamo", "LOCATION", ""),
    ("nb", "Kona Lise jobber skift på Stord, Hb 13,4.", "Stord", "LOCATION", "13,4"),
    ("et", "Ametikoht lukksepp, töökoht Paldiskis, CRP 8.", "Paldiskis", "LOCATION", "CRP 8"),
    ("en", "Interviewed with custody sgt Pemberton present, Hb 141.", "Pemberton", "PERSON", "Hb 141"),
    ("en", "Statement taken by Inspector Achterberg, Na 139.", "Achterberg", "PERSON", "Na 139"),
    ("fi", "Lisäannos klo 02.15 lääk. Kettunen ohjeesta, CRP 40.", "Kettunen", "PERSON", "CRP 40"),
    ("fi", "Jatkohoito terveyskeskuksessa.\nA-K. Laitinen, LL\n", "A-K. Laitinen", "PERSON", ""),
    ("sv", "Telefontolk bokad, tolk Wanjiru nr TF-40117.", "Wanjiru", "PERSON", ""),
    ("sv", "Vännen Sami följde med till akuten, Hb 131.", "Sami", "PERSON", "Hb 131"),
    ("en", "Discussed with the on-call registrar, ext 5823, at 14:10.", "5823", "PHONE", "14:10"),
    ("sv", "Frågor till mottagningen, ankn. 3318, vardagar.", "3318", "PHONE", ""),
    ("et", "Kordusvisiit juuni keskel 2025, Hb 128.", "juuni keskel 2025", "DATE", "Hb 128"),
    ("fi", "Kontrolli maaliskuun alussa 2025 laboratoriossa.", "maaliskuun alussa 2025", "DATE", ""),
    # after part Z's blind run
    ("sv", "Reser till Irak (Mosul) i juli, Hb 127.", "Mosul", "LOCATION", "Hb 127"),
    ("en", "Plans to take the train to Kettering alone, Na 138.", "Kettering", "LOCATION", "Na 138"),
    ("nb", "Pasient: Reidar Brattli (kalles Brattern), Hb 14,1.", "Brattern", "PERSON", "14,1"),
    ("en", "Crew: paramedic J. Ferris, PIN 7730.", "7730", "ID", ""),
    ("en", "Care passed to CNM Philomena at 09:40.", "Philomena", "PERSON", "09:40"),
    ("da", "Blodsukker kontrolleret.\n/lrk, ssa.\n", "lrk", "PERSON", ""),
    ("da", "Ringer igen i morgen.\n/RN sygeplejerske\n", "RN", "PERSON", ""),
    # after part AA's blind run
    ("da", "Tolk: Amina Warsame, tolke-ID 6620\nSamtalen gik godt.", "6620", "ID", ""),
    ("nb", "Videre opptrening hos lagets fys. Håkon, Hb 14,0.", "Håkon", "PERSON", "14,0"),
    ("fi", "Kontrolli kahden viikon päästä.\n//RK\n", "RK", "PERSON", ""),
    ("nb", "Diktert av lege Turid Aas, kontrasignert MB\n", "MB", "PERSON", ""),
    ("en", "Irish citizen, EHIC 80372000010088817745, fell in the hotel.", "80372000010088817745", "ID", ""),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KINDS)
def test_session14_kinds(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NOT_PHI: list[tuple[str, str]] = [
    # (lang, text): nothing in it is PHI
    ("da", "Materiale: 4 biopsier fra sigmoideum, glas A-D. Farvning HE."),
    ("et", "Ehhokardiograafia: QTc 431 ms. Ehhokardiograafia normis."),
    ("sv", "Patienten har tolk Arabiska bokad till torsdag."),
    ("en", "External rotation limited, extension full."),
    ("en", "Sergeant's fracture ruled out on X-ray."),
    ("en", "Pain 3/10 (Wong-Baker), settled."),
    ("en", "Inferior leads.\n/ST elevation noted\n"),
]


@pytest.mark.parametrize(("lang", "text"), NOT_PHI)
def test_session14_look_alikes_stay(deidentifier: Deidentifier, lang: str, text: str) -> None:
    assert [(text[s.start : s.end], str(s.label)) for s in deidentifier.detect(text, lang)] == []


def test_a_sentence_ending_in_a_town_is_no_letterhead(deidentifier: Deidentifier) -> None:
    """A firm's name and town make a letterhead only on a line (or a field) of their own."""
    spans = deidentifier.detect("Hoito päättyi. Kotipaikka Kuusamo.\n", "fi")
    assert [(s.label.value, s.end - s.start) for s in spans] == [("LOCATION", len("Kuusamo"))]
    assert [str(s.label) for s in deidentifier.detect("Näkötalo Vaasa\nPotilas tuli.", "fi")] == ["ORGANIZATION"]


@pytest.mark.parametrize(("text", "expected"), [("S-L.", True), ("A-M-K.", True), ("S-L", False), ("Sl.", False)])
def test_joined_initials(text: str, expected: bool) -> None:
    assert joined_initials(text) is expected


def test_blank_free_windows_hold_each_anchor_word() -> None:
    windows = blank_free_around("@")
    text = "Mail ola.nordmann@example.no or\tkari@x.no,\nnone here"
    assert [text[s:e] for s, e in windows(text)] == ["ola.nordmann@example.no", "kari@x.no,"]
    assert windows("no anchor in this text") == []


def test_street_lines_are_those_where_a_street_word_meets_a_number() -> None:
    text = "Hb 12.\nBor i Storgata 14 B, 0184 Oslo.\nCRP 3 mg/L\nKyrkvägen var stängd i 7 dagar"
    assert [text[s:e] for s, e in _street_lines(text)] == ["Bor i Storgata 14 B, 0184 Oslo."]
