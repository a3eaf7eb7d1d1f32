"""The in-process federation's wire format: safetensors bytes, zero-copy views, buffers reused across rounds."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load, save

from fednode.errors import AggregationInputError
from node.ml.experiments.wire import WireBuffer, unpack


def _state() -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return {
        "encoder.weight": torch.randn(4, 6, generator=gen),
        "position_ids": torch.arange(7),
        "half": torch.randn(5, generator=gen).half(),
        "mask": torch.tensor([True, False, True]),
        "empty": torch.empty(0, 3),
        "strided": torch.randn(6, 4, generator=gen).t(),  # not contiguous
    }


def test_pack_then_unpack_returns_every_tensor_exactly() -> None:
    state = _state()
    back = unpack(WireBuffer().pack(state))
    assert set(back) == set(state)
    for key, tensor in state.items():
        assert back[key].dtype == tensor.dtype and torch.equal(back[key], tensor), key


def test_messages_are_safetensors_both_ways() -> None:
    state = {k: v.contiguous() for k, v in _state().items()}
    ours = bytes(WireBuffer().pack(state))
    theirs = load(ours)
    assert all(torch.equal(theirs[k], state[k]) for k in state)
    assert all(torch.equal(v, state[k]) for k, v in unpack(save(state)).items())


def test_a_reused_buffer_carries_the_newest_message_and_views_alias_it() -> None:
    buffer = WireBuffer()
    first = buffer.pack({"w": torch.zeros(1000)})
    view = unpack(first)["w"]
    buffer.pack({"w": torch.ones(1000)})
    assert float(view.sum()) == 1000.0  # no copy was made: the receiver reads the buffer itself


def test_the_message_size_is_header_plus_raw_data() -> None:
    message = WireBuffer().pack({"w": torch.zeros(250)})
    header = int.from_bytes(bytes(message[:8]), "little")
    assert len(message) == 8 + header + 1000
    assert (8 + header) % 8 == 0


def _message(header: str, data: bytes) -> bytes:
    raw = header.encode()
    return len(raw).to_bytes(8, "little") + raw + data


@pytest.mark.parametrize(
    ("message", "match"),
    [
        (b"\x01", "shorter"),
        ((10**6).to_bytes(8, "little") + b"{}", "past the end"),
        (_message("{x", b""), "not JSON"),
        (_message('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}', bytes(8)), "8 bytes for shape"),
        (_message('{"w":{"dtype":"Q99","shape":[2],"data_offsets":[0,8]}}', bytes(8)), "bad tensor entry"),
        (_message('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}', bytes(8)), "bad tensor entry"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(message: bytes, match: str) -> None:
    with pytest.raises(AggregationInputError, match=match):
        unpack(message)
