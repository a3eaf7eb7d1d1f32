"""The PHI labels deid emits, and the languages it knows."""

from __future__ import annotations

from enum import StrEnum


class Label(StrEnum):
    """A kind of protected health information. Every detected span carries exactly one."""

    PERSON = "PERSON"
    NATIONAL_ID = "NATIONAL_ID"
    PHONE = "PHONE"
    EMAIL = "EMAIL"
    URL = "URL"
    IP = "IP"
    ADDRESS = "ADDRESS"
    LOCATION = "LOCATION"
    DATE = "DATE"
    AGE = "AGE"
    ID = "ID"
    ORGANIZATION = "ORGANIZATION"


LABEL_TITLES: dict[str, str] = {
    Label.PERSON: "names",
    Label.NATIONAL_ID: "national ID numbers",
    Label.PHONE: "phone numbers",
    Label.EMAIL: "e-mail addresses",
    Label.URL: "web addresses",
    Label.IP: "IP addresses",
    Label.ADDRESS: "street addresses",
    Label.LOCATION: "places",
    Label.DATE: "dates",
    Label.AGE: "ages over 89",
    Label.ID: "record numbers",
    Label.ORGANIZATION: "organisations",
}
"""What a person reads for each label in summaries (the CLI, the dashboard)."""


def label_title(label: str) -> str:
    """The readable name of ``label`` (an unknown label is shown lower-cased, underscores as spaces)."""
    return LABEL_TITLES.get(label, label.replace("_", " ").lower())


LANGUAGES: tuple[str, ...] = ("en", "nb", "sv", "da", "fi", "et")
"""Presidio/spaCy language codes deid de-identifies. Norwegian is ``nb`` (spaCy's code)."""

_ALIASES = {"no": "nb", "nn": "nb", "nob": "nb", "nor": "nb", "swe": "sv", "dan": "da", "fin": "fi", "est": "et"}

COUNTRY_OF_LANGUAGE: dict[str, str] = {"nb": "no", "sv": "se", "da": "dk", "fi": "fi", "et": "ee", "en": ""}
"""The country whose identifiers a note in that language most likely carries (for conflict resolution)."""


def normalise_language(code: str | None, default: str) -> str | None:
    """The supported language code for ``code`` (``no`` -> ``nb``, ``sv-SE`` -> ``sv``), or None if unknown."""
    raw = (code or default).strip().lower().replace("_", "-")
    base = raw.split("-", 1)[0]
    base = _ALIASES.get(base, base)
    return base if base in LANGUAGES else None
