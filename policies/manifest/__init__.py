"""The job manifest: the ONE place that knows how app bytes become a digest, how a manifest travels in the
NVFlare job meta, and how a :class:`~policies.contracts.JobManifest` is built.

- The digest rule (DESIGN.md): sha256 over each file's POSIX path relative to the app folder and the sha256 of
  its bytes, in path order, excluding only NVFlare's two per-submission signature files (:func:`app_digest`,
  :func:`files_digest`, :func:`folder_digest`).
- The walk (:func:`read_app`): strict and bounded, each file read once; symbolic links, special files and
  compiled or native files are refused, and so is an app over :data:`MAX_APP_BYTES`.
- The meta encoding (:func:`encode_app`, :func:`decode_app`): one zlib+base64 JSON blob per app under
  ``meta[META_KEY]``, decoded with size limits.
- Building: :func:`embed_manifest` (the submitting side), :func:`manifest_for_site` (a site, at
  ``check_resources``; recomputes, never trusts, the digest), :func:`build_manifests` (``fednode policy check``:
  what a site would review), :func:`pinned_meta` (the meta fields a site pins at approval).

Nothing outside this package hashes app files or decodes a manifest (``tests/test_one_manifest_home.py``).
"""

from policies.manifest._build import (
    app_payload,
    build_manifests,
    embed_manifest,
    manifest_for_site,
    manifest_from_payload,
    stated_app_digests,
    submit_time,
    submitter_from_meta,
)
from policies.manifest._codec import (
    MANIFEST_VERSION,
    MAX_DECODED_BYTES,
    MAX_ENCODED_BYTES,
    META_KEY,
    decode_app,
    encode_app,
    encoded_apps,
)
from policies.manifest._declaration import (
    FEDNODE_META_KEY,
    PINNED_META_KEYS,
    Declaration,
    app_for_site,
    apps_for_site,
    client_sites,
    infer_from_server_config,
    job_kind,
    pinned_meta,
)
from policies.manifest._digest import (
    COMPILED_SUFFIXES,
    SIGNATURE_FILES,
    app_digest,
    check_rel_path,
    content_mismatches,
    files_digest,
    is_compiled_path,
    is_signature_file,
)
from policies.manifest._walk import MAX_APP_BYTES, MAX_REVIEW_BYTES, app_paths, folder_digest, read_app

__all__ = [
    "COMPILED_SUFFIXES",
    "FEDNODE_META_KEY",
    "MANIFEST_VERSION",
    "MAX_APP_BYTES",
    "MAX_DECODED_BYTES",
    "MAX_ENCODED_BYTES",
    "MAX_REVIEW_BYTES",
    "META_KEY",
    "PINNED_META_KEYS",
    "SIGNATURE_FILES",
    "Declaration",
    "app_digest",
    "app_for_site",
    "app_paths",
    "app_payload",
    "apps_for_site",
    "build_manifests",
    "check_rel_path",
    "client_sites",
    "content_mismatches",
    "decode_app",
    "embed_manifest",
    "encode_app",
    "encoded_apps",
    "files_digest",
    "folder_digest",
    "infer_from_server_config",
    "is_compiled_path",
    "is_signature_file",
    "job_kind",
    "manifest_for_site",
    "manifest_from_payload",
    "pinned_meta",
    "read_app",
    "stated_app_digests",
    "submit_time",
    "submitter_from_meta",
]
