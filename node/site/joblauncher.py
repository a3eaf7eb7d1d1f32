"""The site's job launcher: BYOC code never runs in the job process that holds the egress guard and filters.

NVFlare starts each job's process (the "CJ") through the one job launcher component in the site's
``local/resources.json`` (``policies/compile/_resources.py`` names :class:`SiteJobLauncher` there, id
``process_launcher``). For a config-only job it behaves exactly like NVFlare's ``ClientProcessJobLauncher``.
For a BYOC job (``job_meta["byoc"]``, set by NVFlare at deploy) it first, in the site's parent process:

1. refuses the job if the kernel cannot confine (:func:`node.site.sandbox.probe`);
2. reads the deployed ``config_fed_client.json`` (its bytes were checked against the approved digest at deploy)
   and refuses what cannot run confined (:mod:`node.site.byoc_config`, the same rules as the gate's verdict);
3. stages the site's data for the job (``node.site.staging``: ``data/``, ``model/`` in the app folder);
4. writes the job's :class:`~node.site.sandbox.SandboxSpec` (working directory = the app folder, read-only
   staged data and Python runtime, limits from the policy's ``sandbox`` section, no secrets) into
   ``<run dir>/fednode-sandbox/`` (outside the job's reach), with its denial report file beside it;
5. moves the job's ``custom/`` folder to ``job_code/`` (NVFlare puts ``custom/`` on the job process's own
   ``sys.path``: a module the job process tried to import and did not find elsewhere would otherwise be the
   job's code) and rewrites the config so the training script runs as an external process whose command the
   site built: ``<python> -I -m node.site.trainer --spec <spec> -- <python> -u job_code/<script>.py <args>``
   (an in-process Client API job becomes an external-process one; its code is unchanged; ``-I`` keeps the app
   folder and ``PYTHONPATH`` off the wrapper's path before it confines);
6. starts the CJ with an environment without secrets (:func:`job_process_env`).

When the job ends (``JOB_COMPLETED``) it reads the sandbox's denial reports, writes one ``sandbox:denied`` audit
record per distinct (action, category, target kind) with a count (never contents or paths), and removes the
staged data. Any failure before the CJ starts refuses the job at this site (the launch fails) and is audited as
``job:refused`` with its reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey, JobConstants
from nvflare.apis.fl_context import FLContext
from nvflare.apis.job_launcher_spec import JobHandleSpec
from nvflare.app_common.job_launcher.client_process_launcher import ClientProcessJobLauncher
from nvflare.app_common.job_launcher.process_launcher import ProcessHandle
from nvflare.utils.job_launcher_utils import add_custom_dir_to_path, get_credential_env
from nvflare.utils.process_utils import spawn_process

from fednode.atomic import write_text_atomic
from fednode.errors import ByocConfigError, FednodeError, SandboxError, SandboxUnavailableError
from node.site.byoc_config import TaskScript, confined_config, plan_client_config, resolve_script
from node.site.context import SiteContext, UsesSiteContext
from policies.audit import AuditEvent
from policies.policy_model import SandboxSection, SitePolicy

if TYPE_CHECKING:
    from node.site.sandbox import SandboxSpec

log = logging.getLogger("fednode.node.site.joblauncher")

SANDBOX_FOLDER = "fednode-sandbox"
"""In the job's run folder, beside (not inside) the app folder the job may write: spec, reports, markers."""
SPEC_FILE = "spec.json"
REPORT_FILE = "denials.jsonl"
DONE_FILE = "finished"
TRAINER_MODULE = "node.site.trainer"
SYSTEM_FILES = ("/etc/hosts", "/etc/host.conf", "/etc/gai.conf", "/etc/mime.types")
"""Read-only for the job besides the sandbox's own list: resolving ``localhost`` (the job process's listener is
``tcp://localhost:<port>``) and the MIME table NVFlare's HTTP driver (aiohttp) reads at import."""
CODE_FOLDER = "job_code"
"""Where the job's ``custom/`` folder is moved in the app folder before the job process starts."""
MAX_DENIAL_RECORDS = 50
"""At most this many ``sandbox:denied`` records per job (one per distinct kind; the rest summed in the last)."""

SECRET_NAME = re.compile(r"SECRET|PASSW|TOKEN|CREDENTIAL|PRIVATE|API_?KEY|ACCESS_?KEY|_KEY$|^KEY", re.IGNORECASE)
"""Environment variable names the job process never gets (NVFlare then adds its own job credentials)."""

_KIND = re.compile(r"^[A-Za-z0-9:._/-]{1,40}$")
MIB = 1024 * 1024


