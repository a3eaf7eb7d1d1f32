"""The initial global model the coordinator starts from, and the wire format of weights.

Weights travel as ``dict[str, numpy.ndarray]`` (NVFlare serialises numpy natively and the site egress guard checks
names, shapes and dtypes); aggregation works on ``dict[str, torch.Tensor]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from fednode.errors import ConfigError


def build_initial_state(model_spec: str = "minilm", *, seed: int = 0) -> dict[str, torch.Tensor]:
    """The token-classification model every site starts from (``node.ml.ner``'s builder, same seed everywhere).

    ``model_spec``: ``"minilm"`` (bundled all-MiniLM-L6-v2), ``"tiny"`` (random 2-layer BERT for tests) or a local
    Hugging Face checkpoint folder.
    """
    from node.ml.ner.model import load_ner_model

    return load_ner_model(model_spec, seed=seed).state()


def to_wire(state: Mapping[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Torch tensors to numpy arrays for the task data."""
    return {k: v.detach().cpu().numpy() for k, v in state.items()}


def from_wire(params: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """Numpy arrays (or tensors) from a site's result to torch tensors."""
    out: dict[str, torch.Tensor] = {}
    for k, v in params.items():
        if isinstance(v, torch.Tensor):
            out[k] = v.detach().cpu()
        elif isinstance(v, np.ndarray):
            out[k] = torch.from_numpy(np.ascontiguousarray(v))
        else:
            raise ConfigError(f"parameter {k!r}: expected an array, got {type(v).__name__}")
    return out


def state_nbytes(state: Mapping[str, Any]) -> int:
    """Bytes of raw weight data in a state (tensors or arrays)."""
    total = 0
    for v in state.values():
        if isinstance(v, torch.Tensor):
            total += v.numel() * v.element_size()
        elif isinstance(v, np.ndarray):
            total += int(v.nbytes)
    return total
