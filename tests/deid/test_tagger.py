"""The learned tagger: tokens and tags, training and loading a model with its card, the plausibility checks,
and how its spans join the rules' (only where the rules found nothing). Cases written by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deid.engine import Deidentifier
from deid.labels import Label
from deid.resolve import adopt_organizations, fill_gaps
from deid.spans import PhiSpan
from deid.tagger import SpanTagger, TaggedSpan
from deid.tagger.checks import plausible
from deid.tagger.model import read_card
from deid.tagger.tokens import bio_tags, spans_of, tokenize
from deid.tagger.train import train
from fednode.errors import ConfigError, DeidModelError, NoteInputError


def test_tokens_keep_initials_and_offsets_and_split_a_sentence_stop() -> None:
    text = "Signert K. Nygaard-Lie, Dr. Ek. Bor i Mo."
    tokens = tokenize(text)
    assert [t.text for t in tokens] == [
        "Signert", "K.", "Nygaard-Lie", ",", "Dr.", "Ek.", "Bor", "i", "Mo."
    ]  # fmt: skip
    assert all(text[t.start : t.end] == t.text for t in tokens)
    long_word = tokenize("Innlagt på Haukeland.")
    assert [t.text for t in long_word][-2:] == ["Haukeland", "."]


def test_bio_tags_follow_the_first_character_of_each_token() -> None:
    text = "Pasient: Hansen, Kari bor i Storgata 4 B."
    tokens = tokenize(text)
    spans = [(9, 21, "PERSON"), (text.index("Storgata"), text.index(" B.") + 2, "ADDRESS")]
    tags = bio_tags(tokens, spans)
    assert list(zip([t.text for t in tokens], tags, strict=True)) == [
        ("Pasient", "O"),
        (":", "O"),
        ("Hansen", "B-PERSON"),
        (",", "I-PERSON"),
        ("Kari", "I-PERSON"),
        ("bor", "O"),
        ("i", "O"),
        ("Storgata", "B-ADDRESS"),
        ("4", "I-ADDRESS"),
        ("B.", "I-ADDRESS"),
    ]  # fmt: skip  (a one-letter word keeps a full stop after it, as an initial does)


def test_spans_of_joins_a_run_and_starts_anew_on_another_label() -> None:
    tokens = tokenize("Ola Nordmann Bergen sentrum")
    tags = ["B-PERSON", "I-PERSON", "I-LOCATION", "O"]
    assert spans_of(tokens, tags, [0.9, 0.7, 0.6, 0.99]) == [(0, 12, "PERSON", 0.7), (13, 19, "LOCATION", 0.6)]


def _record(text: str, *marked: tuple[str, str]) -> dict[str, object]:
    phi = [{"start": text.index(s), "end": text.index(s) + len(s), "label": label} for s, label in marked]
    return {"text": text, "lang": "nb", "phi": phi}


TRAINING = [
    _record("Arbeider hos Fjordkraft Vest som montør.", ("Fjordkraft Vest", "ORGANIZATION")),
    _record("Arbeider hos Brattli Bygg som snekker.", ("Brattli Bygg", "ORGANIZATION")),
    _record("Arbeider hos Kvamme Transport som sjåfør.", ("Kvamme Transport", "ORGANIZATION")),
    _record("Arbeider hos Haugen Elektro som lærling.", ("Haugen Elektro", "ORGANIZATION")),
    _record(
        "Hb 12,1 og CRP 4 i dag.",
    ),
    _record(
        "Paracet 1 g ved behov.",
    ),
]


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = tmp_path_factory.mktemp("tagger") / "small.crfsuite"
    records = [(f"train.jsonl:{i}", r) for i, r in enumerate(TRAINING, start=1)]
    train(records * 5, model, threshold=0.5, trained_on={"train": len(TRAINING)}, params={"max_iterations": 60})
    return model


def test_a_trained_model_finds_an_unseen_company_in_a_learned_context(small_model: Path) -> None:
    text = "Arbeider hos Solheim Rør som rørlegger."
    spans = SpanTagger(small_model).spans(text, "nb")
    assert [(text[s.start : s.end], s.label) for s in spans] == [("Solheim Rør", Label.ORGANIZATION)]
    assert 0.5 <= spans[0].probability <= 1.0
    assert SpanTagger(small_model).spans("Hb 11,9 og CRP 7.", "nb") == []


def test_leaving_out_unweighted_features_changes_nothing(small_model: Path) -> None:
    tagger = SpanTagger(small_model)
    texts = ["Arbeider hos Solheim Rør som rørlegger.", "Hb 11,9 og CRP 7.\nArbeider hos Vik Bygg."]
    filtered = [tagger.spans(t, "nb") for t in texts]
    tagger._known = None  # every feature handed to CRFsuite, as in training
    assert [tagger.spans(t, "nb") for t in texts] == filtered
    assert any(filtered)


def test_the_card_names_what_went_in_and_guards_the_model(small_model: Path, tmp_path: Path) -> None:
    card = read_card(small_model)
    assert card["trained_on"] == {"train": 6} and card["notes"] == 30 and card["threshold"] == 0.5
    copy = tmp_path / "copy.crfsuite"
    copy.write_bytes(small_model.read_bytes() + b"\0")
    copy.with_suffix(".json").write_text(json.dumps(card), encoding="utf-8")
    with pytest.raises(DeidModelError, match="digest differs"):
        read_card(copy)
    copy.write_bytes(small_model.read_bytes())
    copy.with_suffix(".json").write_text(json.dumps(card | {"feature_version": 0}), encoding="utf-8")
    with pytest.raises(DeidModelError, match="feature_version"):
        read_card(copy)
    copy.with_suffix(".json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DeidModelError, match=r"copy\.json"):
        read_card(copy)


def test_a_bad_model_file_or_threshold_is_refused(small_model: Path, tmp_path: Path) -> None:
    junk = tmp_path / "junk.crfsuite"
    junk.write_bytes(b"not a model")
    with pytest.raises(DeidModelError, match=r"junk\.crfsuite"):
        SpanTagger(junk)
    with pytest.raises(ConfigError, match="threshold"):
        SpanTagger(small_model, threshold=0.0)


def test_training_refuses_a_span_outside_its_text_naming_the_record(tmp_path: Path) -> None:
    bad = {"text": "Kort.", "lang": "nb", "phi": [{"start": 2, "end": 40, "label": "PERSON"}]}
    with pytest.raises(NoteInputError, match=r"gold\.jsonl:7"):
        train([("gold.jsonl:7", bad)], tmp_path / "m.crfsuite", threshold=0.5, trained_on={})
    assert not (tmp_path / "m.crfsuite").exists()


@pytest.mark.parametrize(
    ("text", "piece", "label", "kept"),
    [
        ("Hun er 93 år og bor alene.", "93", Label.AGE, True),
        ("Vekt 92,5 kg ved innleggelse.", "92", Label.AGE, False),
        ("Saturasjon 95 % på romluft.", "95", Label.AGE, False),
        ("Hb 112 (95) forrige måned.", "95", Label.AGE, False),
        ("Alder 47 år.", "47", Label.AGE, False),
        ("Henvisning nr 2418803 mottatt.", "2418803", Label.ID, True),
        ("Nr 811218-9875 avvisat.", "811218", Label.ID, False),
        ("Invalid 1234567A stays.", "1234567", Label.ID, False),
        ("Reiser til Ruotsissa ensi viikolla.", "Ruotsissa", Label.LOCATION, False),
        ("Started in January, seen again in March.", "January", Label.LOCATION, False),
        ("Kommer tilbake mandag.", "mandag", Label.PERSON, False),
        ("Intyg begärt från Försäkringskassan.", "Försäkringskassan", Label.ORGANIZATION, False),
        ("Kjent Parkinsons sykdom.", "Parkinsons", Label.PERSON, False),
        ("a Borjeson - Forssman - Lehmann syndrome region", "Forssman - Lehmann", Label.ORGANIZATION, False),
        ("a Norwegian kindred with adenomatous polyposis", "Norwegian", Label.LOCATION, False),
        ("reduced uptake of Tf by 33 %", "Tf", Label.LOCATION, False),
        ("Dialyse: Kt/V 1,4, tørvekt 62,5 kg", "Kt/V 1,4, tørvekt 62,5 kg", Label.ADDRESS, False),
        ("Bor i Skogveien 12 B, 2. etg.", "Skogveien 12 B", Label.ADDRESS, True),
        ("HLA A2 , B5 , DRw4 typed", "A2 , B5 , DRw4", Label.ADDRESS, False),
        ("Jobber på Lerøy Sjømat.", "Lerøy Sjømat", Label.ORGANIZATION, True),
        ("Hb 12. Innlagt på sykehuset.", "Innlagt på sykehuset", Label.ORGANIZATION, False),
        ("Prøver sendt til Fürst i dag.", "Fürst", Label.ORGANIZATION, True),
        ("Referred from Rheumatology for review.", "Rheumatology", Label.LOCATION, False),
        ("Seen by the Stroke Unit; the Memory Service will write.", "Memory Service", Label.ORGANIZATION, False),
        ("Seen at Ashford Memory Service.", "Ashford Memory Service", Label.ORGANIZATION, True),
        ("such as Denys - Drash syndrome ( DDS )", "Denys -", Label.ORGANIZATION, False),
        ("Regards, L. Osei, Specialist Registrar", "Specialist Registrar", Label.PERSON, False),
        ("Sykepleier Kari Nes ringte.", "Kari Nes", Label.PERSON, True),
    ],
)
def test_plausibility_checks(text: str, piece: str, label: Label, kept: bool) -> None:
    start = text.index(piece)
    assert plausible(text, TaggedSpan(start, start + len(piece), label, 0.9)) is kept


def test_fill_gaps_keeps_the_rules_spans_and_adds_only_where_they_found_nothing() -> None:
    text = "Sett på Akutten, Drammen. Jobber på Lerøy Sjømat. Vekt 92,5 kg."
    rules = [PhiSpan(17, 24, Label.ORGANIZATION, 0.8)]
    tagged = [
        TaggedSpan(8, 24, Label.LOCATION, 0.9),  # overlaps the rules' span: the rules' span stands
        TaggedSpan(36, 48, Label.ORGANIZATION, 0.7),  # nothing there: added
        TaggedSpan(55, 57, Label.AGE, 0.8),  # a weight: implausible
        TaggedSpan(0, 4, Label.DATE, 0.9),  # not a label the tagger is trusted with
    ]
    assert fill_gaps(rules, tagged, text) == [rules[0], PhiSpan(36, 48, Label.ORGANIZATION, 0.7)]


def _span(text: str, phrase: str, label: Label, probability: float | None = None) -> PhiSpan | TaggedSpan:
    start = text.index(phrase)
    if probability is None:
        return PhiSpan(start, start + len(phrase), label, 0.6)
    return TaggedSpan(start, start + len(phrase), label, probability)


ADOPTED = [
    # (text, the rule's span, its label, the tagger's organisation, its probability, the span after, its label)
    ("Arbeider i Linde Healthcare.", "Linde Healthcare", "PERSON", "Linde Healthcare", 0.9, "Linde Healthcare",
     "ORGANIZATION"),
    ("Tatovert hos Blekk & Nål i fjor.", "Blekk", "PERSON", "Blekk & Nål", 0.95, "Blekk & Nål", "ORGANIZATION"),
    ("Toodi Tartu Kiirabi poolt.", "Tartu", "LOCATION", "Tartu Kiirabi", 0.9, "Tartu Kiirabi", "ORGANIZATION"),
    # a town joined by a preposition keeps its label; so does a town the tagger calls an organisation alone
    ("Går på Kronobergsgymnasiet i Växjö.", "Växjö", "LOCATION", "Kronobergsgymnasiet i Växjö", 0.95, "Växjö",
     "LOCATION"),
    ("Elab Viljandis tütre juures.", "Viljandis", "LOCATION", "Viljandis", 0.9, "Viljandis", "LOCATION"),
    # not sure enough: the rule's reading stands
    ("Arbeider i Linde Healthcare.", "Linde Healthcare", "PERSON", "Linde Healthcare", 0.85, "Linde Healthcare",
     "PERSON"),
    # a date inside a tagged organisation is no name to relabel
    ("Møte 12.3. Vestland.", "12.3.", "DATE", "12.3. Vestland", 0.9, "12.3.", "DATE"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "rule", "label", "org", "probability", "after", "after_label"), ADOPTED)
def test_a_name_the_tagger_reads_as_an_organisation_is_labelled_one(
    text: str, rule: str, label: str, org: str, probability: float, after: str, after_label: str
) -> None:
    rules = [_span(text, rule, Label(label))]
    tagged = [_span(text, org, Label.ORGANIZATION, probability)]
    (span,) = adopt_organizations(rules, tagged, text)  # type: ignore[arg-type]
    assert (text[span.start : span.end], str(span.label)) == (after, after_label)


def test_a_name_beside_another_span_keeps_its_boundaries_when_relabelled() -> None:
    text = "Hos Blekk & Nål Tattoo."
    rules = [_span(text, "Blekk", Label.PERSON), _span(text, "Nål", Label.PERSON)]
    tagged = [_span(text, "Blekk & Nål Tattoo", Label.ORGANIZATION, 0.9)]
    out = adopt_organizations(rules, tagged, text)  # type: ignore[arg-type]
    assert [(text[s.start : s.end], str(s.label)) for s in out] == [("Blekk", "ORGANIZATION"), ("Nål", "ORGANIZATION")]


GAPS = [
    # written by hand: names, laboratories and references with no cue word or list entry the rules know
    ("nb", "Dattera Synnøve hjelper med innkjøp.", "Synnøve"),
    ("sv", "Nyckelnr RB-3307 finns hos hemtjänsten.", "RB-3307"),
]


@pytest.mark.parametrize(("lang", "text", "phi"), GAPS)
def test_the_shipped_tagger_fills_what_the_rules_miss(
    deidentifier: Deidentifier, rules_deidentifier: Deidentifier, lang: str, text: str, phi: str
) -> None:
    start = text.index(phi)
    covered = lambda spans: any(s.start <= start and s.end >= start + len(phi) for s in spans)  # noqa: E731
    assert not covered(rules_deidentifier.detect(text, lang))
    assert covered(deidentifier.detect(text, lang))
