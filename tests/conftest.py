"""Shared fixtures for the cross-package tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"


@pytest.fixture
def fake_dists(tmp_path: Path):
    """Write real installed-distribution metadata (dist-info + entry_points.txt) into a sys.path dir."""

    def make(name: str, module_source: str, *, requires: str = "chil-core>=0.1,<0.2", ep_name: str | None = None) -> None:
        mod = f"chil_plugin_{name.replace('-', '_')}"
        (tmp_path / f"{mod}.py").write_text(textwrap.dedent(module_source))
        info = tmp_path / f"chil_plugin_{name.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: chil-plugin-{name}\nVersion: 0.0.1\nRequires-Dist: {requires}\n"
        )
        (info / "entry_points.txt").write_text(f"[chil]\n{ep_name or name} = {mod}\n")

    make.path = tmp_path  # type: ignore[attr-defined]
    return make


@pytest.fixture
def chil():
    """Run the real ``chil`` CLI in a subprocess (fresh plugin discovery, no CHIL_* from the caller)."""
    return run_chil


def run_chil(*args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None, input: str | None = None,
             pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "chil_core.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, input=input, timeout=300)
