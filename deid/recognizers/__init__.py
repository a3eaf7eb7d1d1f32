"""The recognizers, one per file, and the registry that holds one instance of each per language."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from presidio_analyzer import EntityRecognizer, RecognizerRegistry

from deid.labels import LANGUAGES
from deid.recognizers.address import StreetAddressRecognizer
from deid.recognizers.age import AgeOver89Recognizer
from deid.recognizers.date import NordicDateRecognizer
from deid.recognizers.dk_cpr import DkCprRecognizer
from deid.recognizers.ee_isikukood import EeIsikukoodRecognizer
from deid.recognizers.email import EmailRecognizer
from deid.recognizers.fi_henkilotunnus import FiHenkilotunnusRecognizer
from deid.recognizers.gb_health_number import GbHealthNumberRecognizer
from deid.recognizers.ie_pps import IePpsRecognizer
from deid.recognizers.initials import SignatureInitialsRecognizer
from deid.recognizers.ip import IpRecognizer
from deid.recognizers.location import GazetteerLocationRecognizer
from deid.recognizers.no_fodselsnummer import NoFodselsnummerRecognizer
from deid.recognizers.organization import HospitalRecognizer
from deid.recognizers.person import NameListPersonRecognizer
from deid.recognizers.phone import NordicPhoneRecognizer
from deid.recognizers.postal_code import PostalCodeRecognizer
from deid.recognizers.record_number import RecordNumberRecognizer
from deid.recognizers.se_personnummer import SePersonnummerRecognizer
from deid.recognizers.spacy_ner import SpacyNerRecognizer
from deid.recognizers.url import UrlRecognizer

RecognizerFactory = Callable[..., EntityRecognizer]

RECOGNIZER_CLASSES: tuple[RecognizerFactory, ...] = (
    NoFodselsnummerRecognizer,
    SePersonnummerRecognizer,
    DkCprRecognizer,
    FiHenkilotunnusRecognizer,
    EeIsikukoodRecognizer,
    IePpsRecognizer,
    GbHealthNumberRecognizer,
    NordicPhoneRecognizer,
    EmailRecognizer,
    UrlRecognizer,
    IpRecognizer,
    StreetAddressRecognizer,
    PostalCodeRecognizer,
    NordicDateRecognizer,
    AgeOver89Recognizer,
    RecordNumberRecognizer,
    NameListPersonRecognizer,
    SignatureInitialsRecognizer,
    HospitalRecognizer,
    GazetteerLocationRecognizer,
)
"""Recognizers that need no model: registered for every language."""

MODEL_RECOGNIZERS: dict[str, tuple[RecognizerFactory, ...]] = {"en": (SpacyNerRecognizer,)}
"""Recognizers that read a trained pipeline's entities, per language that has one."""


def build_registry(languages: Sequence[str] = LANGUAGES, *, model_recognizers: bool = False) -> RecognizerRegistry:
    """A registry with every recognizer for every language (a Nordic note may carry any country's numbers), and
    with ``model_recognizers`` those of :data:`MODEL_RECOGNIZERS` too."""
    recognizers: list[EntityRecognizer] = []
    for lang in languages:
        recognizers.extend(cls(supported_language=lang) for cls in RECOGNIZER_CLASSES)
        if model_recognizers:
            recognizers.extend(cls(supported_language=lang) for cls in MODEL_RECOGNIZERS.get(lang, ()))
    for recognizer in recognizers:
        recognizer.load()
    return RecognizerRegistry(recognizers=recognizers, supported_languages=list(languages))


__all__ = [
    "MODEL_RECOGNIZERS",
    "RECOGNIZER_CLASSES",
    "AgeOver89Recognizer",
    "DkCprRecognizer",
    "EeIsikukoodRecognizer",
    "EmailRecognizer",
    "FiHenkilotunnusRecognizer",
    "GazetteerLocationRecognizer",
    "GbHealthNumberRecognizer",
    "HospitalRecognizer",
    "IePpsRecognizer",
    "IpRecognizer",
    "NameListPersonRecognizer",
    "NoFodselsnummerRecognizer",
    "NordicDateRecognizer",
    "NordicPhoneRecognizer",
    "PostalCodeRecognizer",
    "RecordNumberRecognizer",
    "SePersonnummerRecognizer",
    "SignatureInitialsRecognizer",
    "SpacyNerRecognizer",
    "StreetAddressRecognizer",
    "UrlRecognizer",
    "build_registry",
]
