"""Label-aware sub-word handling: later pieces trained as I- continuations, first-piece decoding unchanged."""

from __future__ import annotations

import pytest
import torch

from node.ml.ner import EncodedDataset, NerExample, TrainConfig, encode, load_ner_model, train_local
from node.ml.ner.encoding import Encoded
from node.ml.ner.labels import IGNORE_INDEX, LABEL2ID
from node.ml.ner.subwords import continue_labels, relabel

O, B, I = (LABEL2ID[t] for t in ("O", "B-Disease", "I-Disease"))  # noqa: E741  # the tag's own letter


def test_continue_labels_on_a_hand_written_sentence() -> None:
    # [CLS] neuro ##blast ##oma in child ##hood [SEP]: "neuroblastoma" is B, "in" O, "childhood" O
    enc = Encoded(
        input_ids=(101, 1, 2, 3, 4, 5, 6, 102),
        labels=(IGNORE_INDEX, B, IGNORE_INDEX, IGNORE_INDEX, O, O, IGNORE_INDEX, IGNORE_INDEX),
        word_ids=(None, 0, 0, 0, 1, 2, 2, None),
        num_words=3,
    )
    out = continue_labels(enc)
    assert out.labels == (IGNORE_INDEX, B, I, I, O, O, O, IGNORE_INDEX)
    assert out.word_ids == enc.word_ids and out.input_ids == enc.input_ids


def test_continue_labels_with_the_real_tokenizer() -> None:
    model = load_ner_model("tiny", seed=0)
    ex = NerExample(("Familial", "adenomatous", "polyposis", "."), ("B-Disease", "I-Disease", "I-Disease", "O"))
    data = encode([ex], model.tokenizer)
    enc = relabel(data, "continue").encoded[0]
    pieces = model.tokenizer.convert_ids_to_tokens(list(enc.input_ids))
    for pos, (piece, w) in enumerate(zip(pieces, enc.word_ids, strict=True)):
        if w is None:
            assert enc.labels[pos] == IGNORE_INDEX
        elif pos > 0 and enc.word_ids[pos - 1] == w:
            assert piece.startswith("##") and enc.labels[pos] == I  # a later piece continues the mention
        else:
            assert enc.labels[pos] == LABEL2ID[ex.tags[w]]  # first piece: the word's own tag
    assert relabel(data, "first") is data
    with pytest.raises(ValueError):
        relabel(data, "every")


def test_continue_labelling_trains_the_later_pieces() -> None:
    model = load_ner_model("tiny", seed=0)
    ex = NerExample(("neuroblastoma", "in", "childhood"), ("B-Disease", "O", "O"))
    data: EncodedDataset = encode([ex], model.tokenizer)
    plain = train_local(model.state(), data, TrainConfig(lr=1e-2, max_steps=1), model=model)
    cont = train_local(model.state(), data, TrainConfig(lr=1e-2, max_steps=1, subword_labels="continue"), model=model)
    assert plain.metrics["train_loss"] != cont.metrics["train_loss"]  # more positions in the loss


def test_with_a_crf_continuation_labels_train_the_emissions_and_the_crf_stays_word_level() -> None:
    from node.ml.ner.train import _later_piece_loss

    labels = torch.tensor([[IGNORE_INDEX, B, I, I, O, IGNORE_INDEX]])
    words = torch.tensor([[IGNORE_INDEX, B, IGNORE_INDEX, IGNORE_INDEX, O, IGNORE_INDEX]])
    logits = torch.zeros(1, 6, 3, requires_grad=True)
    loss = _later_piece_loss(logits, labels, words)
    loss.backward()  # type: ignore[no-untyped-call]
    assert logits.grad is not None
    touched = [pos for pos in range(6) if float(logits.grad[0, pos].abs().sum()) > 0]
    assert touched == [2, 3]  # only the later pieces of the split word
    model = load_ner_model("tiny+crf", seed=0)
    ex = NerExample(("neuroblastoma", "in", "childhood"), ("B-Disease", "O", "O"))
    data = encode([ex], model.tokenizer)
    result = train_local(model.state(), data, TrainConfig(lr=1e-2, max_steps=1, subword_labels="continue"), model=model)
    assert float(result.update["crf.transitions"].abs().sum()) > 0
