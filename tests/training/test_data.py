"""Prompt files (JSONL / Parquet), gold fields, errors, resumable order, batched tokenization."""

from __future__ import annotations

import json

import pytest

from chil_core.training.data import PromptDataset, PromptOrder, encode_prompts


def test_jsonl_rows_carry_reference_and_metadata(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [
        {"id": 7, "prompt": "2+2=", "answer": 4},
        {"prompt": "capital?", "reference": {"answer": "Paris", "unit": "city"}, "metadata": {"triples": [["a", "b", "c"]]}},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    ds = PromptDataset(path)
    assert len(ds) == 2
    first, second = ds.rows([0, 1])
    assert (first.id, first.prompt, first.reference, first.metadata) == ("7", "2+2=", {"answer": "4"}, {})
    # arrow unifies the objects of all rows; keys a row did not have must not appear as None
    assert second.id == "1" and second.reference == {"answer": "Paris", "unit": "city"}
    assert second.metadata == {"triples": [["a", "b", "c"]]}


def test_parquet_is_read_memory_mapped(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "p.parquet"
    pq.write_table(pa.table({"question": ["1+1=", "2+3="], "answer": ["2", "5"]}), path)
    ds = PromptDataset(path, prompt_field="question")
    assert [r.prompt for r in ds.all_rows()] == ["1+1=", "2+3="]
    assert ds.rows([1])[0].reference == {"answer": "5"}


@pytest.mark.parametrize(("content", "message"), [
    ('{"text": "x"}\n', "no 'prompt' column"),
    ('{"prompt": 3}\n', "prompt: expected strings"),
    ('{"prompt": "x", "reference": "gold"}\n', "row 0: reference: expected an object"),
    ('{"prompt": "x", "metadata": [1]}\n', "row 0: metadata: expected an object"),
    ('{"prompt": "x"\n', "cannot read"),
])
def test_bad_rows_are_reported_with_their_field(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        PromptDataset(path).all_rows()


def test_unknown_suffix_and_missing_file(tmp_path):
    (tmp_path / "p.csv").write_text("prompt\nx\n")
    with pytest.raises(ValueError, match="jsonl or .parquet"):
        PromptDataset(tmp_path / "p.csv")
    with pytest.raises(FileNotFoundError, match="data"):
        PromptDataset(tmp_path / "none.jsonl")


def test_order_resumes_exactly_across_epochs():
    straight = PromptOrder(7, seed=3)
    seq = [straight.take(3) for _ in range(6)]
    first = PromptOrder(7, seed=3)
    head = [first.take(3) for _ in range(3)]
    resumed = PromptOrder(7, seed=3)
    resumed.load_state_dict(first.state_dict())
    tail = [resumed.take(3) for _ in range(3)]
    assert head + tail == seq
    flat = sum(seq, [])
    assert sorted(flat[:7]) == list(range(7))  # each epoch is a permutation
    assert flat[:7] != flat[7:14]  # and epochs are shuffled differently


def test_prompts_are_left_padded_and_cut_from_the_left(tokenizer):
    ids, mask = encode_prompts(tokenizer, ["ab", "abcdefgh"], max_length=5)
    assert ids.shape == (2, 5)
    assert mask.tolist() == [[0, 0, 0, 1, 1], [1, 1, 1, 1, 1]]
    assert tokenizer.decode(ids[1]) == "defgh"  # the end of a long prompt is what the completion follows
