"""A throwaway PostgreSQL server for the ``@pytest.mark.postgres`` tests and the ETL benchmark.

``postgres_server()`` runs ``initdb`` in a temp folder, starts ``postgres`` with ``pg_ctl`` on a free loopback
port (TCP on 127.0.0.1 only, no Unix socket outside the temp folder), yields a SQLAlchemy URL and stops the
server afterwards. initdb refuses to run as root, so under root (as CI runs) the binaries run as the
``postgres`` user through ``runuser`` with the folder handed to that user. Binaries are taken from PATH or
``/usr/lib/postgresql/*/bin``; without them (or without ``runuser`` under root) it raises
:class:`~fednode.errors.NotFoundError` with the reason, which ``tests/pg.py`` turns into a skip.

Use the ``pg_url`` fixture (``tests/omop_etl/conftest.py``) or ``with postgres_server() as url: ...``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fednode.errors import NotFoundError

START_TIMEOUT_S = 60


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, or None."""
    on_path = shutil.which("pg_ctl")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    runuser = shutil.which("runuser")
    if runuser is None:
        raise NotFoundError("running as root and runuser is missing: initdb cannot run as root")
    return [runuser, "-u", "postgres", "--", *cmd]


@contextmanager
def postgres_server(user: str = "fednode") -> Iterator[str]:
    """Start a PostgreSQL server for the duration of the block; yields ``postgresql+psycopg://`` URL."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise NotFoundError("no PostgreSQL server binaries (initdb/pg_ctl) on PATH or under /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="fednode-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    try:
        subprocess.run(  # noqa: S603  # the server binaries found above, fixed arguments
            _as_server_user(
                [str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust", "-E", "UTF8", "--no-sync"]
            ),
            check=True,
            capture_output=True,
            env=env,
            timeout=START_TIMEOUT_S,
            cwd=root,
        )
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {root} -c fsync=off -c full_page_writes=off"
        subprocess.run(  # noqa: S603  # the server binaries found above, fixed arguments
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "log"),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
            env=env,
            timeout=START_TIMEOUT_S + 10,
            cwd=root,
        )
        try:
            yield f"postgresql+psycopg://{user}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(  # noqa: S603  # the server binaries found above, fixed arguments
                _as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"]),
                capture_output=True,
                env=env,
                timeout=60,
                cwd=root,
                check=False,
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