class StagedFiles(Protocol):
    """What the launcher needs from ``node.site.staging.StagedData``."""

    @property
    def records(self) -> int: ...

    def read_only_paths(self) -> tuple[Path, ...]: ...


Stager = Callable[[str, Path], StagedFiles]
"""``(job_id, workdir) -> staged data`` for an approved job; raises :class:`FednodeError` to refuse."""
Unstager = Callable[[Path], None]
AuditSink = Callable[[AuditEvent, str, Mapping[str, Any]], None]
"""``(event, job_id, details)``: append one record to the site's audit chain."""


@dataclass(frozen=True)
class ByocLaunch:
    """What the site prepared for one BYOC job (all paths absolute)."""

    job_id: str
    app_dir: Path
    sandbox_dir: Path
    spec_path: Path
    report_path: Path
    task: TaskScript
    staged_records: int | None


def job_process_env(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without anything that looks like a secret (see :data:`SECRET_NAME`)."""
    return {k: v for k, v in environ.items() if not SECRET_NAME.search(k)}


def sandbox_limits(section: SandboxSection) -> dict[str, int | None]:
    """The policy's ``sandbox`` section as :class:`~node.site.sandbox.SandboxSpec` limit fields."""
    return {
        "memory_bytes": section.memory_mib * MIB if section.memory_mib is not None else None,
        "max_processes": section.max_processes,
        "wall_seconds": section.wall_minutes * 60,
        "cpu_seconds": section.cpu_minutes * 60 if section.cpu_minutes is not None else None,
        "file_size_bytes": section.file_size_mib * MIB,
    }


def trainer_command(spec_path: Path, task: TaskScript, *, python: str = sys.executable) -> list[str]:
    """The argv the job process runs for the training script: the site's confining wrapper around it."""
    script = f"{CODE_FOLDER}/{task.script}"
    return [python, "-I", "-m", TRAINER_MODULE, "--spec", str(spec_path), "--", python, "-u", script, *task.args]


def job_spec(
    app_dir: Path,
    *,
    code: Path,
    read_only: Iterable[Path],
    report_path: Path,
    section: SandboxSection,
    python: str = sys.executable,
) -> SandboxSpec:
    """The sandbox spec of a BYOC job: its app folder, its code and ``read_only`` (staged data) read-only, name
    resolution for ``localhost``, the Python runtime, an environment of its own, the policy's limits."""
    from node.site.sandbox import SandboxSpec

    tmp = app_dir / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {
        "PATH": str(Path(python).parent) + ":/usr/bin:/bin",
        "HOME": str(app_dir),
        "TMPDIR": str(tmp),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(code),  # as NVFlare's external mode has custom/ on the path
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    paths = [code, *read_only, *(Path(p) for p in SYSTEM_FILES if Path(p).exists())]
    limits: dict[str, Any] = sandbox_limits(section)
    return SandboxSpec.for_job(app_dir, read_only=paths, python=python, env=env, report_path=report_path, **limits)


def prepare_byoc(
    job_id: str,
    app_dir: Path,
    run_dir: Path,
    *,
    policy: SitePolicy,
    stage: Stager | None,
    python: str = sys.executable,
    require_support: Callable[[], object] | None = None,
) -> ByocLaunch:
    """Steps 1-5 of the module docstring for one job; raises :class:`FednodeError` to refuse it."""
    from node.site import sandbox

    (require_support or sandbox.require_support)()
    config_path = app_dir / "config" / JobConstants.CLIENT_JOB_CONFIG
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ByocConfigError("the deployed config_fed_client.json cannot be read") from None
    task = resolve_script(plan_client_config(config, policy.jobs.byoc_components), _app_files(app_dir / "custom"))
    _check_script(app_dir, task)
    code = app_dir / CODE_FOLDER
    if code.exists() or code.is_symlink():
        raise ByocConfigError(f"the app has a top-level {CODE_FOLDER}/ folder; the site needs that name: rename it")

    sandbox_dir = run_dir / SANDBOX_FOLDER
    if sandbox_dir.exists():
        raise SandboxError(f"job {job_id} was already launched at this site (its sandbox folder exists)")
    sandbox_dir.mkdir(mode=0o700)
    report_path = sandbox_dir / REPORT_FILE
    report_path.touch(mode=0o600)

    (app_dir / "custom").rename(code)
    staged = stage(job_id, app_dir) if stage is not None else None
    spec = job_spec(
        app_dir,
        code=code,
        read_only=staged.read_only_paths() if staged is not None else (),
        report_path=report_path,
        section=policy.sandbox,
        python=python,
    )
    spec_path = spec.write(sandbox_dir / SPEC_FILE)
    rewritten = confined_config(config, trainer_command(spec_path, task, python=python), policy.jobs.byoc_components)
    _atomic_write_json(config_path, rewritten)
    log.info("joblauncher.byoc_prepared job=%s script=%s staged=%s", job_id, task.script, staged is not None)
    return ByocLaunch(
        job_id=job_id,
        app_dir=app_dir,
        sandbox_dir=sandbox_dir,
        spec_path=spec_path,
        report_path=report_path,
        task=task,
        staged_records=staged.records if staged is not None else None,
    )


def finish_byoc(job_id: str, app_dir: Path, run_dir: Path, *, audit: AuditSink | None, unstage: Unstager | None) -> int:
    """After the job: audit its sandbox denials (once) and remove its staged data. Returns the denials read."""
    sandbox_dir = run_dir / SANDBOX_FOLDER
    if not sandbox_dir.is_dir():
        return 0
    done = sandbox_dir / DONE_FILE
    count = 0
    if not done.exists():
        from node.site.sandbox import read_denials

        try:
            denials = read_denials(sandbox_dir / REPORT_FILE)
        except (OSError, FednodeError, ValueError) as exc:
            log.warning("joblauncher.denials_unreadable job=%s kind=%s", job_id, type(exc).__name__)
            denials = []
        count = len(denials)
        kinds = Counter((d.action, d.category, _kind(d.target)) for d in denials)
        if audit is not None:
            for details in denial_records(kinds):
                audit(AuditEvent.SANDBOX_DENIED, job_id, details)
        done.touch()
        if count:
            log.warning("joblauncher.sandbox_denied job=%s count=%d kinds=%d", job_id, count, len(kinds))
    if unstage is not None:
        try:
            unstage(app_dir)
        except OSError as exc:
            log.error("joblauncher.unstage_failed job=%s kind=%s", job_id, type(exc).__name__)
    shutil.rmtree(app_dir / "tmp", ignore_errors=True)
    return count


def denial_records(kinds: Mapping[tuple[str, str, str], int]) -> list[dict[str, Any]]:
    """Audit details for the distinct denials: action, category, target kind and count; capped."""
    ordered = sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))
    out = [
        {"action": _kind(a), "category": _kind(c), "target": t, "count": n}
        for (a, c, t), n in ordered[:MAX_DENIAL_RECORDS]
    ]
    rest = ordered[MAX_DENIAL_RECORDS:]
    if rest:
        out.append({"action": "more", "category": "more", "target": "more", "count": sum(n for _, n in rest)})
    return out


