"""In-domain masked-language-model adaptation of the encoder before NER fine-tuning.

The encoder keeps training on its pre-training task (predict masked sub-words) over the *unlabelled* NCBI-disease
sentences of the training and development files (never the test file), and the adapted encoder is saved as a
local checkpoint folder that :func:`node.ml.ner.model.load_ner_model` loads like any other. Masking follows BERT:
``mask_prob`` of the ordinary tokens are chosen (never ``[CLS]``, ``[SEP]`` or padding), 80 % of them become
``[MASK]``, 10 % a random token, 10 % stay; the loss counts the chosen positions only (the vocabulary projection
runs on those alone, which keeps it affordable on a CPU).

The checkpoint lands in ``cache_dir/<key>/`` where the key digests the base folder's weights, the corpus and the
settings: a second call with the same inputs reuses it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from fednode.errors import ConfigError, NerDataError
from node.ml.ner.data import read_conll
from node.ml.ner.schedule import linear_schedule, warmup_steps

log = logging.getLogger("fednode.node.ml.ner.adapt")

CORPUS_FILES: tuple[str, ...] = ("train.tsv", "devel.tsv")
"""The files whose words (not tags) adaptation reads; the test file is never one of them."""

DONE = "adapt.json"
"""Written last into a finished checkpoint folder (settings, corpus size, loss); its presence marks it complete."""


@dataclass(frozen=True)
class AdaptConfig:
    """MLM settings: optimizer steps, batch size, peak learning rate (linear warm-up and decay), mask rate."""

    steps: int = 200
    batch_size: int = 32
    lr: float = 5e-5
    mask_prob: float = 0.15
    warmup_ratio: float = 0.06
    seed: int = 0
    max_length: int = 128

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch_size < 1 or self.lr <= 0 or not 0 < self.mask_prob < 1:
            raise ConfigError("adaptation needs steps and batch_size >= 1, lr > 0 and 0 < mask_prob < 1")


def corpus_sentences(data_dir: Path) -> list[list[str]]:
    """The words of every training and development sentence (tags dropped)."""
    sentences: list[list[str]] = []
    for name in CORPUS_FILES:
        sentences.extend(list(ex.tokens) for ex in read_conll(data_dir / name))
    if not sentences:
        raise NerDataError("no sentences to adapt on", file=str(data_dir))
    return sentences


def mask_tokens(
    input_ids: torch.Tensor,
    special: torch.Tensor,
    *,
    mask_token_id: int,
    vocab_size: int,
    mask_prob: float,
    generator: torch.Generator,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT masking: ``(masked input ids, labels)``; labels are -100 except at the chosen positions.

    ``special`` (bool, same shape) marks special tokens and padding, which are never chosen nor changed.
    """
    chosen = (torch.rand(input_ids.shape, generator=generator) < mask_prob) & ~special
    labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
    roll = torch.rand(input_ids.shape, generator=generator)
    masked = input_ids.clone()
    masked[chosen & (roll < 0.8)] = mask_token_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    masked[swap] = torch.randint(vocab_size, input_ids.shape, generator=generator)[swap]
    return masked, labels


def _folder_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(f"{path.relative_to(folder).as_posix()}\0{path.stat().st_size}\0".encode())
        if path.suffix in (".safetensors", ".bin", ".json", ".txt"):
            h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def cache_key(base_dir: Path, data_dir: Path, config: AdaptConfig) -> str:
    """A digest of the base checkpoint, the corpus files and the settings."""
    h = hashlib.sha256(_folder_digest(base_dir).encode())
    for name in CORPUS_FILES:
        h.update(hashlib.sha256((data_dir / name).read_bytes()).digest())
    h.update(json.dumps(asdict(config), sort_keys=True).encode())
    return h.hexdigest()[:16]


def _batches(sentences: Sequence[list[str]], config: AdaptConfig, gen: torch.Generator) -> Any:
    while True:
        order = torch.randperm(len(sentences), generator=gen).tolist()
        for i in range(0, len(order) - config.batch_size + 1, config.batch_size):
            yield [sentences[j] for j in order[i : i + config.batch_size]]


def adapt_encoder(base_dir: Path, data_dir: Path, cache_dir: Path, config: AdaptConfig, *, device: str = "cpu") -> Path:
    """Adapt the encoder in ``base_dir`` on ``data_dir``'s train+devel words; return the checkpoint folder.

    Reuses ``cache_dir/<cache_key>/`` when it is complete; otherwise trains and writes it (via a temporary
    folder renamed into place, so a cut-off run leaves nothing that looks finished).
    """
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    if not base_dir.is_dir():
        raise ConfigError(f"model folder not found: {base_dir}")
    target = cache_dir / cache_key(base_dir, data_dir, config)
    if (target / DONE).is_file():
        log.info("ner.adapt_reused folder=%s", target.name)
        return target
    sentences = corpus_sentences(data_dir)
    started = time.perf_counter()
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    tokenizer = AutoTokenizer.from_pretrained(str(base_dir), local_files_only=True)
    net: Any = AutoModelForMaskedLM.from_pretrained(str(base_dir), local_files_only=True, dtype=torch.float32)
    dev = torch.device(device)
    net.to(dev).train()
    optimizer = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=0.01)
    scheduler = linear_schedule(optimizer, config.steps, warmup_steps(config.steps, config.warmup_ratio))
    losses: list[float] = []
    batches = _batches(sentences, config, gen)
    for _ in range(config.steps):
        enc = tokenizer(
            next(batches),
            is_split_into_words=True,
            truncation=True,
            max_length=config.max_length,
            padding=True,
            return_special_tokens_mask=True,
            return_tensors="pt",
        )
        special = enc["special_tokens_mask"].bool() | (enc["attention_mask"] == 0)
        ids, labels = mask_tokens(
            enc["input_ids"],
            special,
            mask_token_id=int(tokenizer.mask_token_id),
            vocab_size=len(tokenizer),
            mask_prob=config.mask_prob,
            generator=gen,
        )
        ids, labels, attention = ids.to(dev), labels.to(dev), enc["attention_mask"].to(dev)
        hidden = net.base_model(input_ids=ids, attention_mask=attention).last_hidden_state
        chosen = labels != -100
        if not bool(chosen.any()):
            continue
        logits = net.cls(hidden[chosen])  # the vocabulary projection on the chosen positions only
        loss = torch.nn.functional.cross_entropy(logits.float(), labels[chosen])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]  # torch stub
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        losses.append(float(loss.detach()))
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".adapt-", dir=cache_dir))
    try:
        net.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        k = max(1, len(losses) // 10)
        head, tail = _mean(losses[:k]), _mean(losses[-k:])
        facts = {
            "config": asdict(config),
            "base": base_dir.name,
            "corpus_files": list(CORPUS_FILES),
            "sentences": len(sentences),
            "first_loss": head,
            "last_loss": tail,
            "seconds": time.perf_counter() - started,
        }
        (tmp / DONE).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("ner.adapted steps=%d loss=%.3f->%.3f folder=%s", config.steps, head, tail, target.name)
    return target


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def adapt_facts(folder: Path) -> dict[str, Any]:
    """What :func:`adapt_encoder` recorded about a finished checkpoint."""
    data: dict[str, Any] = json.loads((folder / DONE).read_text(encoding="utf-8"))
    return data


__all__ = [
    "CORPUS_FILES",
    "AdaptConfig",
    "adapt_encoder",
    "adapt_facts",
    "cache_key",
    "corpus_sentences",
    "mask_tokens",
]
