"""The site's job launcher: a BYOC job's script is rewritten to run confined, its data staged, its denials
audited and its data removed afterwards; config-only jobs start as NVFlare's own launcher starts them."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from nvflare.apis.event_type import EventType
from nvflare.apis.fl_constant import FLContextKey
from nvflare.apis.fl_context import FLContext

from fednode.errors import ByocConfigError, SandboxError, SandboxUnavailableError
from node.site import joblauncher as jl
from node.site.byoc_config import CLIENT_API_EXECUTOR
from node.site.context import SiteContext
from node.site.sandbox import SandboxSpec
from policies.audit import AuditEvent
from policies.contracts import RuleOutcome, RuleResult, Verdict
from policies.policy_model import SandboxSection, SitePolicy, load_policy

REPO = Path(__file__).resolve().parents[3]
POLICY = REPO / "policies" / "examples" / "site-policy.yaml"


def _policy(**sandbox: Any) -> SitePolicy:
    policy = load_policy(POLICY)
    return policy.model_copy(update={"sandbox": SandboxSection(**sandbox)}) if sandbox else policy


def _client_config(mode: str = "in_process") -> dict[str, Any]:
    if mode == "in_process":
        args: dict[str, Any] = {
            "execution_mode": "in_process",
            "task_script_path": "train.py",
            "task_script_args": "--data_dir data --model_dir model",
        }
    else:
        args = {"execution_mode": "external_process", "command": "bash -c id"}
    return {
        "format_version": 2,
        "executors": [{"tasks": ["*"], "executor": {"path": CLIENT_API_EXECUTOR, "args": args}}],
    }


@dataclass
class Workspace:
    """NVFlare's Workspace as the launcher uses it."""

    root: Path
    site: str = "site-1"

    def get_run_dir(self, job_id: str) -> str:
        return str(self.root / job_id)

    def get_app_dir(self, job_id: str) -> str:
        return str(self.root / job_id / f"app_{self.site}")

    def get_app_custom_dir(self, job_id: str) -> str:
        return str(self.root / job_id / f"app_{self.site}" / "custom")


def _deploy(root: Path, job_id: str = "job-1", config: dict[str, Any] | None = None) -> Workspace:
    ws = Workspace(root)
    app = Path(ws.get_app_dir(job_id))
    (app / "config").mkdir(parents=True)
    (app / "custom").mkdir()
    (app / "custom" / "train.py").write_text("import nvflare.client as flare\n")
    (app / "config" / "config_fed_client.json").write_text(json.dumps(config or _client_config()))
    return ws


@dataclass
class Staged:
    workdir: Path
    records: int = 120

    def read_only_paths(self) -> tuple[Path, ...]:
        return (self.workdir / "data", self.workdir / "model")


class Recorder:
    """Fake stager, unstager and audit sink that remember their calls."""

    def __init__(self) -> None:
        self.staged: list[tuple[str, Path]] = []
        self.unstaged: list[Path] = []
        self.audited: list[tuple[AuditEvent, str, dict[str, Any]]] = []

    def stage(self, job_id: str, workdir: Path) -> Staged:
        (workdir / "data").mkdir()
        (workdir / "data" / "train.tsv").write_text("a\tO\n")
        (workdir / "model").mkdir()
        self.staged.append((job_id, workdir))
        return Staged(workdir)

    def unstage(self, workdir: Path) -> None:
        self.unstaged.append(workdir)

    def audit(self, event: AuditEvent, job_id: str, details: Mapping[str, Any]) -> None:
        self.audited.append((event, job_id, dict(details)))


def _ok() -> object:
    return object()


def _no_kernel() -> object:
    raise SandboxUnavailableError("cannot confine job code: the kernel has no Landlock")


# --- prepare_byoc ------------------------------------------------------------------------------------------------


