"""A newcomer's path: copy plugins/_template, make it installed, see `chil plugins` list it, run its tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_copied_template_is_discovered_and_passes_its_conformance_tests(chil, tmp_path):
    plugin = tmp_path / "myplugin"
    shutil.copytree(REPO / "plugins" / "_template", plugin)
    site = tmp_path / "site"
    site.mkdir()
    # what `pip install -e` leaves behind: the package importable, a dist-info with the entry point
    (site / "example.pth").write_text(str(plugin / "src") + "\n")
    info = site / "chil_plugin_example-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: chil-plugin-example\nVersion: 0.1.0\nRequires-Dist: chil-core>=0.1,<0.2\n")
    (info / "entry_points.txt").write_text("[chil]\nexample = chil_plugin_example\n")
    env_path = f"{site}{os.pathsep}{plugin / 'src'}"

    listed = chil("plugins", "--json", pythonpath=Path(env_path))
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "example")
    assert row["status"] == "ok" and row["components"]["frameworks"] == ["keywords"]
    assert row["components"]["tools"] == ["stemmer:suffix"]

    env = {**os.environ, "PYTHONPATH": env_path}
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib",
                            str(plugin / "tests")], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert " passed" in tests.stdout
