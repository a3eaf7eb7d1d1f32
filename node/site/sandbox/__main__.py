"""``python -m node.site.sandbox --spec SPEC.json -- COMMAND ARGS...``: confine, then exec the command.

Exit status before the command runs: 2 usage, 70 confinement failed (the reason on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys

from fednode.errors import SandboxError
from node.site.sandbox._confine import confine_and_exec
from node.site.sandbox._spec import SandboxSpec

EXIT_CONFINEMENT_FAILED = 70


def main(args: list[str] | None = None) -> int:
    """Parse ``--spec FILE -- argv...``, confine and exec; returns only on failure."""
    raw = sys.argv[1:] if args is None else args
    if "--" not in raw:
        print("usage: python -m node.site.sandbox --spec FILE -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    split = raw.index("--")
    parser = argparse.ArgumentParser(prog="python -m node.site.sandbox", description=__doc__)
    parser.add_argument("--spec", required=True, help="the SandboxSpec JSON file")
    opts = parser.parse_args(raw[:split])
    command = raw[split + 1 :]
    if not command:
        parser.error("no command after --")
    try:
        spec = SandboxSpec.load(opts.spec)
        confine_and_exec(spec, command)
    except SandboxError as exc:
        print(f"sandbox: confinement failed: {exc.message}", file=sys.stderr)
        return EXIT_CONFINEMENT_FAILED
    return EXIT_CONFINEMENT_FAILED  # pragma: no cover - confine_and_exec never returns


if __name__ == "__main__":
    sys.exit(main())
