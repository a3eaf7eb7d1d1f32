"""The sweep (issue 13): every command and subcommand, on an empty home, with the ordinary mistakes a person makes.

For each command the table says how its file and folder inputs are passed. Each input is tried as a nonexistent
path, an empty file, a binary file (NUL bytes, invalid UTF-8) and a text file with one broken line (or, for a
folder, an empty folder, a file where a folder belongs and a folder holding one broken file); ``--db`` as a value
that is not a URL and a PostgreSQL that is down. Every case must:

- exit with a documented, non-zero code, print no traceback but an ``Error:`` line (or click's usage text);
- name the input (its path or its option);
- create or change no file anywhere (inputs, working folder and home are snapshotted; the home must not appear).
  The one exception is a row marked ``partial``: a broken line there is a counted partial result, exit 4, written
  only beside its ``--output`` (docs/deid.md);
- with ``--json`` typed AFTER the subcommand, print exactly one JSON object on stdout, ``ok`` false.

The command list is read from the click tree, so a new command without a row fails ``test_every_command_has_a_row``:
add a sweep row. Commands that run for a long time (demo, experiments, the services, the dashboard) run in a
subprocess with a short timeout and only exercise their input checks; a missing input must also be reported before
torch, Presidio, transformers or NVFlare is imported (``test_an_input_error_loads_no_heavy_module``).

Rows still failing are listed in ``FINDINGS`` (owner beside each) and marked strict xfail, so a fix forces the
entry out; /work/notes/sweep-findings.md says what each one prints.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from node.cli.main import app

USAGE, BAD_INPUT = 2, 4
MISSING, EMPTY, BINARY, BROKEN = "missing", "empty", "binary", "broken"
FILE_CASES = (MISSING, EMPTY, BINARY, BROKEN)
HOME_FILE = "home-is-a-file"  # FEDNODE_HOME names a (binary) file, not a folder
VALID = "valid"  # a well-formed file that still cannot work on an empty home (notes with no CDM to join)
NOT_A_URL, DOWN = "not-a-url", "down"
URLS = {NOT_A_URL: "notaurl", DOWN: "postgresql+psycopg://fednode@127.0.0.1:9/omop"}  # port 9: nothing listens
BINARY_BYTES = b"\x00\x01\xff\xfe\x80PK\x03\x04\x00\xc3\x28\n\x89PNG\r\n\x1a\n" * 8
PROCESS_TIMEOUT_S = 20
REPO = Path(__file__).resolve().parents[3]
CLEAN_JOB = REPO / "tests" / "policies" / "fixtures" / "clean_config_job"  # a well-formed NVFlare job folder
SYNTHEA = REPO / "fednode" / "data" / "synthea-sample"
POLICY = REPO / "policies" / "examples" / "site-policy.yaml"

# What a file with one broken line looks like, per kind of input (the first line is well formed).
BROKEN_TEXT = {
    "notes": (
        '{"note_id": "n1", "person_source_value": "p1", "note_date": "2024-01-01", "title": "Visit", '
        '"text": "Seen in clinic today."}\n{"note_id": "n2", "text": \n'
    ),
    "detect": '{"id": "n1", "text": "Seen in clinic today."}\n{"id": "n2", "text": \n',
    "gold": '{"text": "Seen today.", "lang": "en", "phi": []}\n{"text": "x", "phi": [{"start": \n',
    "audit": '{"seq": 1, "event": "site:initialised"}\n{"seq": 2, \n',
    "receipt": '{"body": {"job_id": "job-1",\n',
    "pem": "-----BEGIN PUBLIC KEY-----\nnot base64 at all !!\n-----END PUBLIC KEY-----\n",
    "yaml": "version: 1\nsite: [unclosed\n",
    "accept": "plausible_value_low:measurement.value_as_number\n\x7f{not a check\n",
    "json": '{"ok": 1,\n',
    "sshsig": "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH not base64 !!\n-----END SSH SIGNATURE-----\n",
    "statement": "fednode-approval-v1\njob: job-nope\ntime: yesterday\n",
}
# A folder input's one broken file: (file name, text).
BROKEN_FOLDER = {
    "synthea": ("patients.csv", 'Id,BIRTHDATE,GENDER\np1,1970-01-01,F\n"p2,1980-\n'),
    "vocab": ("CONCEPT.csv", 'concept_id\tconcept_name\n1\tok\n2\t\t\t"\n'),
    "job": ("meta.json", '{"name": "x", "deploy_map": \n'),
    "kit": ("startup/fed_client.json", '{"format_version": 2,\n'),
    "federation": ("federation.json", '{"sites": [\n'),
    "ncbi": ("train.tsv", "Sentence\tO\n\x00\xff\n"),
    "home": ("state.db", "not an SQLite database\n"),
    "model": ("model.json", '{"schema": \n'),
    "card": ("model_card.json", '{"schema": \n'),
}


@dataclass(frozen=True)
class Input:
    """One file or folder a command reads. ``option`` is "" for a positional argument."""

    option: str
    kind: str
    folder: bool = False
    cases: tuple[str, ...] = FILE_CASES
    codes: frozenset[int] = frozenset({BAD_INPUT})
    extra: tuple[str, ...] = ()  # what this input needs beside it (``etl --vocab`` needs a ``--source``)
    prefix: str = ""  # typed before the path, in one value (``--site-key site-1=FILE``)
    partial: bool = False  # a broken line is a counted partial result: exit 4, outputs only in the --output folder


@dataclass(frozen=True)
class Row:
    """A command, what it needs besides the input under test, and how it must fail."""

    command: tuple[str, ...]
    inputs: tuple[Input, ...] = ()
    extra: tuple[str, ...] = ()  # other arguments, so the command reaches its input checks
    no_home_case: str = ""  # why it is not also run with no inputs on the empty home (it needs no site)
    home_codes: frozenset[int] = frozenset({BAD_INPUT})
    names: tuple[str, ...] = ()  # what the empty-home message may name besides the home
    process: bool = False  # long-running or exec'ing: a subprocess with a timeout
    env: tuple[tuple[str, str], ...] = ()  # settings the command needs to get as far as its inputs
    unswept: tuple[tuple[str, str], ...] = ()  # (path option, why it is not an input here)
    why_no_inputs: str = ""


DOCTOR_FAILED = frozenset({1})  # `fednode doctor`: a check failed (docs/deployment.md, Troubleshooting)
_CREATED_ON_SUCCESS = "an output: a run that succeeds may create it and its folder"


def _in(option: str, kind: str, **kw: Any) -> Input:
    return Input(option, kind, **kw)


def _dir(option: str, kind: str, **kw: Any) -> Input:
    return Input(option, kind, folder=True, **kw)


def _out(option: str, **kw: Any) -> Input:
    """An output file whose folder does not exist (where the command must fail anyway: a successful command may
    create its output folder)."""
    return Input(option, "out", cases=(MISSING,), **kw)


def _db(**kw: Any) -> Input:
    """``--db``: a value that is not a URL, and a PostgreSQL that is not there (a service error, exit 1)."""
    return Input("--db", "url", cases=(NOT_A_URL, DOWN), codes=frozenset({USAGE, BAD_INPUT, 1}), **kw)


ROWS: tuple[Row, ...] = (
    Row(
        ("etl",),
        (
            _dir("--source", "synthea"),
            _dir("--vocab", "vocab", extra=("--source", "{synthea}")),
            _in("--notes", "notes", cases=(*FILE_CASES, VALID)),
            _db(extra=("--source", "{synthea}")),
        ),
        names=("--source",),
        home_codes=frozenset({USAGE, BAD_INPUT}),
    ),
    Row(("dq",), (_in("--accept", "accept"), _db()), names=("etl",)),
    Row(
        ("deid", "detect"),
        (_in("--input", "detect", partial=True),),
        extra=("--output", "{out}/spans.jsonl"),
        unswept=(("--output", _CREATED_ON_SUCCESS),),
        no_home_case="file to file: reads no site",
    ),
    Row(  # file mode (--output), so a broken line is reached; the home case loads into the CDM that is not there
        ("deid", "run"),
        (_in("--input", "notes", extra=("--output", "{out}/deid.jsonl"), partial=True), _db()),
        extra=("--input", "{notes}"),
        env=(("FEDNODE_DEID__SECRET", "s" * 32),),
        unswept=(("--output", _CREATED_ON_SUCCESS),),
    ),
    Row(
        ("deid", "eval"),
        (_in("--gold", "gold"),),
        unswept=(("--output", _CREATED_ON_SUCCESS),),
        no_home_case="file to report: reads no site",
    ),
    Row(
        ("deid", "gold"),
        (_dir("--out", "out", cases=(BINARY,), codes=frozenset({USAGE, BAD_INPUT})),),
        names=("--out",),
        home_codes=frozenset({USAGE}),
    ),
    Row(("jobs",), extra=("--job", "job-nope"), why_no_inputs="reads only the home"),
    Row(
        ("approve",),
        (
            _in("--signature", "sshsig", extra=("--signed", "{statement}")),
            _in("--signed", "statement", extra=("--signature", "{sshsig}")),
        ),
        extra=("job-nope", "--reason", "typo"),
    ),
    Row(("reject",), extra=("job-nope", "--reason", "typo"), why_no_inputs="reads only the home"),
    Row(("approvers", "enroll"), extra=("alice",), names=("policy",), why_no_inputs="reads only the home"),
    Row(("approvers", "keys"), names=("policy",), why_no_inputs="reads only the site policy"),
    Row(("audit", "verify"), (_in("--file", "audit"), _in("--public-key", "pem"), _in("--anchors", "json"))),
    Row(
        ("audit", "export"),
        (_out("--out"),),
        unswept=(("--ro-crate", "an output folder; on an empty home the missing site is what is reported"),),
        home_codes=frozenset({USAGE, BAD_INPUT}),
    ),
    Row(("ledger", "show"), extra=("--dataset", "nope"), why_no_inputs="reads only the home"),
    Row(("receipt", "issue"), (_dir("--out", "out", cases=(MISSING,)),), extra=("job-nope",)),
    Row(
        ("receipt", "verify"),
        (_in("", "receipt"), _in("--public-key", "pem"), _dir("--home", "home"), _in("--policy", "yaml")),
        extra=("--public-key", "{pem}", "{receipt}"),
        no_home_case="a file checked with a given key: reads no site",
    ),
    Row(("policy", "check"), (_dir("", "job"), _in("--policy", "yaml")), extra=("{job}",), names=("policy",)),
    Row(
        ("policy", "compile"),
        (
            _in("--policy", "yaml"),
            _in("--base-resources", "json", extra=("--policy", "{policy}", "--out", "{out}/local")),
            _dir("--out", "out", cases=(BINARY,), extra=("--policy", "{policy}")),
        ),
        names=("policy",),
    ),
    Row(
        ("provision",),
        (_dir("--out", "out", cases=(BINARY,)), _in("--site-key", "pem", prefix="site-1=")),
        no_home_case="writes kits into --out: needs no site",
    ),
    Row(
        ("study", "submit"),
        (
            _dir("--federation", "federation"),
            _dir("--job-folder", "job"),
            _in("--limitations", "limitations", cases=(MISSING, EMPTY, BINARY)),
        ),
        extra=("--limitations", "{limitations}"),
        names=("federation",),
    ),
    Row(
        ("model", "card"),
        (_dir("", "card", codes=frozenset({BAD_INPUT, 5})), _in("--public-key", "pem")),
        extra=("{card}",),
        no_home_case="reads a downloaded model folder, not a site",
    ),
    Row(("study", "status"), (_dir("--federation", "federation"),), extra=("job-nope",), names=("federation",)),
    Row(("study", "resume"), (_dir("--federation", "federation"),), extra=("job-nope",), names=("federation",)),
    Row(("study", "anchors"), (_dir("--federation", "federation"), _out("--out")), names=("federation",)),
    Row(("sites",), (_dir("--federation", "federation"),), names=("federation",)),
    Row(
        ("study", "download"),
        (_dir("--federation", "federation"), _in("--site-key", "pem", prefix="site-1=")),
        extra=("job-nope",),
        unswept=(("--out", _CREATED_ON_SUCCESS),),
        names=("federation",),
    ),
    Row(
        ("ner", "predict"),
        (
            _in("--input", "notes"),
            _in("--coordinator-key", "pem"),
            _db(extra=("--coordinator-key", "{pem}")),
            _dir("--model", "model", extra=("--coordinator-key", "{pem}")),
        ),
        extra=("--model", "{out}/model"),
    ),
    Row(
        ("demo",),
        (_dir("--job", "job"), _dir("--workdir", "out", cases=(BINARY,))),
        extra=("--workdir", "{out}/demo"),
        no_home_case="builds its own federation in --workdir",
        process=True,
    ),
    Row(
        ("experiment", "clients"),  # imbalance shares its checks (node/cli/commands_experiment.py::_config)
        (_dir("--data-dir", "ncbi"), _dir("--out", "out", cases=(BINARY,))),
        extra=("--out", "{out}/clients"),
        no_home_case="the bundled corpus: reads no site",
        process=True,
    ),
    Row(
        ("experiment", "imbalance"),
        (_dir("--data-dir", "ncbi"),),
        extra=("--out", "{out}/imbalance"),
        unswept=(("--out", "checked by the code `experiment clients` shares (its --out row)"),),
        no_home_case="the bundled corpus: reads no site",
        process=True,
    ),
    Row(
        ("site", "init"),
        no_home_case="creates the site's state by design",
        why_no_inputs="creates the site's state by design (its own tests)",
    ),
    Row(
        ("site", "start"),
        # a typed --site-key that is absent means "create one" (its help): only unreadable keys are errors, and
        # the key is the deployment's configuration (a compose secret): ConfigError, exit 2, is documented too
        (
            _dir("--kit", "kit"),
            _in("--site-key", "pem", cases=(BINARY, BROKEN), extra=("--kit", "{kit}"), codes=frozenset({USAGE, 4})),
        ),
        no_home_case="boots the site: creates its state by design",
        process=True,
    ),
    Row(
        ("coordinator", "start"),
        (_dir("--kit", "kit"), _dir("--admin-kit", "kit", extra=("--kit", "{kit}"))),
        no_home_case="the coordinator has no site home",
        process=True,
    ),
    Row(("dashboard",), process=True, why_no_inputs="reads only the home; must refuse an empty one before the TUI"),
    Row(  # a diagnosis: every problem is a failed check in its report, exit 1 naming the checks that failed
        ("doctor",),
        (
            _dir("--kit", "kit", codes=DOCTOR_FAILED),
            _dir("--admin-kit", "kit", extra=("--coordinator",), codes=DOCTOR_FAILED),
        ),
        home_codes=DOCTOR_FAILED,
    ),
)

# Rows failing today: "<command> <option> <case>", "<command> home" or "<command> heavy" -> owner.
# Strict xfail: a fixed row fails until its entry is removed here.
FINDINGS: dict[str, str] = {}


def _leaf_commands() -> list[tuple[str, ...]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, ...]] = []

    def walk(cmd: Any, path: tuple[str, ...]) -> None:
        subs = getattr(cmd, "commands", None)
        if not subs:
            found.append(path)
            return
        for name, sub in subs.items():
            walk(sub, (*path, name))

    walk(root, ())
    return sorted(found)


def test_every_command_has_a_row() -> None:
    rows = {r.command for r in ROWS}
    missing = [" ".join(c) for c in _leaf_commands() if c not in rows]
    assert not missing, f"add a sweep row for: {', '.join(missing)}"
    stale = [" ".join(c) for c in rows if c not in set(_leaf_commands())]
    assert not stale, f"sweep rows for commands that no longer exist: {', '.join(stale)}"
    for r in ROWS:
        assert r.inputs or r.why_no_inputs, f"{' '.join(r.command)}: no inputs and no reason why"


def test_every_path_option_is_swept_or_says_why() -> None:
    """A new file or folder option (or argument, shown as ARG) needs an input in its row, or a reason in ``unswept``."""
    root = typer.main.get_command(app)
    for path in _leaf_commands():
        cmd: Any = root
        for name in path:
            cmd = cmd.commands[name]
        ctx = typer.Context(cmd)
        paths = {
            (p.opts[0] if p.param_type_name == "option" else "")
            for p in cmd.params
            if p.display_type(ctx).strip("<>") in ("path", "file", "directory")
        }
        row = next(r for r in ROWS if r.command == path)
        covered = {i.option for i in row.inputs} | {o for o, _ in row.unswept}
        missing = sorted(o or "ARG" for o in paths - covered)
        assert not missing, f"{' '.join(path)}: add a sweep input (or an unswept reason) for {', '.join(missing)}"


@dataclass
class Case:
    row: Row
    input: Input | None
    case: str
    id: str = field(init=False)

    def __post_init__(self) -> None:
        cmd = " ".join(self.row.command)
        self.id = f"{cmd} {self.case}" if self.input is None else f"{cmd} {self.input.option or 'ARG'} {self.case}"


def _cases(json_mode: bool) -> list[Any]:
    """Every case of every row. A subprocess row (seconds each) runs its missing and binary cases, and under
    ``--json`` only its first case: enough to show its input checks come first."""
    out: list[Any] = []
    for row in ROWS:
        cases = [] if row.no_home_case else [Case(row, None, "home")]
        for i in row.inputs:
            chosen = [c for c in i.cases if c in (MISSING, BINARY)] if row.process else list(i.cases)
            cases += [Case(row, i, c) for c in (chosen[:1] if row.process and json_mode else chosen)]
        for c in cases:
            marks = []
            key = f"{c.id} json" if json_mode and f"{c.id} json" in FINDINGS else c.id
            if key in FINDINGS:
                marks.append(pytest.mark.xfail(strict=True, reason=f"issue 13: {FINDINGS[key]}"))
            out.append(pytest.param(c, id=c.id, marks=marks))
    return out


def _make(base: Path, inp: Input, case: str) -> Path:
    """The input under test (for a folder input: missing, an empty folder, a file, a folder with a broken file)."""
    if inp.kind == "url":
        return Path(URLS[case])  # not a path: a database URL (see _target)
    name = f"{inp.kind}-{case}"
    path = base / name
    if case == MISSING:
        return base / "nowhere" / name
    if inp.folder:
        if case == BINARY:  # a binary file where a folder belongs
            path.write_bytes(BINARY_BYTES)
        else:
            path.mkdir()
            if case == BROKEN and inp.kind in BROKEN_FOLDER:
                rel, text = BROKEN_FOLDER[inp.kind]
                (path / rel).parent.mkdir(parents=True, exist_ok=True)
                (path / rel).write_text(text, encoding="utf-8")
        return path
    if case == VALID:
        path.write_text(BROKEN_TEXT[inp.kind].splitlines()[0] + "\n", encoding="utf-8")
    elif case == EMPTY:
        path.write_bytes(b"")
    elif case == BINARY:
        path.write_bytes(BINARY_BYTES)
    else:
        path.write_text(BROKEN_TEXT[inp.kind], encoding="utf-8")
    return path


def _snapshot(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_size if p.is_file() else -1 for p in sorted(root.rglob("*"))}


def _target(base: Path, inp: Input, case: str) -> str:
    return URLS[case] if inp.kind == "url" else str(_make(base, inp, case))


def _helpers(base: Path, out: Path) -> dict[str, str]:
    """Well-formed companions for the inputs not under test: a public key, a receipt, notes, a job folder, an
    extract."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pem = base / "site-public.pem"
    pem.write_bytes(
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    receipt = base / "receipt.json"
    receipt.write_text(json.dumps({"body": {"job_id": "job-1"}, "key_id": "k", "signature": "AA=="}), "utf-8")
    kit = base / "kit"  # looks like a startup kit, so the inputs beside it are reached
    (kit / "startup").mkdir(parents=True)
    for name in ("sub_start.sh", "rootCA.pem", "fed_client.json", "fed_server.json"):
        (kit / "startup" / name).write_text("# not a real kit\n", encoding="utf-8")
    notes = base / "notes.jsonl"
    notes.write_text(BROKEN_TEXT["notes"].splitlines()[0] + "\n", encoding="utf-8")
    statement = base / "statement.txt"  # an approval statement and a well-formed SSH signature over it
    statement.write_text("fednode-approval-v1\njob: job-nope\ntime: 2026-12-05T10:00:00Z\n", encoding="utf-8")
    sshsig = base / "statement.txt.sig"
    sshsig.write_text(_sshsig(statement.read_bytes()), encoding="ascii")
    limitations = base / "limitations.md"  # the submitter's own words for the model card
    limitations.write_text("Trained on English discharge notes only.\n", encoding="utf-8")
    card = base / "card"  # a model folder (its card is read after --public-key)
    card.mkdir()
    return {
        "out": str(out),
        "pem": str(pem),
        "receipt": str(receipt),
        "notes": str(notes),
        "policy": str(POLICY),
        "kit": str(kit),
        "job": str(CLEAN_JOB),
        "synthea": str(SYNTHEA),
        "statement": str(statement),
        "sshsig": str(sshsig),
        "limitations": str(limitations),
        "card": str(card),
    }


def _sshsig(message: bytes) -> str:
    """An armored SSHSIG by a throwaway Ed25519 key (as ``ssh-keygen -Y sign -n fednode-approval`` makes)."""
    import struct

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from policies.approver_keys import armor, signed_data

    def string(value: bytes) -> bytes:
        return struct.pack(">I", len(value)) + value

    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    signature = string(b"ssh-ed25519") + string(key.sign(signed_data(message)))
    return armor(string(b"ssh-ed25519") + string(raw), signature)


def _args(c: Case, base: Path, out: Path) -> tuple[list[str], str | None, list[str]]:
    """The command line for a case, the input path under test, and the companion paths it also names."""
    helpers = _helpers(base, out)
    target = None if c.input is None else _target(base, c.input, c.case)
    extra = list(c.row.extra) + (list(c.input.extra) if c.input is not None else [])
    if c.input is not None and c.input.option in extra:  # the row's value for this option makes way
        i = extra.index(c.input.option)
        del extra[i : i + 2]
    args = list(c.row.command)
    for a in extra:
        if c.input is not None and not c.input.option and a == "{" + c.input.kind + "}":
            args.append(str(target))
        else:
            args.append(a.format(**helpers))
    if c.input is not None and c.input.option:
        args += [c.input.option, c.input.prefix + str(target)]
    elif c.input is not None and str(target) not in args:
        args.append(str(target))
    used = [v for v in helpers.values() if v in args]
    return args, target, used


@dataclass
class Outcome:
    code: int
    stdout: str
    stderr: str
    crashed: str = ""


def _invoke(row: Row, args: list[str], home: Path, cwd: Path) -> Outcome:
    env = {"FEDNODE_HOME": str(home), "COLUMNS": "80", **dict(row.env)}
    if row.process:
        full = {k: v for k, v in os.environ.items() if not k.startswith("FEDNODE_")}
        full.update(env, TERM="dumb")
        # its own session, so a command that wrongly started a service is stopped with everything it spawned
        proc = subprocess.Popen(  # our own CLI
            [_fednode(), *args],
            cwd=cwd,
            env=full,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
        )
        try:
            stdout, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            stdout, stderr = proc.communicate()
            return Outcome(-1, stdout, stderr, crashed=f"ran past {PROCESS_TIMEOUT_S} s")
        return Outcome(proc.returncode, stdout, stderr)
    result = CliRunner().invoke(app, args, env=env)
    crashed = ""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        crashed = f"{type(result.exception).__name__}: {result.exception}"
    return Outcome(result.exit_code, result.stdout, result.stderr, crashed)


def _fednode() -> str:
    exe = Path(sys.executable).with_name("fednode")
    return str(exe)


def _flat(text: str) -> str:
    """The output without box drawing and whitespace, so a path Rich wrapped still reads whole."""
    return "".join(ch for ch in text if not ch.isspace() and ch not in "│╭╮╰╯─")


def _check(
    c: Case, outcome: Outcome, target: str | None, home: Path, codes: frozenset[int], companions: list[str]
) -> list[str]:
    problems = []
    both = outcome.stdout + outcome.stderr
    if outcome.crashed:
        problems.append(f"crashed: {outcome.crashed}")
    if "Traceback" in both:
        problems.append("printed a traceback")
    if outcome.code != 0 and not re.search(r"^(Error: |Usage: )", outcome.stderr, re.MULTILINE):
        problems.append("no `Error: ...` line (or usage text) on stderr")
    if outcome.code == 0:
        problems.append("exit 0 (reported success)")
    elif outcome.code not in codes:
        problems.append(f"exit {outcome.code}, expected one of {sorted(codes)}")
    names = [str(home), *c.row.names, *companions] if target is None else [target, Path(target).name]
    if c.case == VALID:
        names.append(str(home))
    if c.input is not None and c.input.option:
        names.append(c.input.option)
    if not any(n in both or _flat(n) in _flat(both) for n in names):
        problems.append(f"message names none of {names}")
    return problems


def _run_case(c: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, json_mode: bool) -> list[str]:
    for key in [k for k in os.environ if k.startswith("FEDNODE_")]:
        monkeypatch.delenv(key)
    base, cwd, out = tmp_path / "in", tmp_path / "cwd", tmp_path / "out"
    for d in (base, cwd, out):
        d.mkdir(exist_ok=True)
    home = tmp_path / "home" / "site"
    if c.case == HOME_FILE:
        home.parent.mkdir()
        home.write_bytes(BINARY_BYTES)
    monkeypatch.chdir(cwd)
    args, target, companions = _args(c, base, out)
    if json_mode:
        args.append("--json")
    before = _snapshot(tmp_path)
    outcome = _invoke(c.row, args, home, cwd)
    codes = c.row.home_codes if c.input is None else c.input.codes
    problems = _check(c, outcome, target, home, codes, companions)
    after = _snapshot(tmp_path)
    created = sorted(set(after) - set(before))
    if c.input is not None and c.input.partial and c.case == BROKEN and outcome.code == BAD_INPUT:
        created = [p for p in created if not p.startswith("out/")]  # the documented partial output, beside --output
    if created:
        problems.append(f"created {created[:5]}")
    changed = sorted(p for p in set(after) & set(before) if after[p] != before[p])
    if changed:
        problems.append(f"changed {changed[:5]}")
    if home.exists() and c.case != HOME_FILE:
        problems.append("created the home")
    if json_mode:
        lines = [line for line in outcome.stdout.splitlines() if line.strip()]
        try:
            payload = json.loads(outcome.stdout)
        except ValueError:
            problems.append(f"stdout is not one JSON object: {outcome.stdout[-300:]!r}")
        else:
            if not isinstance(payload, dict) or payload.get("ok") is not False or len(lines) != 1:
                problems.append(f"JSON is not one object with ok false: {outcome.stdout[-300:]!r}")
    if problems:
        shown = " ".join(a if len(a) < 60 else "..." + a[-40:] for a in args)
        problems.append(f"[{shown} -> {outcome.code}] {(outcome.stderr or outcome.stdout).strip()[-400:]}")
    return problems


@pytest.mark.parametrize("case", _cases(json_mode=False))
def test_command_fails_cleanly(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems = _run_case(case, tmp_path, monkeypatch, json_mode=False)
    assert not problems, "\n".join(problems)


def _home_file_cases() -> list[Any]:
    out = []
    for row in (r for r in ROWS if not r.no_home_case):
        c = Case(row, None, HOME_FILE)
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 13: {FINDINGS[c.id]}")] if c.id in FINDINGS else []
        out.append(pytest.param(c, id=c.id, marks=marks))
    return out


@pytest.mark.parametrize("case", _home_file_cases())
def test_a_home_that_is_a_file_is_refused_cleanly(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """FEDNODE_HOME pointing at a file: the same clean failure, naming the home, and the file left as it was."""
    problems = _run_case(case, tmp_path, monkeypatch, json_mode=True)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("case", _cases(json_mode=True))
def test_command_fails_cleanly_as_json(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems = _run_case(case, tmp_path, monkeypatch, json_mode=True)
    assert not problems, "\n".join(problems)


HEAVY = ("torch", "presidio_analyzer", "spacy", "transformers", "nvflare")
PROBE = """
import json, sys
from node.cli.main import app
try:
    app(args=sys.argv[1:], prog_name="fednode")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)))
"""


def _heavy_rows() -> list[Any]:
    """The commands that use a model or NVFlare once their inputs are good."""
    rows = [
        r for r in ROWS if r.command[0] in ("etl", "deid", "demo", "experiment") or r.command == ("study", "submit")
    ]
    out = []
    for r in rows:
        key = " ".join(r.command) + " heavy"
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 13: {FINDINGS[key]}")] if key in FINDINGS else []
        out.append(pytest.param(r, id=" ".join(r.command), marks=marks))
    return out


@pytest.mark.parametrize("row", _heavy_rows())
def test_an_input_error_loads_no_heavy_module(row: Row, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing input is reported before Presidio, torch, transformers or NVFlare is imported."""
    for key in [k for k in os.environ if k.startswith("FEDNODE_")]:
        monkeypatch.delenv(key)
    base, out = tmp_path / "in", tmp_path / "out"
    base.mkdir()
    args, _, _ = _args(Case(row, row.inputs[0], row.inputs[0].cases[0]), base, out)
    env = {**os.environ, "FEDNODE_HOME": str(tmp_path / "home"), **dict(row.env)}
    done = subprocess.run(  # our own interpreter running our own CLI
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=PROCESS_TIMEOUT_S,
        check=False,
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"{' '.join(row.command)} imported {loaded} before reporting: {done.stderr[-300:]}"
