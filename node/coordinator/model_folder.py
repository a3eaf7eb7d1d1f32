"""A downloaded study model as a folder a site can use: weights, architecture, tokenizer, label map, provenance.

``fednode study download`` verifies the coordinator's signature (:func:`node.coordinator.signing.verify_signed_model`)
and then completes the signed folder with what inference needs:

- ``config.json`` and the tokenizer files of the architecture the study trained (its ``model_spec``, read from the
  job's server config or given with ``--base-model``), written by transformers from that checkpoint;
- ``labels.json``: the label map (``{"labels": [...], "label2id": {...}}``);
- ``model.json``: the folder's manifest (schema, study, job id, model digest, model spec, the ``nlp_system`` name
  NOTE_NLP rows carry, and the sha256 of every file added here).

The coordinator's signature covers the weights, the provenance and its attachments; the files added here come from
the public base checkpoint and are pinned by ``model.json``, which :func:`verify_model_folder` checks together
with the signature before every use (``fednode ner predict``): a changed weight, provenance or added file fails
with :class:`SignatureError` (exit 5).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fednode.atomic import write_text_atomic
from fednode.errors import ConfigError, SignatureError
from node.coordinator.signing import MODEL_FILE, PROVENANCE_FILE, SIGNATURE_FILE, VerifiedModel, sha256_file
from node.coordinator.signing import verify_signed_model as _verify_signed

log = logging.getLogger("fednode.node.coordinator.model_folder")

MANIFEST_FILE = "model.json"
LABELS_FILE = "labels.json"
SCHEMA = "fednode.model-folder/1"
SERVER_CONFIG = "config_fed_server.json"
_NLP_SYSTEM_MAX = 250  # note_nlp.nlp_system is VARCHAR(250)


def nlp_system_name(study: str, model_sha256: str) -> str:
    """What NOTE_NLP rows written with this model name as their system: ``fednode:<study>@sha256:<digest>``."""
    tail = f"@sha256:{model_sha256}"
    return f"fednode:{study}"[: _NLP_SYSTEM_MAX - len(tail)] + tail


def study_model_spec(result: Path) -> str | None:
    """The ``model_spec`` the study's server config names, searched under a downloaded job result (or None)."""
    for path in sorted(result.rglob(SERVER_CONFIG)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            for workflow in data.get("workflows", []):
                spec = workflow.get("args", {}).get("model_spec")
                if isinstance(spec, str) and spec:
                    return spec
        except (OSError, ValueError, AttributeError):
            continue
    return None


def complete_model_folder(verified: VerifiedModel, model_spec: str, *, seed: int = 0) -> dict[str, Any]:
    """Write the architecture, tokenizer, label map and manifest beside the verified weights; return the manifest.

    Raises ConfigError when ``model_spec`` cannot be loaded or the weights do not fit it (nothing is written then).
    """
    from safetensors.torch import load_file

    from node.ml.ner import LABEL2ID, LABELS, load_ner_model

    folder = verified.model_path.parent
    model = load_ner_model(model_spec, seed=seed)
    state = load_file(str(verified.model_path))
    if any(key.startswith("crf.") for key in state) and not model.has_crf:
        model = load_ner_model(model_spec, seed=seed, crf=True)
    try:
        model.load_state(state)
    except ConfigError as exc:
        raise ConfigError(f"--base-model: the study's weights do not fit model {model_spec!r}: {exc.message}") from exc
    model.model.config.save_pretrained(str(folder))
    model.tokenizer.save_pretrained(str(folder))
    write_text_atomic(folder / LABELS_FILE, json.dumps({"labels": list(LABELS), "label2id": LABEL2ID}, indent=2))
    signed = {MODEL_FILE, PROVENANCE_FILE, SIGNATURE_FILE, *verified.provenance.attachments}
    added = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in signed and p.name != MANIFEST_FILE)
    prov = verified.provenance
    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "study": prov.study,
        "job_id": prov.job_id,
        "model_sha256": prov.model_sha256,
        "model_spec": model_spec,
        "signed_by": verified.key_id,
        "nlp_system": nlp_system_name(prov.study, prov.model_sha256),
        "files": {name: sha256_file(folder / name) for name in added},
    }
    write_text_atomic(folder / MANIFEST_FILE, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("model_folder.completed job_id=%s files=%d", prov.job_id, len(added))
    return manifest


@dataclass(frozen=True)
class VerifiedFolder:
    """A model folder whose signature and manifest checked out."""

    folder: Path
    verified: VerifiedModel
    manifest: dict[str, Any]

    @property
    def nlp_system(self) -> str:
        return str(self.manifest["nlp_system"])


def verify_model_folder(folder: Path, trusted_public_keys: Sequence[str]) -> VerifiedFolder:
    """Verify the coordinator's signature over the weights and provenance, then every file ``model.json`` pins.

    Raises :class:`SignatureError` (exit 5) on any mismatch, a missing or malformed manifest included.
    """
    verified = _verify_signed(folder, trusted_public_keys)
    try:
        manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise SignatureError(
            f"{folder / MANIFEST_FILE}: missing; download the model with `fednode study download`"
        ) from exc
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{folder / MANIFEST_FILE}: not a model manifest ({type(exc).__name__})") from exc
    if (
        not isinstance(manifest, dict)
        or manifest.get("schema") != SCHEMA
        or not isinstance(manifest.get("files"), dict)
    ):
        raise SignatureError(f"{folder / MANIFEST_FILE}: not a {SCHEMA} manifest")
    prov = verified.provenance
    if manifest.get("model_sha256") != prov.model_sha256 or manifest.get("study") != prov.study:
        raise SignatureError(f"{folder / MANIFEST_FILE}: names another model than the signed provenance")
    if manifest.get("nlp_system") != nlp_system_name(prov.study, prov.model_sha256):
        raise SignatureError(f"{folder / MANIFEST_FILE}: nlp_system does not name the signed study and digest")
    for name, digest in manifest["files"].items():
        path = folder / str(name)
        if path.name != name or not path.is_file() or sha256_file(path) != digest:
            raise SignatureError(f"{folder / str(name)}: missing or changed since download")
    return VerifiedFolder(folder, verified, manifest)
