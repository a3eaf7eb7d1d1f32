"""The cryptography the protocol uses, all from the ``cryptography`` library: X25519 key agreement, HKDF-SHA256,
AES-256-GCM for the shares sent between sites, and AES-256-CTR as the PRG that expands a 32-byte seed into a mask.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fednode.errors import SecureAggregationError
from node.ml.secagg._ring import Array

KEY_BYTES = 32
NONCE_BYTES = 12
CHUNK = 1 << 16
"""Ring elements processed at a time (256 KiB of uint32: the chunk and its keystream stay in cache)."""


def new_x25519(randbytes: Callable[[int], bytes]) -> X25519PrivateKey:
    return X25519PrivateKey.from_private_bytes(randbytes(KEY_BYTES))


def public_bytes(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def public_of(private: bytes) -> bytes:
    """The public half of a raw X25519 private key."""
    return X25519PrivateKey.from_private_bytes(private).public_key().public_bytes_raw()


def private_bytes(key: X25519PrivateKey) -> bytes:
    return key.private_bytes_raw()


def agree(private: X25519PrivateKey | bytes, peer_public: bytes, info: bytes) -> bytes:
    """HKDF-SHA256 of the X25519 shared secret, bound to ``info`` (purpose, job, round, the two sites)."""
    key = X25519PrivateKey.from_private_bytes(private) if isinstance(private, bytes) else private
    try:
        shared = key.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as exc:  # a low-order point gives an all-zero secret, which cryptography refuses
        raise SecureAggregationError("a peer's public key is not usable for key agreement") from exc
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(shared)


def derive(seed: bytes, info: bytes) -> bytes:
    """A 32-byte key from ``seed`` for one purpose (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(seed)


def seal(key: bytes, plaintext: bytes, aad: bytes, randbytes: Callable[[int], bytes]) -> bytes:
    nonce = randbytes(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, sealed: bytes, aad: bytes) -> bytes:
    try:
        return AESGCM(key).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError) as exc:
        raise SecureAggregationError("an encrypted share does not open (wrong key, sender or round)") from exc


def apply_masks(target: Array, masks: Sequence[tuple[bytes, bool]]) -> None:
    """Add (``False``) or subtract (``True``) the PRG expansion of each seed to the flat ring vector ``target`` in
    place, modulo ``2**bits``: AES-256-CTR keyed by the seed (each seed is used for this one mask only) over zero
    bytes. The vector is walked once, a cache-sized chunk at a time, with every mask's keystream advanced together.
    """
    if target.ndim != 1 or target.dtype.kind != "u":
        raise SecureAggregationError("a mask is added to a flat unsigned ring vector")
    if not masks or target.size == 0:
        return
    streams = [(Cipher(algorithms.AES(seed), modes.CTR(bytes(16))).encryptor(), subtract) for seed, subtract in masks]
    itemsize = target.dtype.itemsize
    zeros = bytes(min(CHUNK, target.size) * itemsize)
    buffer = bytearray(len(zeros) + 15)  # update_into wants room for a block beyond the input
    for start in range(0, target.size, CHUNK):
        count = min(CHUNK, target.size - start)
        view = target[start : start + count]
        for encryptor, subtract in streams:
            written = encryptor.update_into(zeros[: count * itemsize], buffer)
            mask = np.frombuffer(buffer, dtype=target.dtype, count=written // itemsize)
            if subtract:
                np.subtract(view, mask, out=view)
            else:
                np.add(view, mask, out=view)


def add_mask(target: Array, seed: bytes, *, subtract: bool = False) -> None:
    """One mask: :func:`apply_masks` with a single seed."""
    apply_masks(target, [(seed, subtract)])
