"""The scan worker (``python -m policies.codescan MEMORY_MIB CPU_S``): one request on stdin, findings on stdout.

It limits its own address space and CPU time before it reads anything; see :mod:`policies.codescan.worker`.
"""

from __future__ import annotations

import json
import resource
import sys
from collections.abc import Sequence


def main(args: Sequence[str]) -> int:
    """Limit this process, read one request on stdin, write the findings on stdout."""
    memory_mib = int(args[0]) if args else 1024
    cpu_s = int(args[1]) if len(args) > 1 else 25
    limit = memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    from policies.codescan import CLIENT_COMPONENTS, scan_files

    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    components = request.get("components")
    findings = scan_files(
        request["files"],
        byoc=bool(request["byoc"]),
        components=frozenset(components) if components is not None else CLIENT_COMPONENTS,
    )
    out = [
        {"file": f.file, "line": f.line, "capability": f.capability, "message": f.message, "severity": f.severity}
        for f in findings
    ]
    sys.stdout.write(json.dumps({"findings": out}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
