"""What a BYOC job's client config may ask for, and the confined form the site rewrites it into.

A researcher's ordinary NVFlare 2.9 Client API job (``ScriptRunner``) has one ``ClientAPIExecutor`` whose
training script runs either *in process* (``task_script_path`` + ``task_script_args``: inside the job process,
beside the site's filters and egress guard) or as an *external process* (``command``, by default
``python3 -u custom/<script>.py <args>``). The site runs either form the same way: as an external process whose
command the site builds itself (:func:`confined_config`), the job's own interpreter and launcher replaced by the
site's confining wrapper. Anything else is refused with a reason that says what to change
(:func:`plan_client_config`): the same check runs at the gate (the verdict) and again at launch.

Rules (see ``docs/site-client.md``):

* exactly one executor, :data:`CLIENT_API_EXECUTOR`, in ``in_process`` or ``external_process`` mode;
* the script is a relative ``.py`` path inside the app's ``custom/`` folder (no ``..``, no absolute path);
* in ``external_process`` mode the command is ``python``/``python3`` [``-u``] ``custom/<script>.py`` [args]:
  no other launcher, interpreter or flag (``ScriptRunner(script=..., launch_external_process=True)`` writes
  exactly that);
* every class the config names (components, filters, nested ``args``) is on :data:`BYOC_ALLOWED_CLASSES`: a
  class from the job's own code would be built inside the job process. Classes are named by ``path`` (a bare
  class ``name`` that NVFlare would resolve by scanning modules is refused);
* no NVFlare secret reference (``${secret:NAME}``, ``${secret:file:PATH}``) anywhere: the job process would
  resolve it from its own environment or ANY file it can read (the site key) into the job's arguments.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from fednode.errors import ByocConfigError
from policies.codescan import CLIENT_COMPONENTS, config_objects

CLIENT_API_EXECUTOR = "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor"
"""The one executor a BYOC job may use (NVFlare 2.9's Client API executor)."""

BYOC_ALLOWED_CLASSES: tuple[str, ...] = tuple(sorted(CLIENT_COMPONENTS))
"""Classes a BYOC client config may name: the one table, ``policies.codescan.CLIENT_COMPONENTS`` (the scan
applies it at the gate); all of them run in the job process, none launches anything."""

IN_PROCESS = "in_process"
EXTERNAL_PROCESS = "external_process"

SHARED_ARGS: frozenset[str] = frozenset(
    {
        "execution_mode",
        "task_wait_timeout",
        "result_wait_timeout",
        "train_task_name",
        "evaluate_task_name",
        "submit_model_task_name",
        "train_with_evaluation",
        "params_exchange_format",
        "server_expected_format",
        "params_transfer_type",
        "memory_gc_rounds",
        "cuda_empty_cache",
    }
)
"""Executor arguments valid in both modes: kept as the researcher wrote them."""

EXTERNAL_ARGS: frozenset[str] = frozenset(
    {
        "command",
        "launch_once",
        "launch_timeout",
        "shutdown_timeout",
        "stop_grace_period",
        "heartbeat_interval",
        "heartbeat_timeout",
    }
)
IN_PROCESS_ARGS: frozenset[str] = frozenset({"task_script_path", "task_script_args"})

PYTHON_NAMES = re.compile(r"^python(3(\.\d{1,2})?)?$")
_SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
_CLASS_NAME = re.compile(r"^[A-Z][A-Za-z0-9_]*$")
_CLASS_KEYS = ("path", "class_path")
SECRET_MARKER = "${secret:"  # noqa: S105  # NVFlare's secret-reference marker, not a secret

HOW_TO = "use NVFlare's ScriptRunner(script='custom-relative .py', script_args=...)"


@dataclass(frozen=True)
class TaskScript:
    """The job's training script as the site will run it (confined, cwd = the app folder)."""

    script: str
    """POSIX path relative to the app's ``custom/`` folder, e.g. ``train.py`` or ``src/train.py``."""
    args: tuple[str, ...]
    """The script's arguments, already split."""
    mode: str
    """The mode the researcher wrote (``in_process`` or ``external_process``); the site always runs external."""

    @property
    def app_path(self) -> str:
        """The script relative to the app folder (the external process's working directory)."""
        return f"custom/{self.script}"


def plan_client_config(config: Mapping[str, Any], extra_classes: Iterable[str] = ()) -> TaskScript:
    """The task script of a BYOC client config, or :class:`ByocConfigError` saying what to change.

    ``extra_classes``: what the site's policy adds to the table (``jobs.byoc_components``), so the gate's verdict
    and the launcher accept exactly the same classes.
    """
    if not isinstance(config, Mapping):
        raise ByocConfigError("config_fed_client.json must be a JSON object")
    _check_classes(config, extra_classes)
    if SECRET_MARKER in json.dumps(config):
        raise ByocConfigError(
            "the config holds a '${secret:...}' reference: the site does not resolve secrets for job code; remove it"
        )
    executors = config.get("executors")
    if not isinstance(executors, list) or len(executors) != 1 or not isinstance(executors[0], Mapping):
        raise ByocConfigError(f"a BYOC job's client config must have exactly one executor: {HOW_TO}")
    executor = executors[0].get("executor")
    if not isinstance(executor, Mapping) or executor.get("path") != CLIENT_API_EXECUTOR:
        raise ByocConfigError(f"the executor must be {CLIENT_API_EXECUTOR} (NVFlare's Client API): {HOW_TO}")
    args = executor.get("args", {})
    if not isinstance(args, Mapping):
        raise ByocConfigError("the executor's args must be a JSON object")
    mode = args.get("execution_mode")
    unknown = sorted(set(args) - SHARED_ARGS - EXTERNAL_ARGS - IN_PROCESS_ARGS)
    if unknown:
        raise ByocConfigError(
            f"executor argument(s) {', '.join(unknown)} cannot run confined at this site: remove them"
        )
    if mode == IN_PROCESS:
        return _plan_in_process(args)
    if mode == EXTERNAL_PROCESS:
        return _plan_external(args)
    raise ByocConfigError(
        f"execution_mode {mode!r} cannot run at this site: use 'in_process' or 'external_process' ({HOW_TO})"
    )


def resolve_script(task: TaskScript, app_files: Iterable[str]) -> TaskScript:
    """``task`` with its script found among the app's files (app-relative POSIX paths), as NVFlare finds it.

    An external-process command names its script literally (``custom/<path>``). An in-process
    ``task_script_path`` is matched as NVFlare's ``TaskScriptRunner`` does: the file under ``custom/`` whose path
    ends with ``/<task_script_path>``; it must be exactly one. :class:`ByocConfigError` otherwise.
    """
    files = [f for f in app_files if f.startswith("custom/")]
    if task.app_path in files:
        return task
    if task.mode == IN_PROCESS:
        matches = sorted(f for f in files if f"/{f}".endswith(f"/{task.script}"))
        if len(matches) == 1:
            return replace(task, script=matches[0].removeprefix("custom/"))
        if len(matches) > 1:
            raise ByocConfigError(f"the training script {task.script} matches several files: name it by its path")
    raise ByocConfigError(f"the training script {task.script} named in the config is not in the app's custom/ folder")


def plan_client_config_text(text: str, extra_classes: Iterable[str] = ()) -> TaskScript:
    """:func:`plan_client_config` of the JSON text of ``config_fed_client.json``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ByocConfigError(f"config_fed_client.json is not JSON (line {exc.lineno})") from None
    return plan_client_config(data, extra_classes)


def confined_config(
    config: Mapping[str, Any], command: Sequence[str], extra_classes: Iterable[str] = ()
) -> dict[str, Any]:
    """``config`` with its executor switched to an external process that runs exactly ``command``.

    ``command`` is the site's own argv (its wrapper around ``python -u custom/<script>.py <args>``); every
    mode-specific argument the researcher gave is dropped, the shared ones are kept.
    """
    plan_client_config(config, extra_classes)  # refuses what cannot run confined, before anything is rewritten
    out: dict[str, Any] = json.loads(json.dumps(config))
    executor = out["executors"][0]["executor"]
    old = executor.get("args", {})
    new = {k: v for k, v in old.items() if k in SHARED_ARGS}
    for key in ("launch_timeout", "shutdown_timeout", "stop_grace_period", "heartbeat_interval", "heartbeat_timeout"):
        if key in old and old.get("execution_mode") == EXTERNAL_PROCESS:
            new[key] = old[key]
    new["execution_mode"] = EXTERNAL_PROCESS
    new["command"] = list(command)
    new["launch_once"] = True
    executor["args"] = new
    return out


def _plan_in_process(args: Mapping[str, Any]) -> TaskScript:
    extra = sorted(set(args) & EXTERNAL_ARGS)
    if extra:
        raise ByocConfigError(f"{', '.join(extra)} is not valid with execution_mode 'in_process': remove it")
    script = args.get("task_script_path")
    if not isinstance(script, str) or not script.strip():
        raise ByocConfigError("task_script_path is missing: name the job's .py training script")
    raw_args = args.get("task_script_args", "")
    if isinstance(raw_args, list) and all(isinstance(a, str) for a in raw_args):
        split = tuple(raw_args)
    elif isinstance(raw_args, str):
        split = _split(raw_args)
    else:
        raise ByocConfigError("task_script_args must be a string")
    return TaskScript(script=_script_path(script.strip(), "task_script_path"), args=split, mode=IN_PROCESS)


def _plan_external(args: Mapping[str, Any]) -> TaskScript:
    extra = sorted(set(args) & IN_PROCESS_ARGS)
    if extra:
        raise ByocConfigError(f"{', '.join(extra)} is not valid with execution_mode 'external_process': remove it")
    command = args.get("command")
    if isinstance(command, str):
        argv = _split(command)
    elif isinstance(command, list) and all(isinstance(a, str) for a in command):
        argv = tuple(command)
    else:
        raise ByocConfigError("command must be a string or a list of strings")
    if len(argv) < 2 or not PYTHON_NAMES.match(argv[0]):
        raise ByocConfigError(
            "a custom launcher command cannot run at this site: the command must be "
            f"'python3 -u custom/<script>.py <args>' (the site supplies its own interpreter); {HOW_TO}"
        )
    rest = list(argv[1:])
    while rest and rest[0] == "-u":
        rest.pop(0)
    if not rest or not rest[0].startswith("custom/"):
        raise ByocConfigError(
            "the command must run a script in the app's custom/ folder, as "
            f"'python3 -u custom/<script>.py <args>', without other interpreter options; {HOW_TO}"
        )
    script = _script_path(rest[0].removeprefix("custom/"), "command")
    return TaskScript(script=script, args=tuple(rest[1:]), mode=EXTERNAL_PROCESS)


def _script_path(value: str, field: str) -> str:
    norm = posixpath.normpath(value)
    parts = norm.split("/")
    if (
        value.startswith("/")
        or "\\" in value
        or norm != value.removeprefix("./")
        or not norm.endswith(".py")
        or not all(_SAFE_PART.match(p) for p in parts)
    ):
        raise ByocConfigError(
            f"{field}: the training script must be a relative .py path inside the app's custom/ folder "
            "(no '..', no absolute path, plain file names)"
        )
    return norm


def _split(text: str) -> tuple[str, ...]:
    try:
        return tuple(shlex.split(text))
    except ValueError:
        raise ByocConfigError("the script arguments cannot be split (an unclosed quote?)") from None


def _check_classes(config: Mapping[str, Any], extra_classes: Iterable[str] = ()) -> None:
    allowed = set(BYOC_ALLOWED_CLASSES) | set(extra_classes)
    for where, node in config_objects(config, "config"):
        for key in _CLASS_KEYS:
            value = node.get(key)
            if isinstance(value, str) and value not in allowed:
                raise ByocConfigError(
                    f"{where}: class {value!r} is not on this site's list for BYOC jobs (it would run inside the "
                    "site's job process): put your code in the training script instead"
                )
        name = node.get("name")
        if isinstance(name, str) and _CLASS_NAME.match(name) and ("args" in node or where.endswith("]")):
            raise ByocConfigError(f"{where}: name classes by their full 'path', not by a bare class name {name!r}")
