"""The site's side of a continued study: a job resubmitted after a coordinator restart names the study's first job
(:data:`node.kit.meta.RESUME_META_KEY` in the job meta, outside the app and its pinned fields).

The gate registers such a job through :meth:`policies.registry.JobService.register_resumed`: approved without a
new review when the first job was approved here, nothing the reviewers saw changed (app digest, declared fields,
pinned meta) and the approval still holds under the site's policy today (audited ``job:resumed``); otherwise it
waits for review like any new job (``job:resume_refused`` says what changed). A job without the key is a new job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from node.kit.meta import RESUME_META_KEY
from node.site.context import JobRegistry
from policies.contracts import JobManifest, JobRecord, Verdict

log = logging.getLogger("fednode.node.site.resume")


def first_job_named(meta: Mapping[str, Any] | None, job_id: str) -> str | None:
    """The first job a continuation names, or ``None`` for a new job (no key, not a string, or itself)."""
    value = (meta or {}).get(RESUME_META_KEY)
    if not isinstance(value, str) or not value or value == job_id or len(value) > 128:
        return None
    return value


def register_new_job(
    jobs: JobRegistry, manifest: JobManifest, verdict: Verdict, meta: Mapping[str, Any] | None
) -> JobRecord:
    """Register a job the site has not seen: a continuation of an approved study, or pending for review."""
    first = first_job_named(meta, manifest.job_id)
    if first is None:
        return jobs.register_pending(manifest, verdict)
    record = jobs.register_resumed(manifest, verdict, first)
    log.info("resume.registered job=%s first=%s state=%s", manifest.job_id, first, record.state.value)
    return record