class SiteJobLauncher(ClientProcessJobLauncher, UsesSiteContext):  # type: ignore[misc]  # nvflare is untyped
    """NVFlare's client process launcher, with BYOC jobs run confined (see the module docstring).

    Built by NVFlare from ``resources.json`` with no arguments (construction does no I/O: NVFlare also builds
    it in every job process). Tests pass ``context``, ``stage``/``unstage`` and ``audit`` fakes.
    """

    def __init__(
        self,
        *,
        context: SiteContext | None = None,
        stage: Stager | None = None,
        unstage: Unstager | None = None,
        audit: AuditSink | None = None,
        require_support: Callable[[], object] | None = None,
    ) -> None:
        super().__init__()
        self._context = context
        self._stage = stage
        self._unstage = unstage
        self._audit = audit
        self._require_support = require_support
        self._launched: dict[str, tuple[Path, Path]] = {}
        self._lock = threading.Lock()

    # --- NVFlare entry points ---------------------------------------------------------------------------------

    def launch_job(self, job_meta: dict[str, Any], fl_ctx: FLContext) -> JobHandleSpec:
        job_id = str(job_meta.get(JobConstants.JOB_ID) or "")
        byoc = bool(job_meta.get("byoc"))
        workspace = fl_ctx.get_prop(FLContextKey.WORKSPACE_OBJECT)
        env = dict(os.environ)
        if byoc:
            app_dir = Path(workspace.get_app_dir(job_id))
            run_dir = Path(workspace.get_run_dir(job_id))
            try:
                self._prepare(job_id, app_dir, run_dir)
            except FednodeError as exc:
                self._refused(job_id, exc.message)
                self._cleanup(job_id, app_dir, run_dir)
                raise
            env = job_process_env(env)
        custom = workspace.get_app_custom_dir(job_id)
        if custom:
            add_custom_dir_to_path(custom, env)
        env.update(get_credential_env(fl_ctx.get_prop(FLContextKey.JOB_PROCESS_ARGS) or {}))
        argv = self._argv(job_meta, fl_ctx)
        return ProcessHandle(process_adapter=spawn_process(argv, env))

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        super().handle_event(event_type, fl_ctx)
        if event_type == EventType.JOB_COMPLETED:
            job_id = str(fl_ctx.get_prop(FLContextKey.CURRENT_JOB_ID) or "")
            with self._lock:
                paths = self._launched.pop(job_id, None)
            if paths is None:
                workspace = fl_ctx.get_prop(FLContextKey.WORKSPACE_OBJECT)
                if workspace is None or not job_id:
                    return
                paths = (Path(workspace.get_app_dir(job_id)), Path(workspace.get_run_dir(job_id)))
            self._cleanup(job_id, *paths)

    # --- the steps --------------------------------------------------------------------------------------------

    def _argv(self, job_meta: dict[str, Any], fl_ctx: FLContext) -> list[str]:
        import shlex

        return shlex.split(self.get_command(job_meta, fl_ctx), True)

    def _prepare(self, job_id: str, app_dir: Path, run_dir: Path) -> ByocLaunch:
        policy = self.context.policy
        if policy is None:
            raise SandboxUnavailableError("no site policy is loaded: BYOC jobs are refused")
        launch = prepare_byoc(
            job_id,
            app_dir,
            run_dir,
            policy=policy,
            stage=self._stager(),
            require_support=self._require_support,
        )
        with self._lock:
            self._launched[job_id] = (app_dir, run_dir)
        return launch

    def _cleanup(self, job_id: str, app_dir: Path, run_dir: Path) -> None:
        try:
            finish_byoc(job_id, app_dir, run_dir, audit=self._audit_sink(), unstage=self._unstager())
        except Exception as exc:  # never let cleanup break NVFlare's event loop; the reason is logged
            log.error("joblauncher.finish_failed job=%s kind=%s", job_id, type(exc).__name__)

    def _refused(self, job_id: str, reason: str) -> None:
        log.warning("joblauncher.byoc_refused job=%s reason=%s", job_id, reason)
        with contextlib.suppress(Exception):
            self.context.jobs.mark_refused(job_id, reason[:300])

    def _stager(self) -> Stager | None:
        if self._stage is not None:
            return self._stage
        context = self.context
        if context.settings is None or context.policy is None:
            return None
        settings, policy = context.settings, context.policy

        def stage(job_id: str, workdir: Path) -> StagedFiles:
            from node.site.staging import base_model_spec, stage_job_data

            record = context.jobs.get(job_id)
            return stage_job_data(
                record, workdir, policy=policy, cdm_url=settings.omop_db_url, model_spec=base_model_spec(settings)
            )

        return stage

    def _unstager(self) -> Unstager | None:
        if self._unstage is not None:
            return self._unstage

        def unstage(workdir: Path) -> None:
            from node.site.staging import remove_staged

            remove_staged(workdir)

        return unstage

    def _audit_sink(self) -> AuditSink | None:
        if self._audit is not None:
            return self._audit
        log_ = self.context.audit
        if log_ is None:
            return None
        site = self.context.site_name

        def sink(event: AuditEvent, job_id: str, details: Mapping[str, Any]) -> None:
            log_.append(event, actor=f"site:{site}", job_id=job_id, details=dict(details))

        return sink


def _check_script(app_dir: Path, task: TaskScript) -> None:
    path = app_dir / task.app_path
    try:
        info = os.lstat(path)
    except OSError:
        raise ByocConfigError(f"the training script custom/{task.script} is not in the app") from None
    if not stat.S_ISREG(info.st_mode):
        raise ByocConfigError(f"the training script custom/{task.script} is not a regular file")
    custom = Path(os.path.realpath(app_dir / "custom"))
    if custom not in Path(os.path.realpath(path)).parents:
        raise ByocConfigError(f"the training script custom/{task.script} leaves the app's custom/ folder")


def _app_files(custom: Path) -> list[str]:
    """The app-relative POSIX paths of the files under ``custom/`` (symbolic links not followed)."""
    if not custom.is_dir():
        return []
    root = custom.parent
    return sorted(p.relative_to(root).as_posix() for p in custom.rglob("*") if p.is_file() or p.is_symlink())


def _kind(value: str) -> str:
    return value if _KIND.match(value or "") else "other"


def _atomic_write_json(path: Path, data: Mapping[str, Any]) -> None:
    write_text_atomic(path, json.dumps(data, indent=2))
