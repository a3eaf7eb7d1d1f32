"""Session 15's rules, on sentences written by hand for these tests (none copied from the hand-written set): the
kinds parts AB and AC showed (an Estonian mountain or bog after its name, a summer place, towns of two letters, a
day after its weekday, a range ending in a two-digit month, the day of a dose or a test, a one-digit day before a
two-digit month after a visit's word, given names before an age or a birth, a family name that ends like a role,
abbreviated given names, a found name's initials as a signature) and what identifies no one."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier
from deid.wordlists import role_regex
from tests.deid.test_handwritten_kinds import _check

KINDS: list[tuple[str, str, str, str, str]] = [
    # (lang, text, phi, its label, a distractor that must survive)
    ("et", "Libastus matkal Olperer mäelt alla, CRP 12.", "Olperer", "LOCATION", "CRP 12"),
    ("et", "Leiti Kõrvemaa rabast, temp 34,8.", "Kõrvemaa", "LOCATION", "34,8"),
    ("fi", "Haluaa juhannukseksi kesäpaikalle Särkisaloon, Hb 121.", "Särkisaloon", "LOCATION", "Hb 121"),
    ("nb", "Skal tilbake til hytta på Bø i helgen, Hb 12,9.", "Bø", "LOCATION", "12,9"),
    ("da", "Flyttet til en lejlighed i Ry sidste år, BT 142/88.", "Ry", "LOCATION", "142/88"),
    ("en", "Bloods to be repeated Thu 22nd, Na 137.", "22nd", "DATE", "Na 137"),
    ("da", "Ny kontrol tirsdag d. 17. hos egen læge.", "17.", "DATE", ""),
    ("et", "Haiglas viibis 12.–15.03, Hb 118.", "12.–15.03", "DATE", "Hb 118"),
    ("fi", "Hepatiitti B -rokote, 3. annos 14.11.\nSeuraava ei tarpeen.", "14.11.", "DATE", ""),
    ("sv", "Fortsatt Waran 5 mg. Nästa INR 21/3 hos distriktssköterskan.", "21/3", "DATE", "5 mg"),
    ("et", "Kordusvisiit 4.11 kell 9, Hb 131.", "4.11", "DATE", "Hb 131"),
    ("et", "Tuleb neljapäeval 7.10 vereanalüüsile.", "7.10", "DATE", ""),
    ("nb", "Nattevakt.\nSigrun (92) våken fra kl 03.", "Sigrun", "PERSON", ""),
    ("sv", "Ebba föddes 3.2.2024 på BB, vikt 3410 g.", "Ebba", "PERSON", "3410 g"),
    ("da", "Fra pt.: Kære dr. Kvist, jeg har fået feber igen.", "Kvist", "PERSON", ""),
    ("nb", "Kontroll om 3 mnd.\nChr. Aasland\n", "Chr. Aasland", "PERSON", ""),
    ("en", "Mrs Oyelaran (Folake, prefers Fola) slept well, SpO2 96%.", "Folake", "PERSON", "SpO2 96%"),
    ("fi", "Leikkaus sujui, anest. Heiskanen, vuoto 50 ml.", "Heiskanen", "PERSON", "50 ml"),
    ("fi", "Kirjoittanut Sami Lappalainen, LL\n", "Sami Lappalainen", "PERSON", ""),
    ("en", "Seen with Dr Oluwaseun Banjo today, BP 128/76.\nOB (Dr Banjo)\n", "OB", "PERSON", "128/76"),
    ("da", "Aftalt telefonisk m. Birthe fra hjemmeplejen, BS 7,2.", "Birthe", "PERSON", "7,2"),
    ("da", "Knæskade, henvist af holdfys. Rasmus, CRP 4.", "Rasmus", "PERSON", "CRP 4"),
    # after part AD's blind run
    ("da", "Ingen antibiotika nu, ny CRP 22/5 hos egen læge.", "22/5", "DATE", ""),
    ("en", "Consultant to review on the ward round Weds 11th, Na 136.", "11th", "DATE", "Na 136"),
    ("en", "Going to Indonesia incl. Lombok in March, Hb 131.", "Lombok", "LOCATION", "Hb 131"),
    ("nb", "Planlegger å bestige Aconcagua neste år, Hb 15,2.", "Aconcagua", "LOCATION", "15,2"),
    ("nb", "Går daglig opp til Vettakollvarden med kona, BT 138/84.", "Vettakollvarden", "LOCATION", "138/84"),
    ("et", "Helistas tütrepoja Rasmusega, CRP 6.", "Rasmusega", "PERSON", "CRP 6"),
    ("et", "Palavik: 4.02 ja 18.02, mõlemal korral CRP tõusnud.", "4.02", "DATE", ""),
    ("fi", "Kirurgi Hyvärinen soitti, CRP 210.", "Hyvärinen", "PERSON", "CRP 210"),
    ("sv", "Påminnelse skickad.\nAss. Ilwad\n", "Ilwad", "PERSON", ""),
    ("nb", "Prøven sendt til Fürst for analyse, Hb 13,0.", "Fürst", "ORGANIZATION", "13,0"),
    # after part AE's blind run
    ("da", "Sognepræsten fra Vester Sogn kom forbi, BT 128/70.", "Vester Sogn", "LOCATION", "128/70"),
    ("en", "Twisted ankle while hiking near Galdhøpiggen, Na 140.", "Galdhøpiggen", "LOCATION", "Na 140"),
    ("et", "Märtsis treeninglaager Ramsaus, CRP 3.", "Ramsaus", "LOCATION", "CRP 3"),
    ("fi", "Oli lomalla Kolilla, kaatui portaissa, CRP 8.", "Kolilla", "LOCATION", "CRP 8"),
    ("en", "Key safe code changed, spoke to Marcia on the phone, BM 6.1.", "Marcia", "PERSON", "6.1"),
    (
        "en",
        "Seen at Kettering General Hospital, Majors cubicle 4.",
        "Kettering General Hospital",
        "ORGANIZATION",
        "Majors",
    ),
    ("en", "HMP Wayland healthcare, SystmOne entry.", "HMP Wayland", "ORGANIZATION", "SystmOne"),
    ("en", "Fell at home in Ludlow, brief LOC, no injury.", "Ludlow", "LOCATION", "LOC"),
]


@pytest.mark.parametrize(("lang", "text", "phi", "label", "distractor"), KINDS)
def test_session15_kinds(
    deidentifier: Deidentifier, lang: str, text: str, phi: str, label: str, distractor: str
) -> None:
    _check(deidentifier, lang, text, phi, label, distractor)


NOT_PHI: list[tuple[str, str]] = [
    # (lang, text): nothing in it is PHI
    ("fi", "Uusinta klo 08.10 laboratoriossa, CRP 14."),
    ("et", "Hb 12.05 g/dl, CRP 5.12, pH 7.12."),
    ("et", "Ema (45) on terve."),
    ("en", "Known MS since 2019.\nPlan: MS nurse review."),
    ("en", "Twisted his wrist playing football; no deformity."),
    ("sv", "Dosering 1/2 tablett, PK 2,5 idag."),
    ("en", "Police Scotland informed; no further action."),
    ("nb", "Reiser til Vietnam og Kambodsja neste år."),
    ("en", "Gait: Climbing Stairs test normal."),
]


@pytest.mark.parametrize(("lang", "text"), NOT_PHI)
def test_session15_not_phi(deidentifier: Deidentifier, lang: str, text: str) -> None:
    found = [(text[s.start : s.end], str(s.label)) for s in deidentifier.detect(text, lang)]
    assert found == [], found


@pytest.mark.parametrize(
    ("word", "role"),
    [("Qvist", False), ("Kvist", False), ("Dentist", True), ("Terapeut", True), ("läkare", True)],
)
def test_a_role_ending_needs_a_stem_with_a_vowel(word: str, role: bool) -> None:
    assert (role_regex().search(word) is not None) is role
