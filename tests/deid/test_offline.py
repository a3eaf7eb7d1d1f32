"""The whole pipeline runs with sockets disabled: building the engine and de-identifying every language."""

from __future__ import annotations

import socket

import pytest

from deid.engine import Deidentifier

TEXTS = {
    "en": "Dr. Rachel Davis saw John Smith at Massachusetts General Hospital; email john@example.org.",
    "nb": "Overlege Kari Hansen, fnr 12119616032, ola@helse.no, www.helse-bergen.no.",
    "sv": "Sjuksköterska Lisa Berg, pnr 811218-9876, anna@region.se.",
    "da": "Overlæge Hansen, CPR 120324-1234, Rigshospitalet.",
    "fi": "Lääkäri Virtanen, hetu 131052-308T, puh 040 123 4567.",
    "et": "Arst Tamm, isikukood 37605030299, Tartu Ülikooli Kliinikum.",
}


class _NoNetwork(socket.socket):
    def __init__(self, *args: object, **kwargs: object) -> None:
        raise OSError("network access attempted during de-identification")


def test_pipeline_with_sockets_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "socket", _NoNetwork)
    monkeypatch.setattr(socket, "create_connection", _NoNetwork)
    engine = Deidentifier(key=b"k" * 32)  # a fresh build: spaCy load, registry, name lists
    for lang, text in TEXTS.items():
        result = engine.deidentify(text, lang, "p1")
        assert result.phi, lang
        assert result.text != text
    with pytest.raises(OSError, match="network access attempted"):
        socket.socket()