def test_a_byoc_in_process_job_is_rewritten_to_run_the_sites_confining_command(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    launch = jl.prepare_byoc(
        "job-1", app, run, policy=_policy(), stage=rec.stage, python="/venv/bin/python", require_support=_ok
    )
    assert rec.staged == [("job-1", app)]
    assert launch.staged_records == 120
    args = json.loads((app / "config" / "config_fed_client.json").read_text())["executors"][0]["executor"]["args"]
    assert args["execution_mode"] == "external_process"
    assert args["command"] == [
        "/venv/bin/python", "-I", "-m", "node.site.trainer", "--spec", str(run / "fednode-sandbox" / "spec.json"),
        "--", "/venv/bin/python", "-u", "job_code/train.py", "--data_dir", "data", "--model_dir", "model",
    ]  # fmt: skip
    assert "task_script_path" not in args
    # the job's code left custom/, which NVFlare puts on the job process's own sys.path
    assert not (app / "custom").exists()
    assert (app / "job_code" / "train.py").is_file()


def test_the_spec_confines_to_the_app_folder_with_staged_data_read_only_and_policy_limits(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    policy = _policy(memory_mib=2048, max_processes=32, wall_minutes=90, cpu_minutes=60, file_size_mib=100)
    launch = jl.prepare_byoc("job-1", app, run, policy=policy, stage=Recorder().stage, require_support=_ok)
    spec = SandboxSpec.load(launch.spec_path)
    assert spec.workdir == app
    assert {app / "job_code", app / "data", app / "model"} <= set(spec.read_only)
    assert spec.env["PYTHONPATH"] == str(app / "job_code")
    assert spec.report_path == run / "fednode-sandbox" / "denials.jsonl"
    assert app not in spec.report_path.parents  # the job cannot reach its own report or spec
    assert app not in launch.spec_path.parents
    assert (spec.memory_bytes, spec.max_processes, spec.wall_seconds) == (2048 * 2**20, 32, 90 * 60)
    assert (spec.cpu_seconds, spec.file_size_bytes) == (3600, 100 * 2**20)
    assert spec.connect_ports == ()  # the one loopback port is added per launch by node.site.trainer
    assert not any(k.startswith(("FEDNODE", "NVFLARE")) or "SECRET" in k or "KEY" in k for k in spec.env)
    assert spec.env["HOME"] == str(app)
    assert (launch.spec_path.stat().st_mode & 0o777) == 0o600


def test_default_policy_limits_are_applied(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    launch = jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)
    spec = SandboxSpec.load(launch.spec_path)
    assert spec.memory_bytes == 8192 * 2**20
    assert spec.wall_seconds == 24 * 3600
    assert spec.cpu_seconds is None


def test_where_the_kernel_cannot_confine_the_byoc_job_is_refused_before_anything_is_staged(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    with pytest.raises(SandboxUnavailableError, match="Landlock"):
        jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=rec.stage, require_support=_no_kernel)
    assert rec.staged == []
    assert "in_process" in (app / "config" / "config_fed_client.json").read_text()


def test_a_custom_launcher_command_is_refused_with_what_to_change(tmp_path: Path) -> None:
    ws = _deploy(tmp_path, config=_client_config("external"))
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    with pytest.raises(ByocConfigError, match=r"python3 -u custom/<script>\.py"):
        jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)


def test_a_script_that_is_a_symlink_out_of_custom_is_refused(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    (app / "custom" / "train.py").unlink()
    (app / "custom" / "train.py").symlink_to(tmp_path / "elsewhere.py")
    with pytest.raises(ByocConfigError, match="not a regular file"):
        jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)


def test_an_app_that_already_has_the_code_folder_is_refused(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    (app / "job_code").mkdir()
    with pytest.raises(ByocConfigError, match="job_code"):
        jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)


def test_a_job_cannot_be_prepared_twice(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)
    with pytest.raises((SandboxError, ByocConfigError)):
        jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)


# --- finish_byoc -------------------------------------------------------------------------------------------------


def _report(run: Path, *lines: dict[str, str]) -> None:
    with (run / "fednode-sandbox" / "denials.jsonl").open("a") as fh:
        for line in lines:
            fh.write(json.dumps({"at": "2026-12-05T06:00:00+00:00", **line}) + "\n")


def test_denials_are_audited_by_category_once_and_the_staged_data_removed(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=rec.stage, require_support=_ok)
    connect = {"action": "socket.connect", "category": "network", "target": "tcp:443"}
    read = {"action": "open", "category": "file-read", "target": "omop.db"}
    _report(run, connect, connect, read)
    n = jl.finish_byoc("job-1", app, run, audit=rec.audit, unstage=rec.unstage)
    assert n == 3
    assert rec.unstaged == [app]
    assert [(e, j) for e, j, _ in rec.audited] == [(AuditEvent.SANDBOX_DENIED, "job-1")] * 2
    assert [d for _, _, d in rec.audited] == [
        {"action": "socket.connect", "category": "network", "target": "tcp:443", "count": 2},
        {"action": "open", "category": "file-read", "target": "omop.db", "count": 1},
    ]
    # JOB_COMPLETED twice (or a restart) does not audit the same denials again
    assert jl.finish_byoc("job-1", app, run, audit=rec.audit, unstage=rec.unstage) == 0
    assert len(rec.audited) == 2


