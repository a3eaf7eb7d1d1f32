"""A linear-chain CRF output layer over the token-classification logits, with BIO transitions constrained.

The encoder's logits are the CRF's emission scores. The CRF adds three learned tensors, ``crf.transitions``
(``[L, L]``, from-tag x to-tag), ``crf.start_transitions`` and ``crf.end_transitions`` (``[L]``), registered on
the Hugging Face model as the submodule ``crf``: they are ordinary float32 entries of the model's state dict, so
federated aggregation averages them and the wire format carries them like every other weight. The BIO rules
(``I-X`` only after ``B-X`` or ``I-X``, never first) are a fixed, non-persistent mask that adds
:data:`FORBIDDEN` to disallowed transitions in both the likelihood and Viterbi decoding: a decoded path never
breaks them.

The CRF runs over the *labelled* positions of a sub-word sequence, packed to the left: the first sub-word of
each word, so it is a word-level CRF, trained and decoded (:func:`words_from_crf`) over the same positions. Under
``continue`` sub-word labelling the trainer keeps the CRF on the first pieces and trains the later pieces'
emissions with cross-entropy (:func:`node.ml.ner.train.train_local`).

Standard algorithm (Lafferty et al. 2001; the forward algorithm for the partition function, Viterbi for the
best path), written in torch here because no maintained CRF package is in the locked dependencies.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from node.ml.ner.labels import ID2LABEL, IGNORE_INDEX, LABELS

FORBIDDEN = -10_000.0
"""Score added to a transition the BIO scheme forbids (finite, so gradients stay finite)."""

CRF_ATTRIBUTE = "crf"
"""The submodule name on the model (state-dict keys ``crf.transitions``, ``crf.start_transitions``, ...)."""


def bio_constraints(labels: Sequence[str] = LABELS) -> tuple[torch.Tensor, torch.Tensor]:
    """``(allowed [L, L], allowed_start [L])`` for BIO tags: ``I-X`` follows only ``B-X``/``I-X`` and never starts."""
    n = len(labels)
    allowed = torch.ones((n, n), dtype=torch.bool)
    start = torch.ones(n, dtype=torch.bool)
    for j, to in enumerate(labels):
        if not to.startswith("I-"):
            continue
        start[j] = False
        kind = to[2:]
        for i, frm in enumerate(labels):
            allowed[i, j] = frm in (f"B-{kind}", f"I-{kind}")
    return allowed, start


class LinearChainCRF(nn.Module):
    """A linear-chain CRF with learned transition, start and end scores (initialised to zero).

    ``allowed``/``allowed_start`` (bool) mark the permitted transitions and first tags; the rest score
    :data:`FORBIDDEN`. All inputs are batch-first: emissions ``[B, T, L]``, tags ``[B, T]``, mask ``[B, T]``
    where each row's ``True`` positions form a prefix (see :func:`pack_labelled`).
    """

    def __init__(self, num_tags: int, allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))
        allowed = allowed if allowed is not None else torch.ones((num_tags, num_tags), dtype=torch.bool)
        allowed_start = allowed_start if allowed_start is not None else torch.ones(num_tags, dtype=torch.bool)
        # constants of the tag scheme, not weights: kept out of the state dict (nothing to send or average)
        self.register_buffer("transition_penalty", _penalty(allowed), persistent=False)
        self.register_buffer("start_penalty", _penalty(allowed_start), persistent=False)

    def _scores(self) -> tuple[torch.Tensor, torch.Tensor]:
        trans = self.transitions + self.get_buffer("transition_penalty")
        start = self.start_transitions + self.get_buffer("start_penalty")
        return trans, start

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``-log p(tags | emissions)`` per sequence (``[B]``); 0 for a row with no labelled position."""
        emissions = emissions.float()
        mask = mask.bool()
        return self._log_partition(emissions, mask) - self._path_score(emissions, tags, mask)

    def _path_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        trans, start = self._scores()
        t = emissions.shape[1]
        tags = tags.clamp_min(0)  # padded positions carry IGNORE_INDEX; they are masked out below
        m = mask.float()
        emit = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # [B, T]
        score = (start[tags[:, 0]] + emit[:, 0]) * m[:, 0]
        if t > 1:
            step = trans[tags[:, :-1], tags[:, 1:]] + emit[:, 1:]
            score = score + (step * m[:, 1:]).sum(dim=1)
        lengths = mask.long().sum(dim=1)
        last = tags.gather(1, (lengths - 1).clamp_min(0).unsqueeze(1)).squeeze(1)
        return score + self.end_transitions[last] * (lengths > 0).float()

    def _log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        trans, start = self._scores()
        alpha = start.unsqueeze(0) + emissions[:, 0]  # [B, L]
        for i in range(1, emissions.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0) + emissions[:, i].unsqueeze(1), dim=1)
            alpha = torch.where(mask[:, i].unsqueeze(1), nxt, alpha)
        log_z = torch.logsumexp(alpha + self.end_transitions.unsqueeze(0), dim=1)
        return log_z * mask[:, 0].float() if emissions.shape[1] else log_z

    @torch.no_grad()
    def viterbi(self, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
        """The highest-scoring tag path of each row, as long as its mask's prefix (empty rows give ``[]``)."""
        trans, start = self._scores()
        emissions = emissions.float()
        mask = mask.bool()
        b, t, _ = emissions.shape
        if t == 0:
            return [[] for _ in range(b)]
        score = start.unsqueeze(0) + emissions[:, 0]
        history: list[torch.Tensor] = []
        for i in range(1, t):
            best, idx = (score.unsqueeze(2) + trans.unsqueeze(0)).max(dim=1)  # over the previous tag
            history.append(idx)
            score = torch.where(mask[:, i].unsqueeze(1), best + emissions[:, i], score)
        score = score + self.end_transitions.unsqueeze(0)
        lengths = mask.long().sum(dim=1).tolist()
        paths: list[list[int]] = []
        for row in range(b):
            n = int(lengths[row])
            if n == 0:
                paths.append([])
                continue
            tag = int(score[row].argmax())
            path = [tag]
            for i in range(n - 2, -1, -1):
                tag = int(history[i][row, tag])
                path.append(tag)
            paths.append(path[::-1])
        return paths


def _penalty(allowed: torch.Tensor) -> torch.Tensor:
    return torch.where(allowed.bool(), torch.tensor(0.0), torch.tensor(FORBIDDEN))


def pack_labelled(emissions: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Move each row's labelled positions (``labels != IGNORE_INDEX``) to the front, order kept.

    Returns ``(emissions [B, T', L], tags [B, T'], mask [B, T'])`` with ``T'`` the most labelled positions in a row.
    """
    mask = labels != IGNORE_INDEX
    order = torch.argsort((~mask).to(torch.int8), dim=1, stable=True)
    width = max(int(mask.sum(dim=1).max()) if mask.numel() else 0, 1)
    order = order[:, :width]
    packed_mask = mask.gather(1, order)
    packed_tags = labels.gather(1, order)
    packed = emissions.gather(1, order.unsqueeze(-1).expand(-1, -1, emissions.shape[-1]))
    return packed, packed_tags, packed_mask


def crf_loss(crf: LinearChainCRF, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The CRF's negative log-likelihood summed over the batch, divided by the labelled positions.

    The same scale as the token-mean cross-entropy it replaces (so clipping and learning rates carry over).
    """
    emissions, tags, mask = pack_labelled(logits, labels)
    nll = crf.neg_log_likelihood(emissions, tags, mask)
    return nll.sum() / mask.sum().clamp_min(1).float()


def first_piece_positions(word_ids: Sequence[int | None]) -> list[int]:
    """Positions of the first sub-word of each word (special tokens skipped)."""
    out: list[int] = []
    previous: int | None = None
    for pos, w in enumerate(word_ids):
        if w is not None and w != previous:
            out.append(pos)
        previous = w
    return out


def words_from_crf(
    crf: LinearChainCRF, logits: torch.Tensor, word_ids: Sequence[int | None], num_words: int
) -> tuple[str, ...]:
    """One tag per word: Viterbi over the first sub-word of each word; words lost to truncation are ``O``."""
    tags = ["O"] * num_words
    positions = [p for p in first_piece_positions(word_ids) if p < logits.shape[0]]
    if not positions:
        return tuple(tags)
    emissions = logits[positions].unsqueeze(0).to(crf.transitions.device)
    path = crf.viterbi(emissions, torch.ones((1, len(positions)), dtype=torch.bool))[0]
    for pos, tag in zip(positions, path, strict=True):
        w = word_ids[pos]
        assert w is not None
        tags[w] = ID2LABEL[tag]
    return tuple(tags)


def crf_of(net: Any) -> LinearChainCRF | None:
    """The CRF layer attached to ``net``, or None (a plain softmax head)."""
    crf = getattr(net, CRF_ATTRIBUTE, None)
    return crf if isinstance(crf, LinearChainCRF) else None


def attach_crf(net: nn.Module, labels: Sequence[str] = LABELS) -> LinearChainCRF:
    """Add a BIO-constrained CRF to ``net`` as its ``crf`` submodule (in its state dict from then on)."""
    allowed, start = bio_constraints(labels)
    crf = LinearChainCRF(len(labels), allowed, start)
    setattr(net, CRF_ATTRIBUTE, crf)  # nn.Module.__setattr__ registers the submodule
    return crf


__all__ = [
    "CRF_ATTRIBUTE",
    "FORBIDDEN",
    "LinearChainCRF",
    "attach_crf",
    "bio_constraints",
    "crf_loss",
    "crf_of",
    "first_piece_positions",
    "pack_labelled",
    "words_from_crf",
]
