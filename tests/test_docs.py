"""The READMEs' shell commands run as written in a fresh shell: chil, pip, python... through .venv/bin."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARE = re.compile(r"^\s*(?:chil|pip|pip3|python|python3|pytest|ruff)\b")
SHELL = {"```bash", "```sh", "```shell", "```console"}


def bare_commands(text: str) -> list[tuple[int, str]]:
    """(line, command) of shell-block lines that call a venv tool without ``.venv/bin/``."""
    out, shell = [], False
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            shell = not shell and line.strip() in SHELL
        elif shell and BARE.match(line):
            out.append((i, line.strip()))
    return out


def test_readme_commands_go_through_the_venv() -> None:
    docs = [REPO / "README.md", REPO / "docs" / "architecture.md", *REPO.glob("plugins/*/*/README.md"),
            REPO / "plugins" / "_template" / "README.md", *REPO.glob("benchmarks/*.md")]
    found = {str(p.relative_to(REPO)): bare for p in docs if p.is_file() and (bare := bare_commands(p.read_text(encoding="utf-8")))}
    assert not found, f"use .venv/bin/... (or say to activate the venv): {found}"
    assert bare_commands("```bash\nchil score x\n.venv/bin/chil score y\n```\n```python\npython = 1\n```") == [(2, "chil score x")]
