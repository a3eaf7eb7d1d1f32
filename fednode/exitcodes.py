"""Process exit codes, as the CLI contract in DESIGN.md fixes them."""

from enum import IntEnum


class ExitCode(IntEnum):
    """What a ``fednode`` command's exit status means."""

    OK = 0
    USAGE = 2
    REFUSED_BY_POLICY = 3
    BAD_INPUT = 4
    INTEGRITY_FAILURE = 5
    INTERNAL = 1
