"""Shamir secret sharing over the prime field of the Mersenne prime ``2**521 - 1`` (secrets up to 64 bytes).

This is the polynomial arithmetic of Shamir (1979), not a cipher: a secret is the constant term of a random
polynomial of degree ``threshold - 1``; share ``x`` is its value at ``x`` (``x >= 1``); any ``threshold`` shares
give the secret back by Lagrange interpolation at 0, fewer reveal nothing about it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from fednode.errors import SecureAggregationError

PRIME = 2**521 - 1
SHARE_BYTES = 66
"""A share value, big-endian (521 bits fit in 66 bytes)."""


def _random_element(randbytes: Callable[[int], bytes]) -> int:
    # 80 bytes (640 bits) reduced modulo a 521-bit prime: the bias is below 2**-119.
    return int.from_bytes(randbytes(80), "big") % PRIME


def split(secret: bytes, xs: Sequence[int], threshold: int, randbytes: Callable[[int], bytes]) -> dict[int, bytes]:
    """Shares of ``secret`` at the points ``xs`` (distinct, >= 1); any ``threshold`` of them recover it."""
    if len(secret) > 64:
        raise SecureAggregationError("shamir: a secret is at most 64 bytes")
    if not 1 <= threshold <= len(xs) or len(set(xs)) != len(xs) or min(xs) < 1:
        raise SecureAggregationError("shamir: need distinct points >= 1 and 1 <= threshold <= points")
    coefficients = [int.from_bytes(secret, "big")] + [_random_element(randbytes) for _ in range(threshold - 1)]
    shares: dict[int, bytes] = {}
    for x in xs:
        value = 0
        for c in reversed(coefficients):
            value = (value * x + c) % PRIME
        shares[x] = value.to_bytes(SHARE_BYTES, "big")
    return shares


def combine(shares: Mapping[int, bytes], threshold: int, length: int) -> bytes:
    """The secret (``length`` bytes) from at least ``threshold`` shares (point -> share value)."""
    if len(shares) < threshold:
        raise SecureAggregationError(f"shamir: {len(shares)} shares, {threshold} needed")
    points = sorted(shares)[:threshold]
    secret = 0
    for i in points:
        numerator, denominator = 1, 1
        for j in points:
            if j != i:
                numerator = numerator * (-j) % PRIME
                denominator = denominator * (i - j) % PRIME
        y = int.from_bytes(shares[i], "big")
        secret = (secret + y * numerator * pow(denominator, -1, PRIME)) % PRIME
    if secret >= 2 ** (8 * length):
        raise SecureAggregationError("shamir: the shares do not combine to a secret of the expected size")
    return secret.to_bytes(length, "big")
