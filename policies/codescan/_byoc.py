"""The app-level rules for bring-your-own-code: every file is scanned or refused, configs name only allowed classes.

NVFlare's ``ComponentPathAuthorizer`` returns early for jobs that carry code, so a BYOC job's
``config_fed_client.json`` could build any class in the site's job process. These rules apply the site's
own table (:data:`CLIENT_COMPONENTS`, extended by the policy's ``jobs.byoc_components``) to every object a
client config names, and pin how the task script is started: NVFlare 2.9's ``ClientAPIExecutor`` in
``in_process`` mode with a relative ``custom/*.py`` ``task_script_path``, or in ``external_process`` mode
with exactly the command ``ScriptRunner`` writes (``python3 -u custom/<script>.py <args>``): the site builds
the command it runs from that, so nothing else may stand in it.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

from policies.contracts import Finding

JOB_LAYOUT = "job_layout"
"""Capability of a finding for a file the site will not run or read as part of a job (always refused)."""
JOB_CONFIG = "job_config"
"""Capability of a finding for a client config the site will not build (always refused)."""

CLIENT_CONFIG = "config/config_fed_client.json"
SERVER_CONFIG = "config/config_fed_server.json"

CLIENT_API_EXECUTOR = "nvflare.app_common.executors.client_api_executor.ClientAPIExecutor"

CLIENT_COMPONENTS = frozenset(
    {
        CLIENT_API_EXECUTOR,  # ScriptRunner's executor (in_process and external_process)
        "nvflare.app_common.widgets.convert_to_fed_event.ConvertToFedEvent",  # BaseFedJob.set_up_client
        "nvflare.app_common.filters.exclude_vars.ExcludeVars",  # result filters a job may add to the site's
        "nvflare.app_common.filters.percentile_privacy.PercentilePrivacy",
        "nvflare.app_common.filters.svt_privacy.SVTPrivacy",
    }
)
"""Class paths a BYOC client config may name (what NVFlare 2.9's ScriptRunner / FedJob exports use): the one
table; ``node.site.byoc_config`` checks the same one again at launch."""

SECRET_MARKER = "${secret:"  # noqa: S105 - NVFlare's secret-reference marker, not a secret

EXECUTION_MODES = frozenset({"in_process", "external_process"})
PYTHON_COMMANDS = frozenset({"python3", "python"})

DATA_SUFFIXES = frozenset({".json", ".yaml", ".yml", ".txt", ".md", ".rst", ".csv", ".tsv", ".cfg", ".ini", ".toml"})
"""Text files a job may carry beside its code: shown to the reviewer, read by code, never run by the site."""
PYTHON_SUFFIXES = (".py",)
_CODE_LIKE = frozenset({".pth", ".pyw", ".pyi", ".pyx", ".pxd", ".sh", ".bash", ".ipynb", ".egg-link"})


def is_python(path: str) -> bool:
    """A file the scan parses as Python (``custom/**.py``)."""
    return path.endswith(PYTHON_SUFFIXES)


def local_module_name(path: str) -> str | None:
    """The module name a ``custom/`` Python file is imported as (``custom/pkg/a.py`` -> ``pkg.a``)."""
    p = PurePosixPath(path)
    if not p.parts or p.parts[0] != "custom" or p.suffix != ".py" or len(p.parts) < 2:
        return None
    parts = list(p.parts[1:])
    parts[-1] = parts[-1][: -len(".py")]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None


def check_layout(paths: Iterable[str]) -> list[Finding]:
    """Findings for files a BYOC app may not carry (everything else is Python the scan reads, or plain data)."""
    from policies.manifest import is_signature_file  # policies.manifest imports this package: import late

    findings = []
    for path in sorted(paths):
        p = PurePosixPath(path)
        if is_signature_file(path):
            findings.append(_f(path, JOB_LAYOUT, "named like an NVFlare signature file: NVFlare writes those itself"))
        elif path.startswith("/") or ".." in p.parts:
            findings.append(_f(path, JOB_LAYOUT, "a path outside the app folder"))
        elif p.parts[0] == "config":
            if path not in {CLIENT_CONFIG, SERVER_CONFIG}:
                findings.append(
                    _f(path, JOB_LAYOUT, "NVFlare may read it as configuration: only the two config_fed_*.json")
                )
        elif p.parts[0] == "custom":
            suffix = p.suffix.lower()
            if suffix == ".py":
                continue
            if suffix in _CODE_LIKE or suffix not in DATA_SUFFIXES:
                findings.append(
                    _f(path, JOB_LAYOUT, f"{suffix or 'a file without suffix'}: job code must be .py files")
                )
        elif len(p.parts) == 1 and p.suffix.lower() in {".md", ".txt"}:
            continue
        else:
            findings.append(_f(path, JOB_LAYOUT, "the site runs only config/ and custom/ of an app"))
    return findings


def check_client_config(files: Mapping[str, str | None], allowed: frozenset[str] = CLIENT_COMPONENTS) -> list[Finding]:
    """Findings for the client config of a BYOC app: its classes, its executor and how it starts the script."""
    text = files.get(CLIENT_CONFIG)
    if text is None:
        what = "missing" if CLIENT_CONFIG not in files else "not readable text"
        return [_f(CLIENT_CONFIG, JOB_CONFIG, f"the client config is {what}")]
    try:
        config = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return [_f(CLIENT_CONFIG, JOB_CONFIG, "the client config is not valid JSON")]
    if not isinstance(config, dict):
        return [_f(CLIENT_CONFIG, JOB_CONFIG, "the client config is not a JSON object")]
    findings = []
    lines = _line_finder(text)
    if SECRET_MARKER in text:
        at = text.count("\n", 0, text.index(SECRET_MARKER)) + 1
        findings.append(_f(CLIENT_CONFIG, JOB_CONFIG, "a '${secret:...}' reference: the site resolves no secrets", at))
    for where, obj in config_objects(config, "$"):
        path = obj.get("path")
        if not isinstance(path, str):
            if "name" in obj and "args" in obj:
                findings.append(_f(CLIENT_CONFIG, JOB_CONFIG, f"{where}: name the class by its full path", 1))
            continue
        line = lines(path)
        if path not in allowed:
            findings.append(_f(CLIENT_CONFIG, JOB_CONFIG, f"{where}: class {path} is not on the site's list", line))
        elif path == CLIENT_API_EXECUTOR:
            raw = obj.get("args")
            findings.extend(_check_executor(raw if isinstance(raw, dict) else {}, files, line))
    executors = [o for _, o in config_objects(config, "$") if o.get("path") == CLIENT_API_EXECUTOR]
    if len(executors) != 1:
        findings.append(_f(CLIENT_CONFIG, JOB_CONFIG, f"a BYOC job runs its code through one {CLIENT_API_EXECUTOR}"))
    return findings


def _check_executor(args: Mapping[str, Any], files: Mapping[str, str | None], line: int) -> Iterator[Finding]:
    mode = args.get("execution_mode")
    if mode not in EXECUTION_MODES:
        yield _f(
            CLIENT_CONFIG, JOB_CONFIG, f"execution_mode {mode!r}: the site runs in_process or external_process", line
        )
        return
    if mode == "in_process":
        if args.get("command"):
            yield _f(CLIENT_CONFIG, JOB_CONFIG, "in_process mode takes no command", line)
        script = args.get("task_script_path")
        if not isinstance(script, str) or not script.strip():
            yield _f(CLIENT_CONFIG, JOB_CONFIG, "in_process mode needs task_script_path (custom/<script>.py)", line)
            return
        yield from _check_script(script, files, line)
        script_args = args.get("task_script_args", "")
        if not isinstance(script_args, str):
            yield _f(CLIENT_CONFIG, JOB_CONFIG, "task_script_args must be a string", line)
        else:
            yield from _check_script_args(_split(script_args), line)
        return
    if args.get("task_script_path"):
        yield _f(CLIENT_CONFIG, JOB_CONFIG, "external_process mode takes its script from the command", line)
    command = args.get("command")
    argv = _split(command) if isinstance(command, str) else command
    if not isinstance(argv, list) or not argv or not all(isinstance(a, str) for a in argv):
        yield _f(CLIENT_CONFIG, JOB_CONFIG, "external_process needs the command ScriptRunner writes", line)
        return
    rest = list(argv)
    if rest[0] not in PYTHON_COMMANDS:
        yield _f(
            CLIENT_CONFIG,
            JOB_CONFIG,
            f"command {rest[0][:40]!r}: the site builds the command; only 'python3 -u custom/<script>.py <args>'",
            line,
        )
        return
    rest = rest[1:]
    if rest[:1] == ["-u"]:
        rest = rest[1:]
    if not rest or rest[0].startswith("-"):
        yield _f(
            CLIENT_CONFIG,
            JOB_CONFIG,
            "the command may carry no interpreter options: only 'python3 -u custom/<script>.py <args>'",
            line,
        )
        return
    if not rest[0].startswith("custom/"):
        yield _f(CLIENT_CONFIG, JOB_CONFIG, f"task script {rest[0][:60]!r} must be custom/<script>.py", line)
        return
    yield from _check_script(rest[0], files, line)
    yield from _check_script_args(rest[1:], line)


def _check_script(script: str, files: Mapping[str, str | None], line: int) -> Iterator[Finding]:
    p = PurePosixPath(script)
    if p.is_absolute() or ".." in p.parts or "\\" in script:
        yield _f(CLIENT_CONFIG, JOB_CONFIG, f"task script {script[:60]!r} must be a relative custom/*.py path", line)
        return
    if p.suffix != ".py":
        yield _f(CLIENT_CONFIG, JOB_CONFIG, f"task script {script[:60]!r} is not a .py file the scan reads", line)
        return
    # NVFlare's TaskScriptRunner takes the first file under custom/ whose path ends with "/<script>"
    matches = [f for f in files if f.startswith("custom/") and f"/{f}".endswith(f"/{script}")]
    if not matches:
        yield _f(CLIENT_CONFIG, JOB_CONFIG, f"task script {script[:60]} is not among the app's custom/ files", line)
    elif len(matches) > 1:
        yield _f(CLIENT_CONFIG, JOB_CONFIG, f"task script {script[:60]} matches several files: {sorted(matches)}", line)


def _check_script_args(argv: list[str] | None, line: int) -> Iterator[Finding]:
    if argv is None:
        yield _f(CLIENT_CONFIG, JOB_CONFIG, "task script arguments cannot be split like a command line", line)
        return
    for a in argv:
        value = a.split("=", 1)[-1] if a.startswith("-") else a
        if value.startswith(("/", "~")) or ".." in PurePosixPath(value).parts:
            yield Finding(
                CLIENT_CONFIG,
                line,
                JOB_CONFIG,
                f"argument {value[:60]!r} names a path outside the working directory: the sandbox refuses it",
                "warn",
            )


def _split(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def config_objects(node: object, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in a job config, with a JSONPath-like location (the scan's findings and the site's
    launcher plan walk configs with this one function)."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from config_objects(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from config_objects(v, f"{where}[{i}]")


def _line_finder(text: str) -> Any:
    def line_of(needle: str) -> int:
        at = text.find(json.dumps(needle))
        return text.count("\n", 0, at) + 1 if at >= 0 else 1

    return line_of


def _f(path: str, capability: str, message: str, line: int = 0) -> Finding:
    return Finding(path, line, capability, message)
