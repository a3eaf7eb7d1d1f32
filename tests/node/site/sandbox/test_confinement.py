"""Real child processes under the sandbox: each forbidden action fails, each allowed one works.

Every forbidden action runs twice: with the audit hook (denied, and reported as ``sandbox:denied`` material)
and with the hook bypassed (``python -I -S`` ignores the hook's PYTHONPATH): the kernel still denies it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.site.sandbox import run_confined, sandbox_command
from tests.node.site.sandbox.conftest import Site, accepted_any, needs_landlock, nonroot_python

pytestmark = needs_landlock

REPO = str(Path(__file__).resolve().parents[4])

BYPASS = ("-I", "-S")

PROBE = """
import os, socket, subprocess, sys
try:
    {action}
except PermissionError as exc:
    print("DENIED", exc.errno)
else:
    print("ALLOWED")
"""


def attempt(site: Site, action: str, *, bypass: bool, **fmt: object) -> tuple[str, list[tuple[str, str]]]:
    """Run one action confined; return (DENIED/ALLOWED line, reported (category, target) pairs)."""
    code = PROBE.format(action=action.format(**fmt))
    result = site.run(code, flags=BYPASS if bypass else ())
    assert result.returncode == 0, result.stderr.decode()[-800:]
    return result.stdout.decode().strip(), [(d.category, d.target) for d in result.denials]


# (id, action source, expected (category, target) in the report when the hook is on)
FILE_ACTIONS = [
    ("read-state-db", "open({home!r} + '/state.db').read()", ("file-read", "state.db")),
    ("read-omop-db", "open({home!r} + '/omop.db', 'rb').read()", ("file-read", "omop.db")),
    ("read-site-key", "open({home!r} + '/keys/site.key').read()", ("file-read", "keys")),
    ("list-keys", "os.listdir({home!r} + '/keys')", ("file-read", "keys")),
    ("read-init-environ", "open('/proc/1/environ', 'rb').read()", ("file-read", "proc-environ")),
    ("read-parent-environ", "open('/proc/{parent}/environ', 'rb').read()", ("file-read", "proc-environ")),
    ("read-sibling-job", "open({sibling!r} + '/train.tsv').read()", ("file-read", "other-job")),
    ("os-open-sibling-job", "os.open({sibling!r} + '/train.tsv', os.O_RDONLY)", ("file-read", "other-job")),
    ("write-outside", "open({outside!r} + '/leak.txt', 'w').write('x')", ("file-write", "outside-workdir")),
    ("write-staged-data", "open({data!r} + '/train.tsv', 'a').write('x')", ("file-write", "outside-workdir")),
    ("replace-staged-data", "os.replace('x', {data!r} + '/train.tsv')", ("file-write", "outside-workdir")),
    ("delete-staged-data", "os.remove({data!r} + '/train.tsv')", ("file-write", "outside-workdir")),
    ("mkdir-in-sibling-job", "os.mkdir({sibling!r} + '/x')", ("file-write", "other-job")),
    ("write-sibling-job", "open({sibling!r} + '/evil.py', 'w').write('x')", ("file-write", "other-job")),
]


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
@pytest.mark.parametrize(("action", "reported"), [a[1:] for a in FILE_ACTIONS], ids=[a[0] for a in FILE_ACTIONS])
def test_file_access_outside_the_job_is_denied(
    site: Site, action: str, reported: tuple[str, str], bypass: bool
) -> None:
    (site.workdir / "x").write_text("x")
    line, denials = attempt(
        site,
        action,
        bypass=bypass,
        home=str(site.home),
        sibling=str(site.sibling),
        outside=str(site.outside),
        data=str(site.data),
        parent=os.getpid(),
    )
    assert line.startswith("DENIED"), line
    assert denials == ([] if bypass else [reported])
    assert (site.data / "train.tsv").read_text() == "aspirin\tO\n\n"
    assert not (site.outside / "leak.txt").exists() and not (site.sibling / "evil.py").exists()


def test_reports_carry_no_paths_or_contents(site: Site) -> None:
    attempt(site, "open({p!r}).read()", bypass=False, p=str(site.home / "omop.db"))
    text = site.report.read_text()
    assert "patients" not in text and str(site.home) not in text and "omop.db" in text


def test_raw_syscall_past_the_hook_is_denied_by_the_kernel(site: Site) -> None:
    code = (
        "import ctypes, ctypes.util\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        f"fd = libc.open({str(site.home / 'state.db').encode()!r}, 0)\n"
        "print(fd, ctypes.get_errno())\n"
    )
    result = site.run(code)
    assert result.stdout.split() == [b"-1", b"13"]
    assert result.denials == ()  # the hook never saw it; the kernel stopped it


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
def test_connect_out_is_denied(site: Site, listener: socket.socket, bypass: bool) -> None:
    port = listener.getsockname()[1]
    line, denials = attempt(
        site, "socket.create_connection(('127.0.0.1', {port}), timeout=5)", bypass=bypass, port=port
    )
    assert line.startswith("DENIED")
    assert not accepted_any(listener)
    assert denials == ([] if bypass else [("network", f"tcp:{port}")])


def test_connect_to_an_allowed_port_works(site: Site, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=5).close(); print('ok')"
    result = site.run(code, connect_ports=(port,))
    assert result.stdout.strip() == b"ok", result.stderr[-500:]
    assert accepted_any(listener)


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
@pytest.mark.parametrize(
    ("action", "reported"),
    [
        ("socket.socket().bind(('127.0.0.1', 0))", ("network", "tcp-bind")),
        ("socket.socket(socket.AF_INET, socket.SOCK_DGRAM)", ("network", "datagram-socket")),
        ("socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)", ("network", "datagram-socket")),
        ("socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)", None),  # SCTP: seccomp only
        ("socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)", None),
    ],
    ids=["bind", "udp", "udp6", "sctp", "netlink"],
)
def test_other_network_is_denied(site: Site, action: str, reported: tuple[str, str] | None, bypass: bool) -> None:
    line, denials = attempt(site, action, bypass=bypass)
    assert line.startswith("DENIED"), line
    assert denials == ([] if bypass or reported is None else [reported])


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
@pytest.mark.parametrize(
    "action",
    [
        "subprocess.run(['/bin/sh', '-c', 'echo pwned'])",
        "os.execv('/bin/sh', ['sh', '-c', 'echo pwned'])",
        "os.posix_spawn('/usr/bin/env', ['env'], {{}})",
        "subprocess.run(['sh', '-c', 'echo pwned'])",
    ],
    ids=["popen-sh", "execv-sh", "posix-spawn", "popen-path-lookup"],
)
def test_spawning_a_shell_is_denied(site: Site, action: str, bypass: bool) -> None:
    code = PROBE.format(action=action.format())
    result = site.run(code, flags=BYPASS if bypass else ())
    assert b"pwned" not in result.stdout
    assert result.stdout.strip().startswith(b"DENIED") or b"FileNotFoundError" in result.stderr, result.stderr
    if not bypass:
        assert [(d.category, d.target) for d in result.denials] == [("process", "executable")]


def test_os_system_is_denied_and_reported(site: Site) -> None:
    line, denials = attempt(site, "os.system('echo pwned')", bypass=False)
    assert line.startswith("DENIED") and denials == [("process", "shell")]


def test_running_python_itself_again_works(site: Site) -> None:
    result = site.run("import subprocess, sys; subprocess.run([sys.executable, '-c', 'print(40 + 2)'], check=True)")
    assert result.stdout.strip() == b"42", result.stderr[-500:]


@pytest.fixture
def site_process() -> Iterator[subprocess.Popen[bytes]]:
    """An unconfined process of the site's uid, standing in for the NVFlare client."""
    proc = subprocess.Popen(["sleep", "120"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
@pytest.mark.parametrize("target", ["parent", "site"])
def test_signalling_site_processes_is_denied(
    site: Site, site_process: subprocess.Popen[bytes], target: str, bypass: bool
) -> None:
    # SIGUSR2 would end the sleeper; the parent (pytest) ignores SIGURG by default, so a failure cannot kill it.
    pid, sig = (os.getpid(), "signal.SIGURG") if target == "parent" else (site_process.pid, "signal.SIGTERM")
    code = PROBE.format(action=f"os.kill({pid}, {sig})").replace("import os,", "import os, signal,")
    result = site.run(code, flags=BYPASS if bypass else ())
    assert result.stdout.strip() == b"DENIED 1", (result.stdout, result.stderr[-500:])
    assert site_process.poll() is None
    if not bypass:
        expected = "parent-process" if target == "parent" else "site-process"
        assert [(d.category, d.target) for d in result.denials] == [("signal", expected)]


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
def test_a_liveness_probe_of_the_parent_is_refused_without_a_report(site: Site, bypass: bool) -> None:
    # NVFlare's trainer watchdog calls os.kill(cj_pid, 0) twice a second: EPERM, as the kernel says, but no noise.
    code = PROBE.format(action=f"[os.kill({os.getpid()}, 0) for _ in range(3)]")
    result = site.run(code, flags=BYPASS if bypass else ())
    assert result.stdout.strip() == b"DENIED 1", (result.stdout, result.stderr[-500:])
    assert result.denials == ()
    assert not site.report.exists() or site.report.read_text() == ""


def test_signalling_its_own_children_works(site: Site) -> None:
    code = (
        "import subprocess, sys, signal\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "p.send_signal(signal.SIGTERM); print(p.wait())\n"
    )
    result = site.run(code)
    assert result.stdout.strip() == b"-15", result.stderr[-500:]


def test_environment_is_scrubbed(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEDNODE_SECRET", "s3cr3t-value")
    monkeypatch.setenv("FEDNODE_DEID__SECRET", "s3cr3t-value")
    result = site.run("import os; print(sorted(os.environ)); print(os.environ.get('FEDNODE_SECRET'))")
    assert b"s3cr3t" not in result.stdout
    assert b"FEDNODE_SECRET" not in result.stdout and b"FEDNODE_DEID" not in result.stdout
    assert result.stdout.splitlines()[-1] == b"None"


def test_memory_limit(site: Site) -> None:
    code = "try:\n    b = bytearray(3 << 30)\nexcept MemoryError:\n    print('MemoryError')\n"
    result = site.run(code, flags=BYPASS, memory_bytes=1 << 30)
    assert result.stdout.strip() == b"MemoryError"


def test_cpu_time_limit_kills(site: Site) -> None:
    result = site.run("while True: pass", flags=BYPASS, cpu_seconds=1)
    assert result.returncode == -signal.SIGXCPU


def test_wall_time_limit_kills_even_a_sleeping_job(site: Site) -> None:
    result = site.run("import time; time.sleep(60)", flags=BYPASS, wall_seconds=1)
    assert result.returncode in (-signal.SIGALRM, -signal.SIGKILL)


FORK_BOMB = """
import os, time
kids = []
try:
    for _ in range(64):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
except OSError as exc:
    print("stopped", len(kids), exc.errno)
for pid in kids:
    os.kill(pid, 9)
"""


def test_process_limit(site: Site, tmp_path_factory: pytest.TempPathFactory) -> None:
    options: dict[str, object] = {"max_processes": 6}
    python = sys.executable
    if os.geteuid() == 0:  # root ignores RLIMIT_NPROC: run the job as nobody, with an interpreter it can reach
        python = nonroot_python() or ""
        if not python:
            pytest.skip("running as root without an interpreter a non-root uid can run")
        with tempfile.TemporaryDirectory(prefix="fednode-nproc-") as tmp:
            os.chmod(tmp, 0o755)
            workdir = Path(tmp, "job")
            workdir.mkdir()
            os.chown(workdir, 65534, 65534)
            site.workdir = workdir
            result = site.run(FORK_BOMB, flags=BYPASS, python=python, run_as_uid=65534, **options)
    else:
        result = site.run(FORK_BOMB, flags=BYPASS, python=python, **options)
    words = result.stdout.split()
    assert words[:1] == [b"stopped"], (result.stdout, result.stderr[-500:])
    assert int(words[1]) <= 6 and words[2] == b"11"  # EAGAIN


def test_job_work_in_its_folder_and_staged_data(site: Site) -> None:
    code = f"""
import os, pathlib
rows = open({str(site.data / "train.tsv")!r}).read()
os.makedirs('out/ckpt', exist_ok=True)
pathlib.Path('out/ckpt/model.pt').write_bytes(b'w' * 10)
os.rename('out/ckpt/model.pt', 'out/model.pt')
with open('out/model.pt', 'r+b') as fh:
    fh.truncate(3)
os.symlink('model.pt', 'out/link')
os.remove('out/link')
print(len(rows.splitlines()), os.path.getsize('out/model.pt'), sorted(os.listdir('out')))
"""
    result = site.run(code)
    assert result.stdout.strip() == b"2 3 ['ckpt', 'model.pt']", result.stderr[-800:]
    assert result.denials == ()


def test_torch_trains_under_the_sandbox(site: Site) -> None:
    code = """
import numpy as np
import torch
torch.manual_seed(0)
model = torch.nn.Linear(8, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
x = torch.from_numpy(np.random.default_rng(0).normal(size=(32, 8)).astype("float32"))
y = torch.zeros(32, dtype=torch.long)
for _ in range(3):
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
torch.save(model.state_dict(), "model.pt")
print("trained", torch.get_num_threads() >= 1)
"""
    result = site.run(code, memory_bytes=8 << 30)
    assert result.stdout.strip() == b"trained True", result.stderr.decode()[-2000:]
    assert (site.workdir / "model.pt").stat().st_size > 0
    assert result.denials == ()


@pytest.mark.parametrize("bypass", [False, True], ids=["hook", "bypassed"])
def test_loading_native_code_from_outside_is_denied(site: Site, bypass: bool) -> None:
    lib = site.outside / "evil.so"
    lib.write_bytes(Path("/bin/true").read_bytes()[:4096])
    code = (
        f"import ctypes\ntry:\n    ctypes.CDLL({str(lib)!r})\nexcept OSError as exc:\n    print(type(exc).__name__)\n"
    )
    result = site.run(code, flags=BYPASS if bypass else ())
    if bypass:  # the loader's open() is refused by the kernel: ctypes says OSError with EACCES inside
        assert result.stdout.strip() == b"OSError"
        assert result.denials == ()
    else:
        assert result.stdout.strip() == b"PermissionError"
        assert [(d.category, d.target) for d in result.denials] == [("native", "outside-workdir")]


JOB_SCRIPT = '''
"""An attacker's task script, run as NVFlare would: python -u custom/train.py --data_dir DATA."""
import os, socket, subprocess, sys

data_dir = sys.argv[sys.argv.index("--data_dir") + 1]
home = sys.argv[sys.argv.index("--home") + 1]
attempts = {
    "omop": lambda: open(os.path.join(home, "omop.db"), "rb").read(),
    "key": lambda: open(os.path.join(home, "keys", "site.key")).read(),
    "other-job": lambda: os.listdir(os.path.join(os.path.dirname(os.getcwd()), "job-b")),
    "shell": lambda: subprocess.run(["/bin/sh", "-c", "id"], check=True),
    "connect": lambda: socket.create_connection(("127.0.0.1", int(sys.argv[-1])), timeout=5),
    "write-out": lambda: open(os.path.join(home, "stolen.txt"), "w").write("x"),
}
rows = len(open(os.path.join(data_dir, "train.tsv")).read().splitlines())
with open("result.txt", "w") as fh:
    fh.write(f"rows={rows}\\n")
for name, act in attempts.items():
    try:
        act()
        print(name, "ALLOWED")
    except PermissionError:
        print(name, "DENIED")
print("secret", os.environ.get("FEDNODE_SECRET"))
'''


def test_a_job_script_trying_everything_is_stopped_and_reported(
    site: Site, listener: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEDNODE_SECRET", "s3cr3t-value")
    (site.workdir / "custom" / "train.py").write_text(JOB_SCRIPT)
    port = listener.getsockname()[1]
    argv = [sys.executable, "-u", "custom/train.py", "--data_dir", str(site.data), "--home", str(site.home), str(port)]
    result = run_confined(site.spec(), argv)
    lines = dict(line.split(" ", 1) for line in result.stdout.decode().splitlines())
    assert lines == {
        "omop": "DENIED",
        "key": "DENIED",
        "other-job": "DENIED",
        "shell": "DENIED",
        "connect": "DENIED",
        "write-out": "DENIED",
        "secret": "None",
    }, result.stderr.decode()[-1500:]
    assert (site.workdir / "result.txt").read_text() == "rows=2\n"
    assert not (site.home / "stolen.txt").exists() and not accepted_any(listener)
    assert sorted((d.category, d.target) for d in result.denials) == sorted(
        [
            ("file-read", "omop.db"),
            ("file-read", "keys"),
            ("file-read", "other-job"),
            ("process", "executable"),
            ("network", f"tcp:{port}"),
            ("file-write", "outside-workdir"),
        ]
    )


def test_localhost_resolves_and_an_allowed_loopback_port_connects(site: Site, listener: socket.socket) -> None:
    # NVFlare's Client API hands the trainer tcp://localhost:<port>: /etc/hosts must be readable.
    port = listener.getsockname()[1]
    code = f"import socket; socket.create_connection(('localhost', {port}), timeout=5).close(); print('ok')"
    result = site.run(code, connect_ports=(port,))
    assert result.stdout.strip() == b"ok", result.stderr.decode()[-800:]
    assert result.denials == ()


def test_the_wrapper_imports_nothing_from_the_job(site: Site, tmp_path: Path) -> None:
    # The wrapper runs unconfined until execve: a module in the working directory or on PYTHONPATH (NVFlare
    # puts custom/ there) named like one it imports must not run.
    marker = tmp_path / "shadow-ran"
    shadow = f"open({str(marker)!r}, 'w').close()\n"
    for folder in (site.workdir, site.workdir / "custom"):
        for name in ("json", "ctypes", "argparse", "node", "fednode", "resource"):
            (folder / f"{name}.py").write_text(shadow)
    spec_path = site.spec().write(tmp_path / "spec.json")
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{site.workdir / 'custom'}:{REPO}"}
    done = subprocess.run(
        sandbox_command(spec_path, [sys.executable, "-I", "-c", "print('job ran')"]),
        cwd=site.workdir,
        env=env,
        capture_output=True,
        check=False,
    )
    assert done.stdout.strip() == b"job ran", done.stderr.decode()[-800:]
    assert not marker.exists()


def test_benign_system_reads_work_without_reports(site: Site) -> None:
    # What common libraries read at import or start (mimetypes for aiohttp/requests, psutil, NVFlare's monitor).
    code = (
        "import mimetypes, os\n"
        "mimetypes.init()\n"
        "paths = ('/proc/stat', '/proc/meminfo', '/proc/self/status', f'/proc/{os.getpid()}/statm', '/etc/hosts')\n"
        "for path in paths:\n"
        "    if os.path.exists(path):\n"
        "        open(path).read()\n"
        "print('ok')\n"
    )
    result = site.run(code)
    assert result.stdout.strip() == b"ok", result.stderr.decode()[-800:]
    assert result.denials == ()
