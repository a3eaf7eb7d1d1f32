"""British NHS, CHI and Health and Care numbers: found after their cue when the modulus-11 check digit holds,
labelled NATIONAL_ID, replaced by a valid number written the same way. Cases written by hand."""

from __future__ import annotations

import random

import pytest
from stdnum.gb import nhs

from deid.engine import Deidentifier
from deid.labels import Label
from deid.recognizers.gb_health_number import GbHealthNumberRecognizer
from deid.surrogates import national_id


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("NHS no: 654 123 9878, seen in clinic.", "654 123 9878"),
        ("NHS Number 6541239878 on the referral.", "6541239878"),
        ("nhs no. 654-123-9878", "654-123-9878"),
        ("CHI 0912562811 (Lothian).", "0912562811"),
        ("CHI no. 091256 2811, GP Dr Reid.", "091256 2811"),
        ("H&C number 310 487 4409, Belfast Trust.", "310 487 4409"),
        ("HCN: 2205461230", "2205461230"),
    ],
)
def test_a_valid_number_after_its_cue_is_found(text: str, number: str) -> None:
    results = GbHealthNumberRecognizer().analyze(text, [])
    assert [text[r.start : r.end] for r in results] == [number]


@pytest.mark.parametrize(
    "text",
    [
        "NHS no: 654 123 9873 (transcription error).",  # check digit fails
        "CHI 0101425566 as written on the old letter.",  # check digit fails
        "Ring 654 123 9878 for results.",  # valid digits, no cue
        "NHS 111 advised A&E; NHS 24 called back.",  # services, not numbers
        "Hb 131, plt 240, NHS trust letter 4010232137-2.",  # part of a longer reference
    ],
)
def test_no_number_without_its_cue_a_valid_check_digit_or_its_own_end(text: str) -> None:
    assert GbHealthNumberRecognizer().analyze(text, []) == []


def test_the_engine_labels_it_a_national_id_and_keeps_a_distractor(deidentifier: Deidentifier) -> None:
    text = "NHS no 654 123 9878. Hb 118, MMSE 24/30."
    spans = deidentifier.detect(text, "en")
    assert [(text[s.start : s.end], s.label) for s in spans] == [("654 123 9878", Label.NATIONAL_ID)]


@pytest.mark.parametrize("original", ["654 123 9878", "6541239878", "091256 2811", "310-487-4409"])
def test_the_surrogate_is_a_valid_number_in_the_same_layout(original: str) -> None:
    for seed in range(20):
        new = national_id(random.Random(seed), original, "gb")
        assert nhs.is_valid(new.replace(" ", "").replace("-", ""))
        assert [c for c in new if not c.isdigit()] == [c for c in original if not c.isdigit()]
        assert len(new) == len(original) and new != original
