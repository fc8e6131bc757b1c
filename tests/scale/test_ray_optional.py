"""Without a Ray address nothing imports Ray: a process backend (Z3) scores in its own worker processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

# one FOLIO-style problem, written here: the tests need no ../shared data
ROW = {"premises": ["All cats are mammals.", "Tom is a cat."], "premises-FOL": ["∀x (Cat(x) → Mammal(x))", "Cat(tom)"],
       "conclusion": "Tom is a mammal.", "conclusion-FOL": "Mammal(tom)", "label": "True"}

CODE = r"""
import json, sys
from chil_core.scoring import Scorer
row = json.loads(sys.argv[1])
rec = {"id": "r0", "prompt": " ".join(row["premises"]) + " Is it True, False or Uncertain? " + row["conclusion"],
       "completion": "Answer: " + row["label"], "reference": {"answer": row["label"]},
       "metadata": {"premises_fol": row["premises-FOL"], "conclusion_fol": row["conclusion-FOL"]}}
cfg = {"cache": {"enabled": False}, "frameworks": {"consistency": {"tools": {"smt": "z3"}}}}
with Scorer.from_config(cfg, frameworks=["consistency"]) as s:
    out = s.score([rec])[0]
    isolation = s.scheduler.backends[("smt", "z3")].isolation
print(json.dumps({"status": out.frameworks["consistency"].status, "isolation": isolation,
                  "ray": sorted(m for m in sys.modules if m == "ray" or m.startswith("ray."))}))
"""


def test_no_ray_address_no_ray_import():
    row = json.dumps(ROW)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHIL", "RAY"))}
    proc = subprocess.run([sys.executable, "-c", CODE, row], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["isolation"] == "process"  # the backend really ran out of process
    assert got["status"] == "scored"
    assert got["ray"] == []


def test_chil_score_ray_without_a_cluster_is_one_error_line(tmp_path):
    """``--ray auto`` with no cluster to find: exit 2 with one line naming the address; no output file."""
    import pytest

    pytest.importorskip("ray")
    row = ROW
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "a", "prompt": row["conclusion"], "completion": "Answer: " + row["label"],
                               "metadata": {"premises_fol": row["premises-FOL"], "conclusion_fol": row["conclusion-FOL"]},
                               "reference": {"answer": row["label"]}}) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHIL", "RAY"))}
    env["RAY_TMPDIR"] = str(tmp_path / "ray")  # no cluster's address file to find there
    out = tmp_path / "out.jsonl"
    proc = subprocess.run([sys.executable, "-m", "chil_core.cli", "score", str(src), "-o", str(out), "--frameworks",
                           "consistency", "--ray", "auto"], capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: --ray: cannot connect to Ray at 'auto'"), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not out.exists()
