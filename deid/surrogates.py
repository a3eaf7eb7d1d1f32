"""Realistic replacements for each label, drawn from a random source seeded by the caller (see
:mod:`deid.operators`, which seeds it from the site secret, the patient and the original text, so the same name
becomes the same surrogate across one patient's notes).
"""

from __future__ import annotations

import datetime as dt
import random
from functools import cache

from stdnum.gb import nhs
from stdnum.ie import vat

from deid.dates import parse_one, render_like
from deid.labels import Label
from deid.lexicon import NORDIC_CITIES, _provider_attr
from deid.recognizers import dk_cpr, ee_isikukood, fi_henkilotunnus, no_fodselsnummer, se_personnummer

LOCALE_OF_LANGUAGE = {"en": "en_US", "nb": "no_NO", "sv": "sv_SE", "da": "da_DK", "fi": "fi_FI", "et": "et_EE"}
_HOSPITAL_FORMAT = {
    "en": "{city} General Hospital",
    "nb": "{city} sykehus",
    "sv": "{city} sjukhus",
    "da": "{city} Sygehus",
    "fi": "{city} sairaala",
    "et": "{city} Haigla",
}
_STREET_WORD = {"en": "Street", "nb": "gate", "sv": "vägen", "da": "vej", "fi": "katu", "et": "tänav"}


@cache
def _names(locale: str, kind: str) -> tuple[str, ...]:
    names = tuple(sorted(set(_provider_attr("person", locale, kind))))
    return names or tuple(sorted(set(_provider_attr("person", "en_US", kind))))


def _cased(new: str, old: str) -> str:
    return new.upper() if old.isupper() and len(old) > 1 else new


def person(rng: random.Random, original: str, lang: str) -> str:
    """A name from the note language's lists with as many words as the original (title words kept)."""
    locale = LOCALE_OF_LANGUAGE.get(lang, "en_US")
    words = original.split()
    if len(words) == 1:
        return _cased(rng.choice(_names(locale, "last_names")), original)
    given = [rng.choice(_names(locale, "first_names")) for _ in words[:-1]]
    return _cased(" ".join([*given, rng.choice(_names(locale, "last_names"))]), original)


def city(rng: random.Random) -> str:
    return rng.choice(NORDIC_CITIES)


def organization(rng: random.Random, lang: str) -> str:
    return _HOSPITAL_FORMAT.get(lang, _HOSPITAL_FORMAT["en"]).format(city=city(rng))


def address(rng: random.Random, original: str, lang: str) -> str:
    """A street and number; a postal code and town too when the original had them."""
    locale = LOCALE_OF_LANGUAGE.get(lang, "en_US")
    stem = rng.choice(_names(locale, "last_names"))
    word = _STREET_WORD.get(lang, "gate")
    street = f"{rng.randint(1, 999)} {stem} {word}" if lang == "en" else f"{stem}{word} {rng.randint(1, 150)}"
    has_postal = any(part.strip().replace(" ", "").isdigit() and len(part.strip()) >= 4 for part in original.split(","))
    if has_postal or sum(c.isdigit() for c in original) >= 5:
        digits = 5 if lang in ("sv", "fi", "et", "en") else 4
        street += f", {rng.randint(10 ** (digits - 1), 10**digits - 1)} {city(rng)}"
    return street


def digits_like(rng: random.Random, original: str) -> str:
    """Every digit replaced, the layout (separators, letters, a leading ``+NN``/``00NN`` country code) kept."""
    keep = 0
    for prefix in ("+358", "+372", "+47", "+46", "+45", "00358", "00372", "0047", "0046", "0045"):
        if original.startswith(prefix):
            keep = len(prefix)
            break
    out = [original[:keep]]
    for i, c in enumerate(original[keep:]):
        if c.isdigit() and i == 0:
            out.append(c if c == "0" else str(rng.randint(1, 9)))  # keep a trunk prefix 0; never add one
        elif c.isdigit():
            out.append(str(rng.randint(0, 9)))
        else:
            out.append(c)
    return "".join(out)


def infer_country(original: str) -> str:
    """The country whose identifier format ``original`` has, when no recognizer said."""
    compact = original.replace(" ", "")
    if len(compact) == 11 and compact[6:7] in fi_henkilotunnus.CENTURY_OF_SIGN and not compact.isdigit():
        return "fi"
    if len(compact) == 11 and compact.isdigit():
        return "no" if no_fodselsnummer.is_valid(compact) else "ee"
    if dk_cpr.is_valid(compact) and not se_personnummer.is_valid(compact):
        return "dk"
    return "se"


