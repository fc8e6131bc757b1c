"""FAISS vector index: the shared suite for flat, IVF and HNSW indexes built by the same builder, and
`chil index` on a corpus with bad lines (JSONL and Parquet)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chil_plugin_faiss.command import index_command
from chil_plugin_faiss.tool import FaissIndex, build
from click.testing import CliRunner

from chil_core.capabilities.embedding import start_embedder
from chil_core.testing.vector_index import CORPUS, VectorIndexConformance, search


class TestFaissFlat(VectorIndexConformance):
    tool_class = FaissIndex
    kind = "flat"

    @classmethod
    def build_index(cls, out_dir: Path, ids: list[str], texts: list[str]) -> dict:
        build(out_dir, ids, texts, start_embedder("wordllama"), kind=cls.kind, nlist=2, m=8)
        return {"path": str(out_dir)}


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_ivf_and_hnsw_indexes_find_the_same_neighbours(tmp_path: Path, kind: str) -> None:
    build(tmp_path, [i for i, _ in CORPUS], [t for _, t in CORPUS], start_embedder("wordllama"), kind=kind, nlist=2, m=8)
    tool = FaissIndex(FaissIndex.Options(path=str(tmp_path), nprobe=2))
    tool.start()
    out = tool.run_batch([search([t for _, t in CORPUS], k=1)])[0]
    assert [h[0]["id"] for h in out["hits"]] == [i for i, _ in CORPUS]


def test_index_command_reports_bad_lines_and_goes_on(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus.jsonl"
    lines = [json.dumps({"id": i, "text": t}) for i, t in CORPUS]
    lines[1:1] = ["{broken", json.dumps({"id": "x", "text": ""}), json.dumps(["not", "an", "object"])]
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(index_command, [str(corpus), "-o", str(tmp_path / "idx")])
    assert res.exit_code == 1, res.output
    assert f"{corpus}:2: skipped: line: not JSON" in res.output
    assert f"{corpus}:3: skipped: text: must be a non-empty string" in res.output
    assert f"{corpus}:4: skipped: line: must be a JSON object" in res.output
    assert f"{len(CORPUS)} passages" in res.output
    tool = FaissIndex(FaissIndex.Options(path=str(tmp_path / "idx")))
    tool.start()
    assert tool.run_batch([search(["capital of France"], k=1)])[0]["hits"][0][0]["id"] == "paris"


def test_index_command_reads_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [i for i, _ in CORPUS], "body": [t for _, t in CORPUS]}), tmp_path / "c.parquet")
    res = CliRunner().invoke(index_command, [str(tmp_path / "c.parquet"), "-o", str(tmp_path / "idx"), "--text-field", "body"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(index_command, [str(tmp_path / "c.parquet"), "-o", str(tmp_path / "idx2")])
    assert res.exit_code == 2 and "no column 'text'" in res.output


def test_a_missing_or_foreign_index_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an index directory"):
        FaissIndex.Options(path=str(tmp_path))
    with pytest.raises(ValueError, match="tools.faiss.path: no index configured"):
        FaissIndex().start()
