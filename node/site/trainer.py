"""Start a BYOC training script confined, connected to its job process by NVFlare's one loopback port.

The site's job launcher rewrites a BYOC job's Client API executor so that the job process starts::

    <python> -m node.site.trainer --spec <run_dir>/fednode-sandbox/spec.json -- <python> -u custom/train.py ARGS

NVFlare 2.9's external-process backend gives the trainer one channel: a TCP connection to the job process's
internal listener on 127.0.0.1, on a port chosen when the job process starts, named in the bootstrap file whose
path it passes in ``NVFLARE_CLIENT_API_BOOTSTRAP`` (a new file per launch, inside the app folder). So this
wrapper, before any job code is imported: loads the site's spec, reads that file (it must lie in the spec's
working directory), allows TCP connect to exactly that port, passes the bootstrap path on (nothing else of
its own environment) and hands over to :func:`node.site.sandbox.confine_and_exec`, which confines and
``execve``s the script. It imports neither NVFlare nor torch.

Exit codes before the hand-over: 2 usage, 70 the bootstrap or spec is unusable (reason on stderr).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import stat
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from fednode.errors import SandboxError

if TYPE_CHECKING:
    from node.site.sandbox import SandboxSpec

BOOTSTRAP_ENV = "NVFLARE_CLIENT_API_BOOTSTRAP"
"""NVFlare's ``nvflare.client.cell.bootstrap.BOOTSTRAP_FILE_ENV_VAR`` (checked equal in the tests)."""

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_BOOTSTRAP_BYTES = 64 * 1024
EXIT_USAGE = 2
EXIT_UNUSABLE = 70


def bootstrap_port(path: Path, workdir: Path) -> int:
    """The loopback TCP port named in NVFlare's bootstrap file at ``path``, which must lie in ``workdir``."""
    real = Path(os.path.realpath(path))
    root = Path(os.path.realpath(workdir))
    if root not in real.parents:
        raise SandboxError("trainer: the Client API bootstrap file is not in the job's working directory")
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_BOOTSTRAP_BYTES:
            raise SandboxError("trainer: the Client API bootstrap file is not a small regular file")
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise SandboxError("trainer: the Client API bootstrap file cannot be read") from None
    url = data.get("connect_url") if isinstance(data, Mapping) else None
    if not isinstance(url, str):
        raise SandboxError("trainer: the Client API bootstrap file has no connect_url")
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "tcp" or parts.hostname not in LOOPBACK_HOSTS or port is None or not 0 < port < 65536:
        raise SandboxError("trainer: the job process's listener is not a loopback TCP port")
    return port


def launch_spec(spec_path: Path, environ: Mapping[str, str]) -> SandboxSpec:
    """The site's spec for this launch: plus the job process's port and the bootstrap path in the env."""
    from node.site.sandbox import SandboxSpec

    spec = SandboxSpec.load(spec_path)
    bootstrap = environ.get(BOOTSTRAP_ENV)
    if not bootstrap:
        raise SandboxError(f"trainer: {BOOTSTRAP_ENV} is not set (not started by NVFlare's Client API executor)")
    port = bootstrap_port(Path(bootstrap), spec.workdir)
    env = {**spec.env, BOOTSTRAP_ENV: str(Path(os.path.realpath(bootstrap)))}
    return dataclasses.replace(spec, connect_ports=(port,), env=env)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``--spec FILE -- COMMAND...``, build this launch's spec and confine-and-exec (never returns)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if "--" not in args:
        print("usage: python -m node.site.trainer --spec FILE -- COMMAND...", file=sys.stderr)
        return EXIT_USAGE
    cut = args.index("--")
    parser = argparse.ArgumentParser(prog="python -m node.site.trainer")
    parser.add_argument("--spec", required=True, type=Path)
    ns = parser.parse_args(args[:cut])
    command = args[cut + 1 :]
    if not command:
        print("trainer: no command after --", file=sys.stderr)
        return EXIT_USAGE
    try:
        spec = launch_spec(ns.spec, os.environ)
    except SandboxError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_UNUSABLE
    from node.site.sandbox import confine_and_exec

    confine_and_exec(spec, command)
    return EXIT_UNUSABLE  # not reached: confine_and_exec replaces this process


if __name__ == "__main__":
    raise SystemExit(main())
