"""embedding-head: `chil fit-sentiment` on real SST-2 rows, the JSON head file, the sentiment suite on the
fitted head, bad lines reported, bad head files refused with the field named."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from chil_plugin_embedding_head.command import fit_sentiment
from chil_plugin_embedding_head.head import cross_validate, fit_logistic, load_head
from chil_plugin_embedding_head.tool import EmbeddingHeadSentiment
from click.testing import CliRunner

from chil_core.testing.sentiment import CLEAR, SentimentConformance, polarity

SST = Path(os.environ.get("CHIL_DATA", Path(__file__).resolve().parents[4].parent / "shared" / "data")) / "sst2" / "stsa.binary.dev"

# a small labelled set written here: the clear cases plus paraphrases, enough for a head to separate them
TRAIN = [(t, 1 if lab == "positive" else 0) for t, lab in CLEAR] + [
    ("An excellent, delightful, wonderful experience.", 1), ("Great acting and a beautiful story.", 1),
    ("I loved it and would happily watch it again.", 1), ("Superb, brilliant, fantastic.", 1),
    ("Charming and funny, a real pleasure.", 1), ("The best meal I have had in years.", 1),
    ("Awful, dull and painfully boring.", 0), ("A horrible, stupid mess of a film.", 0),
    ("I hated every minute; terrible acting.", 0), ("Bad, ugly, disappointing and sad.", 0),
    ("The worst service, rude and dirty.", 0), ("A tedious, pointless waste of money.", 0),
]


@pytest.fixture(scope="module")
def head_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("head")
    data = out / "train.jsonl"
    lines = [json.dumps({"text": t, "label": "positive" if y else "negative"}) for t, y in TRAIN]
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"text": "no label here"}))
    data.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = CliRunner().invoke(fit_sentiment, [str(data), "-o", str(out / "head.json"), "--folds", "3", "--l2", "0.3"])
    assert res.exit_code == 1, res.output  # bad lines were skipped
    assert f"{data}:4: skipped: line: not JSON" in res.output
    assert f"{data}:6: skipped: label: None is not a binary label" in res.output
    assert "cross-validated accuracy" in res.output
    return out / "head.json"


class TestEmbeddingHead(SentimentConformance):
    tool_class = EmbeddingHeadSentiment

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _configure(cls, head_file: Path) -> None:
        cls.options = {"head": str(head_file)}

    @pytest.fixture(scope="class")
    @classmethod
    def tool(cls, _configure: None) -> EmbeddingHeadSentiment:
        tool = cls.make_tool(cls)  # type: ignore[arg-type]
        yield tool
        tool.close()


def test_head_file_is_plain_json_naming_its_embedding(head_file: Path) -> None:
    head = load_head(head_file)
    assert head["embedding"] == {"backend": "wordllama", "options": {"max_chars": 20000, "dim": 256}}
    assert head["lexicons"] == ["vader", "afinn", "textblob"]  # the command's default extra features
    assert head["dim"] == 256 + 3 and head["trained"]["rows"] == len(TRAIN)


def test_version_1_head_without_lexicons_still_scores(tmp_path: Path) -> None:
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in TRAIN), encoding="utf-8")
    p = tmp_path / "v1.json"
    res = CliRunner().invoke(fit_sentiment, [str(data), "-o", str(p), "--folds", "3", "--l2", "0.3", "--lexicons", ""])
    assert res.exit_code == 0, res.output
    v1 = json.loads(p.read_text())
    assert v1.pop("lexicons") == [] and v1["dim"] == 256
    v1["version"] = 1  # as the previous release wrote it
    p.write_text(json.dumps(v1))
    tool = EmbeddingHeadSentiment(EmbeddingHeadSentiment.Options(head=str(p)))
    tool.start()
    out = tool.run_batch([polarity("An excellent, delightful, wonderful experience."), polarity("Awful, dull and painfully boring.")])
    assert [o["label"] for o in out] == ["positive", "negative"]
    tool.close()


def test_lexicon_features_are_the_backends_polarities(head_file: Path) -> None:
    import numpy as np
    from chil_plugin_embedding_head.head import features, start_lexicons
    from chil_plugin_vader.tool import VaderSentiment

    from chil_core.capabilities.embedding import start_embedder

    emb = start_embedder("wordllama")
    texts = ["I loved it.", "", "It was terrible."]
    x, empty = features(emb, start_lexicons(["vader"]), texts)
    vader = VaderSentiment()
    vader.start()
    assert x.shape == (3, 257) and empty == [False, True, False]
    assert x[1, -1] == 0.0 and np.allclose(x[[0, 2], -1], vader.polarities([texts[0], texts[2]]))
    with pytest.raises(ValueError, match="not an installed sentiment backend"):
        start_lexicons(["no-such-lexicon"])


def test_bad_head_files_name_the_field(tmp_path: Path, head_file: Path) -> None:
    good = json.loads(head_file.read_text())
    for change, field in [({"format": "pickle"}, "format"), ({"weights": [1, "x"]}, "weights"), ({"dim": 3}, "dim"),
                          ({"lexicons": ["embedding-head"]}, "lexicons"),
                          ({"embedding": {"backend": 3}}, "embedding")]:
        p = tmp_path / f"{field}.json"
        p.write_text(json.dumps({**good, **change}))
        with pytest.raises(ValueError, match=field):
            EmbeddingHeadSentiment.Options(head=str(p))
    with pytest.raises(ValueError, match="does not exist"):
        EmbeddingHeadSentiment.Options(head=str(tmp_path / "missing.json"))
    with pytest.raises(ValueError, match="no head file configured"):
        EmbeddingHeadSentiment().start()


def test_cross_validation_never_scores_a_row_with_a_head_that_saw_it() -> None:
    import numpy as np

    rng = np.random.RandomState(1)
    x = rng.normal(size=(60, 40))
    y = rng.randint(0, 2, size=60)  # labels unrelated to x: held-out accuracy must stay near chance
    acc, _ = cross_validate(x, y, l2=1e-3, folds=5)
    w, b = fit_logistic(x, y, l2=1e-3)
    train_acc = float((((x @ w + b) > 0) == (y == 1)).mean())
    assert train_acc > 0.95 and acc < 0.7


@pytest.mark.slow
@pytest.mark.skipif(not SST.exists(), reason="SST-2 dev is absent")
def test_fit_on_sst2_beats_chance_cross_validated(tmp_path: Path) -> None:
    res = CliRunner().invoke(fit_sentiment, [str(SST), "--format", "sst", "-o", str(tmp_path / "h.json"), "--folds", "5"])
    assert res.exit_code == 0, res.output
    head = load_head(tmp_path / "h.json")
    assert head["trained"]["rows"] == 872 and head["trained"]["cv_accuracy"] > 0.7  # 69.7 % without lexicons
    tool = EmbeddingHeadSentiment(EmbeddingHeadSentiment.Options(head=str(tmp_path / "h.json")))
    tool.start()
    out = tool.run_batch([polarity("a wonderful , moving film"), polarity("a dull , lifeless mess")])
    assert [o["label"] for o in out] == ["positive", "negative"]
