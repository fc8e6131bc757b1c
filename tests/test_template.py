"""A newcomer's path: the README's "Write a plugin" steps on a copy of plugins/_template (the cp, mv and sed
lines run as written), the renamed plugin made importable as `pip install -e` would, `chil plugins` lists
its renamed framework and tool, and its conformance tests pass."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = "plugins/frameworks/myframework"


def readme_rename_steps() -> list[str]:
    """The cp / mv / grep|sed lines of the README's "Write a plugin" block."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Write a plugin.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no 'Write a plugin' bash block"
    steps = [line for line in block.group(1).splitlines() if line.startswith(("cp ", "mv ", "grep "))]
    assert len(steps) == 3 and TARGET in steps[0], steps
    return steps


def test_copied_template_is_renamed_discovered_and_passes_its_conformance_tests(chil, tmp_path):
    repo = tmp_path / "repo"
    (repo / "plugins" / "frameworks").mkdir(parents=True)
    shutil.copytree(REPO / "plugins" / "_template", repo / "plugins" / "_template")  # a copy: the steps edit in place
    for step in readme_rename_steps():
        done = subprocess.run(["bash", "-c", step], cwd=repo, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (step, done.stderr)
    plugin = repo / TARGET
    leftover = subprocess.run(["grep", "-ril", "example", str(plugin)], capture_output=True, text=True)
    assert leftover.stdout == "", f"names the rename missed: {leftover.stdout}"

    site = tmp_path / "site"
    site.mkdir()
    # what `pip install -e` leaves behind: the package importable, a dist-info with the entry point
    (site / "myframework.pth").write_text(str(plugin / "src") + "\n")
    info = site / "chil_plugin_myframework-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chil-plugin-myframework\nVersion: 0.1.0\nRequires-Dist: chil-core>=0.1,<0.2\n")
    ep = re.search(r"\[project\.entry-points\.chil\]\n(\w+) = \"(\w+)\"", (plugin / "pyproject.toml").read_text())
    assert ep and ep.groups() == ("myframework", "chil_plugin_myframework")
    (info / "entry_points.txt").write_text(f"[chil]\n{ep.group(1)} = {ep.group(2)}\n")
    env_path = f"{site}{os.pathsep}{plugin / 'src'}"

    listed = chil("plugins", "--json", pythonpath=Path(env_path))
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "myframework")
    assert row["status"] == "ok" and row["components"]["frameworks"] == ["myframework"]
    assert row["components"]["tools"] == ["stemmer:myframework"]

    env = {**os.environ, "PYTHONPATH": env_path}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                            str(plugin / "tests")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
