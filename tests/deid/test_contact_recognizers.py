"""Table-driven tests: phones of the five countries, e-mail, URL, IP."""

from __future__ import annotations

import pytest

from deid.recognizers import EmailRecognizer, IpRecognizer, NordicPhoneRecognizer, UrlRecognizer
from tests.deid.conftest import found


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tlf 22 33 44 55.", ["22 33 44 55"]),  # Norway / Denmark 2-2-2-2
        ("ring 412 34 567", ["412 34 567"]),  # Norwegian mobile 3-2-3
        ("tlf: 22334455", ["22334455"]),  # 8 digits only after a cue
        ("+47 22 33 44 55", ["+47 22 33 44 55"]),
        ("004722334455", ["004722334455"]),
        ("08-123 456 78", ["08-123 456 78"]),  # Stockholm
        ("070-123 45 67", ["070-123 45 67"]),  # Swedish mobile
        ("+46 (0)8 080 636 08", ["+46 (0)8 080 636 08"]),
        ("+45 7783 5337", ["+45 7783 5337"]),
        ("puh 040 123 4567", ["040 123 4567"]),  # Finnish mobile
        ("(09) 123 4567", ["(09) 123 4567"]),
        ("+358 40 123 4567", ["+358 40 123 4567"]),
        ("+372 5123 4567", ["+372 5123 4567"]),  # Estonian mobile
        ("mobiil 5123 4567", ["5123 4567"]),
        ("kreatinin 123 µmol/L, 2019, 12.03.2024", []),
        ("ordrenr 22334455", []),  # 8 digits without a phone cue
    ],
)
def test_phone(text: str, expected: list[str]) -> None:
    assert found(NordicPhoneRecognizer("nb"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("skriv til ola.nordmann@helse-bergen.no.", ["ola.nordmann@helse-bergen.no"]),
        ("mejl pia68@example.net, tack", ["pia68@example.net"]),
        ("not an address: a@b, @home, x@y.", []),
    ],
)
def test_email(text: str, expected: list[str]) -> None:
    assert found(EmailRecognizer("sv"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("se https://journal.helse.no/p/123.", ["https://journal.helse.no/p/123"]),
        ("www.holm.no og mer", ["www.holm.no"]),
        ("http://olsen.dk/pasient?id=12", ["http://olsen.dk/pasient?id=12"]),
        ("e-post ola@helse.no", []),  # the domain of an e-mail is not a URL
        ("Hb 12.3 g/dL, N04BA02, e.g. this", []),
    ],
)
def test_url(text: str, expected: list[str]) -> None:
    assert found(UrlRecognizer("en"), text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fra 10.0.0.12 kl", ["10.0.0.12"]),
        ("from 2001:db8::1.", ["2001:db8::1"]),
        ("fe80:0:0:0:200:f8ff:fe21:67cf", ["fe80:0:0:0:200:f8ff:fe21:67cf"]),
        ("versjon 300.1.1.1, kl. 12:30:00", []),  # octet > 255; a clock time is not IPv6
    ],
)
def test_ip(text: str, expected: list[str]) -> None:
    assert found(IpRecognizer("nb"), text) == expected