def national_id(rng: random.Random, original: str, country: str) -> str:
    """A checksum-valid number of the same country and written form, for a random birth date."""
    born = dt.date(1930, 1, 1) + dt.timedelta(days=rng.randint(0, 365 * 90))
    country = country or infer_country(original)
    compact = original.replace(" ", "")
    if country == "no":
        while True:
            first9 = born.strftime("%d%m%y") + f"{rng.randint(0, 499):03d}"
            check = no_fodselsnummer.check_digits(first9)
            if check is not None:
                return first9 + check
            born += dt.timedelta(days=1)
    if country == "ee":
        sex_century = 3 + (born.year >= 2000) * 2 + rng.randint(0, 1)
        first10 = f"{sex_century}{born.strftime('%y%m%d')}{rng.randint(0, 999):03d}"
        return first10 + str(ee_isikukood.check_digit(first10))
    if country == "fi":
        sign = original[6] if len(original) == 11 and original[6] in fi_henkilotunnus.CENTURY_OF_SIGN else "-"
        year = fi_henkilotunnus.CENTURY_OF_SIGN[sign] + born.year % 100
        born = born.replace(year=year) if not (born.month == 2 and born.day == 29) else born.replace(day=28, year=year)
        date6 = born.strftime("%d%m%y")
        individual = f"{rng.randint(2, 899):03d}"
        return f"{date6}{sign}{individual}{fi_henkilotunnus.check_char(date6, individual)}"
    if country == "ie":  # PPSN: seven digits, the check letter, and the original's second letter kept
        digits7 = f"{rng.randint(0, 9_999_999):07d}"
        second = compact[8:9].upper()
        check = vat.calc_check_digit(digits7 + second if second in ("A", "B", "H") else digits7)
        return f"{digits7}{check}{second}"
    if country == "gb":  # NHS/CHI/H&C: a birth date's six digits (as a CHI has), three more, the check digit
        while True:
            first9 = born.strftime("%d%m%y") + f"{rng.randint(0, 999):03d}"
            number = next((first9 + d for d in "0123456789" if nhs.is_valid(first9 + d)), None)
            if number is not None:  # none when the modulus-11 check would be 10
                return _in_layout(number, original)
            born += dt.timedelta(days=1)
    if country == "dk":
        serial = f"{rng.randint(0, 3)}{rng.randint(0, 999):03d}"
        sep = "-" if "-" in original else ""
        return f"{born.strftime('%d%m%y')}{sep}{serial}"
    # Swedish, keeping 10/12 digits and the separator
    first9 = born.strftime("%y%m%d") + f"{rng.randint(0, 999):03d}"
    number = first9 + str(se_personnummer.luhn_digit(first9))
    sep = next((c for c in original if c in "-+"), "")
    body = f"{number[:6]}{sep}{number[6:]}"
    return f"{born.year // 100}{body}" if len(compact.replace("-", "").replace("+", "")) == 12 else body


def _in_layout(digits: str, original: str) -> str:
    """``digits`` written with the original's separators where it had them (``943 476 5919``)."""
    it = iter(digits)
    return "".join(next(it) if c.isdigit() else c for c in original)


def shifted_date(original: str, shift_days: int) -> str | None:
    """The original date moved by ``shift_days``, written the same way; None if the text is not one date."""
    found = parse_one(original)
    if found is None:
        return None
    try:
        new = found.as_date() + dt.timedelta(days=shift_days)
    except OverflowError:
        return None
    if found.day is None:
        new = new.replace(day=1)
    return render_like(found, new)


def fixed_surrogate(label: Label, original: str, shift_days: int) -> str | None:
    """The replacement for a label that draws nothing at random (a shifted date, an age), else None: the caller
    need not seed a random source for it."""
    if label is Label.DATE:
        return shifted_date(original, shift_days) or "[DATE]"
    if label is Label.AGE:
        return "90"
    return None


def surrogate(rng: random.Random, label: Label, original: str, lang: str, country: str, shift_days: int) -> str:
    """A replacement for ``original`` of kind ``label``."""
    fixed = fixed_surrogate(label, original, shift_days)
    if fixed is not None:
        return fixed
    if label is Label.PERSON:
        return person(rng, original, lang)
    if label is Label.NATIONAL_ID:
        return national_id(rng, original, country)
    if label in (Label.PHONE, Label.ID):
        return digits_like(rng, original)
    if label is Label.EMAIL:
        locale = LOCALE_OF_LANGUAGE.get(lang, "en_US")
        return f"{rng.choice(_names(locale, 'first_names')).lower()}.{rng.randint(10, 99)}@example.org"
    if label is Label.URL:
        return f"https://www.example.org/{rng.randint(1000, 9999)}"
    if label is Label.IP:
        if ":" in original:
            return f"2001:db8::{rng.randint(1, 0xFFFF):x}"
        return f"{rng.choice(('192.0.2', '198.51.100', '203.0.113'))}.{rng.randint(1, 254)}"
    if label is Label.ADDRESS:
        return address(rng, original, lang)
    if label is Label.LOCATION:
        return city(rng)
    if label is Label.ORGANIZATION:
        return organization(rng, lang)
    return f"[{label}]"
