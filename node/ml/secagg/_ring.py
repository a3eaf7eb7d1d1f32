"""The fixed-point integer ring the masked updates live in.

A site's update ``x`` (floating point, local - global) is clipped per coordinate to ``[-clip, clip]``, multiplied
by the site's weight ``w = n_site / n_total`` (its share of the examples of every site that advertised keys this
round), scaled by ``2**frac_bits``, rounded to the nearest integer and taken modulo ``2**bits``. Masks are uniform
in the same ring and cancel exactly there. Because the weights of the surviving sites sum to at most 1, the
weighted sum stays within ``[-clip, clip]`` and decodes unambiguously as a two's-complement integer; the rounding
error of the sum is at most ``sites / 2**(frac_bits + 1)`` per coordinate.

Defaults: ``bits=32`` (the masked tensors are exactly as large as float32 ones), ``frac_bits=24`` (resolution
6e-8, far below the float32 noise of an update), ``clip=64`` (a fine-tuning update's coordinates are orders of
magnitude smaller; ``clip * 2**frac_bits`` must stay below ``2**(bits - 1)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fednode.errors import ConfigError

Array = np.ndarray[Any, Any]
_CHUNK = 1 << 16


@dataclass(frozen=True)
class FixedPoint:
    """The ring ``Z / 2**bits`` and the fixed-point encoding of weighted updates into it."""

    bits: int = 32
    frac_bits: int = 24
    clip: float = 64.0

    def __post_init__(self) -> None:
        if self.bits not in (32, 64):
            raise ConfigError(f"secure aggregation: ring bits must be 32 or 64, not {self.bits}")
        if not 0 < self.frac_bits < self.bits - 1:
            raise ConfigError(f"secure aggregation: frac_bits must be in 1..{self.bits - 2}")
        if not (self.clip > 0 and self.clip * 2.0**self.frac_bits < 2.0 ** (self.bits - 1)):
            raise ConfigError("secure aggregation: clip * 2**frac_bits must stay below 2**(bits - 1)")

    @property
    def dtype(self) -> np.dtype[Any]:
        """The unsigned integer dtype of the ring's elements (arithmetic wraps modulo ``2**bits``)."""
        return np.dtype(np.uint32 if self.bits == 32 else np.uint64)

    @property
    def scale(self) -> float:
        return float(2**self.frac_bits)

    def encode(self, values: Array, weight: float) -> Array:
        """``round(clip(values) * weight * 2**frac_bits) mod 2**bits`` as the ring's dtype."""
        if not 0.0 <= weight <= 1.0:
            raise ConfigError(f"secure aggregation: a site's weight must be in [0, 1], not {weight}")
        flat = np.asarray(values).reshape(-1)
        out = np.empty(flat.size, dtype=self.dtype)
        factor = weight * self.scale
        for start in range(0, flat.size, _CHUNK):  # chunked: float64 scratch stays in cache
            part = flat[start : start + _CHUNK].astype(np.float64)
            np.clip(part, -self.clip, self.clip, out=part)
            part *= factor
            np.rint(part, out=part)
            out[start : start + _CHUNK] = part.astype(np.int64)
        return out.reshape(np.shape(values))

    def decode(self, values: Array) -> Array:
        """A ring element (a sum of encoded values) back to float64, reading it as two's complement."""
        signed = np.asarray(values, dtype=self.dtype).view(np.int32 if self.bits == 32 else np.int64)
        return signed.astype(np.float64) / self.scale

    def to_json(self) -> dict[str, Any]:
        return {"bits": self.bits, "frac_bits": self.frac_bits, "clip": self.clip}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> FixedPoint:
        return cls(bits=int(data["bits"]), frac_bits=int(data["frac_bits"]), clip=float(data["clip"]))


@dataclass(frozen=True)
class Layout:
    """The tensors of an update in a fixed order (sorted names), so one flat vector can be masked at once."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @classmethod
    def of(cls, update: Mapping[str, Any]) -> Layout:
        names = tuple(sorted(update))
        return cls(names=names, shapes=tuple(tuple(int(d) for d in np.shape(update[n])) for n in names))

    @property
    def size(self) -> int:
        return sum(int(np.prod(s, dtype=np.int64)) for s in self.shapes)

    def flatten(self, update: Mapping[str, Array], dtype: np.dtype[Any]) -> Array:
        parts: Sequence[Array] = [np.asarray(update[n]).reshape(-1) for n in self.names]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)

    def split(self, flat: Array) -> dict[str, Array]:
        out: dict[str, Array] = {}
        offset = 0
        for name, shape in zip(self.names, self.shapes, strict=True):
            n = int(np.prod(shape, dtype=np.int64))
            out[name] = flat[offset : offset + n].reshape(shape)
            offset += n
        return out
