"""fednode's shared kernel: the errors tree, exit codes and the settings object.

Every package (``omop_etl``, ``deid``, ``policies``, ``node``, ``tui``) may import this one; it imports only
the standard library and pydantic.
"""

from fednode.errors import FednodeError
from fednode.exitcodes import ExitCode

__all__ = ["ExitCode", "FednodeError"]
__version__ = "0.1.0"
