"""Finding and reading a chil TOML file, and the error a bad config raises.

Both halves of a config import this: :mod:`chil_core.config` (the scorer's tables) and
:mod:`chil_core.training.config` (the ``[train]`` table), so neither imports the other to read a file.
The names stay importable from :mod:`chil_core.config` as well.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

DEFAULT_CONFIG_NAMES = ("chil.toml",)


class ConfigError(ValueError):
    """Invalid config: ``errors`` is a list of (field path, message)."""

    def __init__(self, errors: list[tuple[str, str]], source: str | None = None) -> None:
        self.errors = errors
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  {path or '<root>'}: {msg}" for path, msg in errors)
        super().__init__(f"invalid config{where}:\n{lines}")


def read_toml(path: str | Path) -> dict[str, Any]:
    """The parsed file; an unreadable file or a syntax error is a :class:`ConfigError` naming the line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([("", f"cannot read config file: {exc.strerror or exc}")], str(p)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # message carries "(at line N, column M)"
        raise ConfigError([("", f"TOML syntax error: {exc}")], str(p)) from None


def find_config(explicit: str | Path | None = None) -> Path | None:
    """``explicit``, else ``$CHIL_CONFIG``, else ``./chil.toml`` if it exists."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("CHIL_CONFIG")
    if env:
        return Path(env)
    for name in DEFAULT_CONFIG_NAMES:
        if Path(name).is_file():
            return Path(name)
    return None
