"""The data fednode ships inside its package (``fednode/data/``), read with :mod:`importlib.resources`.

Provenance and licences lie beside the files (``fednode/data/README.md``, each folder's ``LICENSE*``). An installed
wheel and a checkout both unpack the package into a folder, so callers get a real :class:`~pathlib.Path`.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fednode.errors import ConfigError


def bundled(*parts: str) -> Path:
    """The bundled file or folder ``fednode/data/<parts...>`` (it need not exist: callers check and say why).

    Raises ConfigError when fednode was installed as a zip archive (its data would not be a folder on disk).
    """
    path = files("fednode").joinpath("data", *parts)
    if not isinstance(path, Path):
        raise ConfigError("fednode's bundled data is not on disk (installed as a zip?); install the wheel unpacked")
    return path