def test_a_denial_target_that_is_not_a_short_kind_is_never_audited_verbatim(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)
    _report(run, {"action": "open", "category": "file-read", "target": "Patient Anna Svensson, 19121212-1212"})
    jl.finish_byoc("job-1", app, run, audit=rec.audit, unstage=None)
    assert rec.audited[0][2]["target"] == "other"


def test_many_kinds_of_denial_are_capped_with_a_sum(tmp_path: Path) -> None:
    kinds = {("open", "file-read", f"k{i}"): 1 for i in range(jl.MAX_DENIAL_RECORDS + 5)}
    out = jl.denial_records(kinds)
    assert len(out) == jl.MAX_DENIAL_RECORDS + 1
    assert out[-1] == {"action": "more", "category": "more", "target": "more", "count": 5}


def test_a_config_only_job_has_nothing_to_finish(tmp_path: Path) -> None:
    rec = Recorder()
    assert jl.finish_byoc("job-9", tmp_path / "app", tmp_path, audit=rec.audit, unstage=rec.unstage) == 0
    assert rec.unstaged == [] and rec.audited == []


# --- the environment ---------------------------------------------------------------------------------------------


def test_the_job_process_environment_has_no_secrets() -> None:
    env = {
        "FEDNODE_HOME": "/var/lib/fednode",
        "FEDNODE_SITE_NAME": "site-1",
        "FEDNODE_DEID__SECRET": "s3cret",
        "PGPASSWORD": "pw",
        "AWS_SECRET_ACCESS_KEY": "k",
        "HF_TOKEN": "t",
        "SSH_PRIVATE_KEY": "k",
        "API_KEY": "k",
        "PATH": "/usr/bin",
        "PYTHONPATH": "/app",
    }
    assert jl.job_process_env(env) == {
        "FEDNODE_HOME": "/var/lib/fednode",
        "FEDNODE_SITE_NAME": "site-1",
        "PATH": "/usr/bin",
        "PYTHONPATH": "/app",
    }


# --- the NVFlare component ---------------------------------------------------------------------------------------


class Jobs:
    def __init__(self) -> None:
        self.refused: list[tuple[str, str]] = []

    def mark_refused(self, job_id: str, reason: str, *, actor: str = "site") -> None:
        self.refused.append((job_id, reason))


def _context(policy: SitePolicy | None) -> SiteContext:
    verdict = Verdict(True, (RuleResult("x", RuleOutcome.ALLOW, "ok"),))
    return SiteContext(site_name="site-1", jobs=Jobs(), evaluate=lambda _: verdict, policy=policy)  # type: ignore[arg-type]


def _ctx(ws: Workspace) -> FLContext:
    ctx = FLContext()
    ctx.set_prop(FLContextKey.WORKSPACE_OBJECT, ws, private=True, sticky=False)
    ctx.set_prop(FLContextKey.JOB_PROCESS_ARGS, {}, private=True, sticky=False)
    return ctx


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> list[tuple[list[str], dict[str, str]]]:
    calls: list[tuple[list[str], dict[str, str]]] = []

    def fake_spawn(argv: list[str], env: dict[str, str]) -> object:
        calls.append((argv, env))
        return object()

    monkeypatch.setattr(jl, "spawn_process", fake_spawn)
    monkeypatch.setattr(jl.SiteJobLauncher, "get_command", lambda self, meta, ctx: f"{sys.executable} -m worker")
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "do-not-pass")
    return calls


def test_the_component_starts_a_byoc_job_process_confined_and_without_secrets(
    tmp_path: Path, spawned: list[tuple[list[str], dict[str, str]]]
) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    launcher = jl.SiteJobLauncher(
        context=_context(_policy()), stage=rec.stage, unstage=rec.unstage, audit=rec.audit, require_support=_ok
    )
    launcher.launch_job({"job_id": "job-1", "byoc": True}, _ctx(ws))
    (argv, env) = spawned[0]
    assert argv == [sys.executable, "-m", "worker"]
    assert "FEDNODE_DEID__SECRET" not in env
    assert ws.get_app_custom_dir("job-1") in env["PYTHONPATH"]
    assert "node.site.trainer" in (Path(ws.get_app_dir("job-1")) / "config" / "config_fed_client.json").read_text()

    _report(Path(ws.get_run_dir("job-1")), {"action": "subprocess.Popen", "category": "process", "target": "bash"})
    done = _ctx(ws)
    done.set_prop(FLContextKey.CURRENT_JOB_ID, "job-1", private=True, sticky=False)
    launcher.handle_event(EventType.JOB_COMPLETED, done)
    assert [d["category"] for _, _, d in rec.audited] == ["process"]
    assert rec.unstaged == [Path(ws.get_app_dir("job-1"))]


