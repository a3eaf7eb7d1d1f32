"""The in-process federation's transport: state dicts as safetensors-format bytes in reusable buffers.

A real transport serialises the global model on the way down and each update on the way up; so does the
simulation, so that bytes and the cost of serialisation count. The message is the safetensors layout (8-byte
little-endian header length, a JSON header naming each tensor's dtype, shape and byte range, then the raw
little-endian data), written straight into a buffer that one sender reuses round after round (pinned host memory
on a CUDA machine, so device copies run at full speed), and read back as zero-copy tensor views, the way a
receiver maps the bytes it got. ``safetensors.torch.load`` reads the same bytes (a test checks).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from fednode.errors import AggregationInputError

StateDict = dict[str, torch.Tensor]

_ALIGN = 8
_DTYPES: dict[torch.dtype, str] = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
_TORCH = {name: dtype for dtype, name in _DTYPES.items()}


def _header(state: Mapping[str, torch.Tensor]) -> tuple[bytes, dict[str, tuple[int, int]]]:
    """The padded JSON header and each tensor's byte range; wider dtypes first so every view is aligned."""
    order = sorted(state, key=lambda k: (-state[k].element_size(), k))
    entries: dict[str, object] = {}
    ranges: dict[str, tuple[int, int]] = {}
    offset = 0
    for key in order:
        t = state[key]
        if t.dtype not in _DTYPES:
            raise AggregationInputError(f"cannot send a tensor of dtype {t.dtype}", field=key)
        size = t.numel() * t.element_size()
        entries[key] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + size]}
        ranges[key] = (offset, offset + size)
        offset += size
    raw = json.dumps(entries, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % _ALIGN)
    return raw, ranges


@dataclass
class WireBuffer:
    """One sender's outgoing message buffer, grown when needed and reused across rounds."""

    pinned: bool = False
    _buffer: torch.Tensor = field(default_factory=lambda: torch.empty(0, dtype=torch.uint8))

    def _ensure(self, nbytes: int) -> torch.Tensor:
        if self._buffer.numel() < nbytes:
            self._buffer = torch.empty(nbytes, dtype=torch.uint8, pin_memory=self.pinned)
        return self._buffer

    def pack(self, state: Mapping[str, torch.Tensor]) -> memoryview:
        """Serialise ``state`` (tensors on any device) into the buffer; returns the message bytes (a view)."""
        header, ranges = _header(state)
        start = 8 + len(header)
        total = start + max((end for _, end in ranges.values()), default=0)
        buf = self._ensure(total)
        buf[:8].copy_(torch.frombuffer(bytearray(struct.pack("<Q", len(header))), dtype=torch.uint8))
        buf[8:start].copy_(torch.frombuffer(bytearray(header), dtype=torch.uint8))
        for key, (begin, end) in ranges.items():
            if end > begin:
                src = state[key].detach().contiguous().reshape(-1).view(torch.uint8)
                buf[start + begin : start + end].copy_(src, non_blocking=False)
        return buf.numpy().data[:total]


def unpack(message: memoryview | bytes) -> StateDict:
    """Tensor views over a message written by :meth:`WireBuffer.pack` (no copy; read-only by contract)."""
    view = memoryview(message)
    if view.readonly:  # torch views need writable memory; a received immutable ``bytes`` is copied once
        view = memoryview(bytearray(view))
    if len(view) < 8:
        raise AggregationInputError("message shorter than its header length field")
    (header_len,) = struct.unpack("<Q", view[:8])
    if 8 + header_len > len(view):
        raise AggregationInputError("message header runs past the end of the message")
    try:
        header = json.loads(bytes(view[8 : 8 + header_len]))
    except ValueError as exc:
        raise AggregationInputError(f"message header is not JSON: {exc}") from exc
    data = view[8 + header_len :]
    out: StateDict = {}
    for key, meta in header.items():
        if key == "__metadata__":
            continue
        dtype = _TORCH.get(meta.get("dtype"))
        begin, end = meta.get("data_offsets", (0, -1))
        shape = [int(d) for d in meta.get("shape", [])]
        if dtype is None or not 0 <= begin <= end <= len(data):
            raise AggregationInputError("bad tensor entry in message header", field=key)
        count = end - begin
        expected = dtype.itemsize * (int(torch.Size(shape).numel()))
        if count != expected:
            raise AggregationInputError(f"{count} bytes for shape {shape}", field=key)
        if count == 0:
            out[key] = torch.empty(shape, dtype=dtype)
            continue
        out[key] = torch.frombuffer(data[begin:end], dtype=dtype).reshape(shape)
    return out
