"""Courts, police districts and prosecutors named with their generic noun, in each language (written by hand)."""

from __future__ import annotations

import pytest

from deid.engine import Deidentifier

CASES = [
    ("nb", "Begjæring fra Hordaland tingrett om sakkyndig vurdering.", "Hordaland tingrett"),
    ("nb", "Kopi til Innlandet politidistrikt etter avtale.", "Innlandet politidistrikt"),
    ("sv", "Kallad till Uppsala tingsrätt 4/11 som vittne.", "Uppsala tingsrätt"),
    ("sv", "Begäran från Polisregion Syd om rättsintyg.", "Polisregion Syd"),
    ("da", "Mentalundersøgelse bestilt af Midt- og Vestsjællands Politikreds.", "Midt- og Vestsjællands Politikreds"),
    ("fi", "Lausuntopyyntö saapui Pohjois-Savon käräjäoikeudelta.", "Pohjois-Savon käräjäoikeudelta"),
    ("fi", "Länsi-Uudenmaan poliisilaitos pyysi virka-apua.", "Länsi-Uudenmaan poliisilaitos"),
    ("et", "Tartu Maakohtu määrusega suunatud ekspertiisile.", "Tartu Maakohtu"),
    ("et", "Ida Prefektuur palus arvamust.", "Ida Prefektuur"),
]


@pytest.mark.parametrize(("lang", "text", "phi"), CASES)
def test_a_court_or_police_district_is_an_organisation(
    rules_deidentifier: Deidentifier, lang: str, text: str, phi: str
) -> None:
    start = text.index(phi)
    spans = rules_deidentifier.detect(text, lang)
    assert any(s.start <= start and s.end >= start + len(phi) for s in spans), [text[s.start : s.end] for s in spans]


def test_an_obligation_is_no_court(rules_deidentifier: Deidentifier) -> None:
    text = "Patsiendil on kohustus teatada muutustest. Hb 121."
    assert rules_deidentifier.detect(text, "et") == []
