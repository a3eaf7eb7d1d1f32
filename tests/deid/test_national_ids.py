"""Table-driven tests of the five national-ID recognizers (calling ``recognizer.analyze`` directly), and the
checksums against python-stdnum as an independent oracle."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.ee import ik as stdnum_ee
from stdnum.no import fodselsnummer as stdnum_no

from deid.recognizers import (
    DkCprRecognizer,
    EeIsikukoodRecognizer,
    FiHenkilotunnusRecognizer,
    NoFodselsnummerRecognizer,
    SePersonnummerRecognizer,
    ee_isikukood,
    no_fodselsnummer,
)
from tests.deid.conftest import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fnr 12119616032 registrert", ["12119616032"]),
        ("fnr 121196 16032", ["121196 16032"]),
        ("D-nummer 52119616026.", ["52119616026"]),  # day + 40, both check digits recomputed
        ("fnr 12119616033", []),  # second check digit wrong
        ("fnr 12119616132", []),  # first check digit wrong
        ("nr 32139616032", []),  # not a date
        ("ordre 121196160321", []),  # 12 digits: part of a longer number
        ("Hb 12.3, 2019, G20", []),
    ],
)
def test_no_fodselsnummer(text: str, expected: list[str]) -> None:
    assert found(NoFodselsnummerRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pnr 811218-9876.", ["811218-9876"]),
        ("pnr 811218+9876", ["811218+9876"]),  # a centenarian's separator
        ("pnr 8112189876", ["8112189876"]),
        ("pnr 19811218-9876", ["19811218-9876"]),
        ("pnr 198112189876", ["198112189876"]),
        ("samordningsnummer 811278-9873", ["811278-9873"]),  # day + 60
        ("pnr 811218-9875", []),  # Luhn fails
        ("pnr 811318-9876", []),  # month 13
        ("tel 0701234567", []),
    ],
)
def test_se_personnummer(text: str, expected: list[str]) -> None:
    assert found(SePersonnummerRecognizer("sv"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("CPR 120324-1234", ["120324-1234"]),  # no mod-11 requirement
        ("cpr-nr. 1203241234", ["1203241234"]),  # without hyphen only after a cue
        ("ordre 1203241234", []),
        ("CPR 320199-1234", []),  # day 32
        ("CPR 290221-1234", []),  # 29 Feb 1921 did not exist
        ("CPR 290220-1234", ["290220-1234"]),  # 1920 was a leap year
    ],
)
def test_dk_cpr(text: str, expected: list[str]) -> None:
    assert found(DkCprRecognizer("da"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hetu 131052-308T", ["131052-308T"]),
        ("hetu 131052Y308T", ["131052Y308T"]),  # 2023 letters for the 1900s
        ("hetu 131052U308T", ["131052U308T"]),
        ("hetu 010105A123P", ["010105A123P"]),
        ("hetu 010105F123P", ["010105F123P"]),  # 2023 letters for the 2000s
        ("hetu 131052+308T", ["131052+308T"]),  # 1800s
        ("hetu 131052-308U", []),  # wrong check character
        ("hetu 131052G308T", []),  # not a century sign
        ("hetu 131052-001T", []),  # individual numbers start at 002
    ],
)
def test_fi_henkilotunnus(text: str, expected: list[str]) -> None:
    assert found(FiHenkilotunnusRecognizer("fi"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("isikukood 37605030299", ["37605030299"]),
        ("IK 49001011238.", ["49001011238"]),
        ("isikukood 37605030298", []),  # check digit wrong
        ("isikukood 97605030299", []),  # century digit 9 does not exist
        ("isikukood 37613030299", []),  # month 13
    ],
)
def test_ee_isikukood(text: str, expected: list[str]) -> None:
    assert found(EeIsikukoodRecognizer("et"), text) == expected


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=10**10, max_value=10**11 - 1))
def test_no_checksum_agrees_with_stdnum(n: int) -> None:
    number = str(n)
    if stdnum_no.is_valid(number):
        assert no_fodselsnummer.is_valid(number)
    if no_fodselsnummer.is_valid(number):  # stdnum also requires the century implied by the individual number
        assert no_fodselsnummer.check_digits(number[:9]) == number[9:]


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=10**10, max_value=9 * 10**10 - 1))
def test_ee_checksum_agrees_with_stdnum(n: int) -> None:
    number = str(n)
    assert ee_isikukood.is_valid(number) == stdnum_ee.is_valid(number)


def test_valid_numbers_from_generators_agree_with_stdnum() -> None:
    for first9 in ("121196160", "010190124", "311299500"):
        check = no_fodselsnummer.check_digits(first9)
        if check is not None:
            assert stdnum_no.is_valid(first9 + check) == no_fodselsnummer.is_valid(first9 + check)