def test_a_config_only_job_starts_as_nvflare_starts_it(
    tmp_path: Path, spawned: list[tuple[list[str], dict[str, str]]]
) -> None:
    ws = _deploy(tmp_path)
    rec = Recorder()
    launcher = jl.SiteJobLauncher(context=_context(_policy()), stage=rec.stage, require_support=_no_kernel)
    launcher.launch_job({"job_id": "job-1"}, _ctx(ws))
    assert rec.staged == []
    assert "in_process" in (Path(ws.get_app_dir("job-1")) / "config" / "config_fed_client.json").read_text()
    assert spawned[0][1]["FEDNODE_DEID__SECRET"] == "do-not-pass"  # unchanged for the site's own trainer


def test_a_refused_byoc_job_never_starts_and_is_marked_refused_with_the_reason(
    tmp_path: Path, spawned: list[tuple[list[str], dict[str, str]]]
) -> None:
    ws = _deploy(tmp_path)
    context = _context(_policy())
    launcher = jl.SiteJobLauncher(context=context, require_support=_no_kernel)
    with pytest.raises(SandboxUnavailableError):
        launcher.launch_job({"job_id": "job-1", "byoc": True}, _ctx(ws))
    assert spawned == []
    assert context.jobs.refused[0][0] == "job-1"  # type: ignore[attr-defined]
    assert "Landlock" in context.jobs.refused[0][1]  # type: ignore[attr-defined]


def test_without_a_site_policy_byoc_jobs_are_refused(
    tmp_path: Path, spawned: list[tuple[list[str], dict[str, str]]]
) -> None:
    ws = _deploy(tmp_path)
    launcher = jl.SiteJobLauncher(context=_context(None), require_support=_ok)
    with pytest.raises(SandboxUnavailableError, match="no site policy"):
        launcher.launch_job({"job_id": "job-1", "byoc": True}, _ctx(ws))
    assert spawned == []


def test_construction_does_no_io() -> None:
    # NVFlare builds resources.json components in every job process too
    launcher = jl.SiteJobLauncher()
    assert launcher._context is None


def test_limits_map_from_the_policy_section() -> None:
    limits = jl.sandbox_limits(SandboxSection(memory_mib=None, max_processes=300))
    assert limits["memory_bytes"] is None
    assert limits["max_processes"] == 300
    # the default leaves room for the site's own threads, which share the user the kernel counts
    assert jl.sandbox_limits(SandboxSection())["max_processes"] >= 4096


class AuditLogFake:
    def __init__(self) -> None:
        self.appended: list[tuple[object, str, str | None, dict[str, Any]]] = []

    def append(self, event: object, *, actor: str, job_id: str | None = None, details: dict[str, Any]) -> None:
        self.appended.append((event, actor, job_id, details))


def test_without_an_injected_sink_denials_go_to_the_sites_audit_chain(
    tmp_path: Path, spawned: list[tuple[list[str], dict[str, str]]]
) -> None:
    ws = _deploy(tmp_path)
    context = _context(_policy())
    context.audit = AuditLogFake()  # type: ignore[assignment]
    launcher = jl.SiteJobLauncher(context=context, stage=Recorder().stage, unstage=None, require_support=_ok)
    launcher.launch_job({"job_id": "job-1", "byoc": True}, _ctx(ws))
    _report(Path(ws.get_run_dir("job-1")), {"action": "open", "category": "file-read", "target": "keys"})
    done = _ctx(ws)
    done.set_prop(FLContextKey.CURRENT_JOB_ID, "job-1", private=True, sticky=False)
    launcher.handle_event(EventType.JOB_COMPLETED, done)
    (event, actor, job_id, details) = context.audit.appended[0]  # type: ignore[attr-defined]
    assert (event, actor, job_id) == (AuditEvent.SANDBOX_DENIED, "site:site-1", "job-1")
    assert details == {"action": "open", "category": "file-read", "target": "keys", "count": 1}


def test_an_in_process_script_in_a_subfolder_runs_from_its_path(tmp_path: Path) -> None:
    ws = _deploy(tmp_path)
    app, run = Path(ws.get_app_dir("job-1")), Path(ws.get_run_dir("job-1"))
    (app / "custom" / "src").mkdir()
    (app / "custom" / "train.py").rename(app / "custom" / "src" / "train.py")
    launch = jl.prepare_byoc("job-1", app, run, policy=_policy(), stage=None, require_support=_ok)
    assert launch.task.script == "src/train.py"
    args = json.loads((app / "config" / "config_fed_client.json").read_text())["executors"][0]["executor"]["args"]
    assert "job_code/src/train.py" in args["command"]
