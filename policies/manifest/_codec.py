"""How a manifest travels in the NVFlare job meta: one compressed blob per app, decoded with size limits.

``meta[META_KEY] = {"version": 1, "apps": {app_name: base64(zlib(compact JSON))}}``. Keyed per app because
``deploy_map`` may send different apps to different sites. zlib + base64 makes real Python about 5x smaller than
the JSON, which matters: on NVFlare's default ``http`` scheme a message over 4 MiB drops the site's connection,
and the deploy message carries the meta and the app zip.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from collections.abc import Mapping
from typing import Any

from fednode.errors import ManifestError

META_KEY = "fednode_manifest"
"""Top-level job-meta key holding ``{"version": 1, "apps": {app_name: <zlib+base64 JSON>}}``."""
MANIFEST_VERSION = 1
MAX_ENCODED_BYTES = 8 * 1024 * 1024
"""The longest encoded blob a site decodes."""
MAX_DECODED_BYTES = 64 * 1024 * 1024
"""The most a blob may inflate to (no zip bomb gets through)."""


def encode_app(payload: Mapping[str, Any]) -> str:
    """One app's manifest as compact JSON, zlib-compressed, base64 (text, so it survives the JSON meta)."""
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def decode_app(encoded: object) -> dict[str, Any]:
    """Decompress one app's manifest with size limits; raises :class:`~fednode.errors.ManifestError`."""
    if not isinstance(encoded, str) or len(encoded) > MAX_ENCODED_BYTES:
        raise ManifestError("manifest blob is not text or is too large", field=META_KEY)
    try:
        compressed = base64.b64decode(encoded.encode("ascii"), validate=True)
        inflater = zlib.decompressobj()
        raw = inflater.decompress(compressed, MAX_DECODED_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ManifestError("manifest is truncated or inflates beyond the size limit", field=META_KEY)
        payload = json.loads(raw.decode("utf-8"))
    except (binascii.Error, zlib.error, UnicodeError, ValueError) as exc:
        raise ManifestError(f"manifest cannot be decoded ({type(exc).__name__})", field=META_KEY) from None
    if not isinstance(payload, dict) or payload.get("v") != MANIFEST_VERSION:
        raise ManifestError("manifest payload is not a version-1 object", field=META_KEY)
    return payload


def encoded_apps(job_meta: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The per-app blobs the meta carries (top level, or under ``custom_props``); ``None`` when it carries none."""
    block = job_meta.get(META_KEY)
    if block is None:
        custom = job_meta.get("custom_props")
        block = custom.get(META_KEY) if isinstance(custom, Mapping) else None
    if block is None:
        return None
    if not isinstance(block, Mapping):
        raise ManifestError("job meta carries no fednode manifest", field=META_KEY)
    if block.get("version") != MANIFEST_VERSION:
        raise ManifestError("unsupported manifest version", field=f"{META_KEY}.version")
    apps = block.get("apps")
    if not isinstance(apps, Mapping):
        raise ManifestError("manifest has no apps", field=f"{META_KEY}.apps")
    return apps


def embedded_block(apps: Mapping[str, str]) -> dict[str, Any]:
    """The meta value under :data:`META_KEY` for the given per-app blobs."""
    return {"version": MANIFEST_VERSION, "apps": dict(apps)}
