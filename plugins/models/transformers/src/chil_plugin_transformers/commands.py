"""``chil model fit | distill | corpus``: train tiny classifiers from labelled JSONL or from a framework's
verdicts, and build the distillation corpora from the development data."""

from __future__ import annotations

import hashlib
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from chil_core.capabilities.model import ABSTAINED, read_jsonl_rows


def _die(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:16]


def _shape_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--max-length", type=click.IntRange(8, 1024), default=128, show_default=True, help="Tokens (bytes) per text."),
        click.option("--hidden", type=click.IntRange(8, 1024), default=64, show_default=True),
        click.option("--layers", type=click.IntRange(1, 24), default=2, show_default=True),
        click.option("--heads", type=click.IntRange(1, 32), default=4, show_default=True),
        click.option("--epochs", type=click.IntRange(1, 1000), default=8, show_default=True),
        click.option("--batch-size", type=click.IntRange(1, 4096), default=64, show_default=True),
        click.option("--lr", type=click.FloatRange(min=0, min_open=True), default=3e-3, show_default=True),
        click.option("--time-budget", type=click.FloatRange(min=0, min_open=True), default=None, help="Stop training after this many seconds."),
        click.option("--held-out", type=click.FloatRange(0.05, 0.5), default=0.2, show_default=True, help="Fraction kept aside to measure."),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
                     help="torch CPU threads (more help only on an idle machine: on a busy one, threads wait on each other)."),
    ]):
        f = opt(f)
    return f


def _train_and_save(output: Path, texts: list[str], names: list[str], labels: list[str], *, shape_kw: dict[str, Any],
                    card: dict[str, Any]) -> dict[str, Any]:
    """Train the student on a split, measure it on the held-out part, save the directory."""
    import torch

    from chil_plugin_transformers.student import (
        StudentShape,
        predict,
        save_model,
        split,
        student_tokenizer,
        tiny_classifier,
        train_classifier,
    )

    torch.set_num_threads(shape_kw["threads"])
    index = {x: i for i, x in enumerate(names)}
    y = [index[x] for x in labels]
    train, held = split(len(texts), shape_kw["held_out"], shape_kw["seed"])
    if len({y[i] for i in train}) < 2:
        _die("the training part has a single label; nothing to learn")
    shape = StudentShape(hidden=shape_kw["hidden"], layers=shape_kw["layers"], heads=shape_kw["heads"], max_length=shape_kw["max_length"])
    if shape.hidden % shape.heads:
        _die(f"--hidden {shape.hidden} must be a multiple of --heads {shape.heads}")
    tok = student_tokenizer()
    model = tiny_classifier(tok, names, shape, seed=shape_kw["seed"])
    run = train_classifier(model, tok, [texts[i] for i in train], [y[i] for i in train], max_length=shape.max_length,
                           epochs=shape_kw["epochs"], batch_size=shape_kw["batch_size"], lr=shape_kw["lr"],
                           seed=shape_kw["seed"], time_budget_s=shape_kw["time_budget"])
    pred = predict(model, tok, [texts[i] for i in held], shape.max_length)
    agree = sum(int(p == y[i]) for p, i in zip(pred, held, strict=True)) / max(1, len(held))
    majority = Counter(y[i] for i in train).most_common(1)[0][0]
    baseline = sum(int(y[i] == majority) for i in held) / max(1, len(held))
    counts = Counter(labels)
    prior = [counts[x] / len(labels) for x in names]
    # per teacher label: how many held-out rows it has and the share the student gives the same label
    recall = {names[k]: {"rows": sum(int(y[i] == k) for i in held),
                         "agreement": round(sum(int(p == k) for p, i in zip(pred, held, strict=True) if y[i] == k)
                                            / max(1, sum(int(y[i] == k) for i in held)), 4)}
              for k in range(len(names))}
    metrics = {"held_out_rows": len(held), "held_out_accuracy": round(agree, 4),
               "majority_baseline": round(baseline, 4), "majority_label": names[majority], "train_rows": len(train),
               "held_out_by_label": recall}
    full = {**card, "labels": names, "prior": [round(p, 6) for p in prior], "label_counts": dict(counts),
            "architecture": {"type": "bert", "hidden": shape.hidden, "layers": shape.layers, "heads": shape.heads,
                             "parameters": sum(p.numel() for p in model.parameters())},
            "tokenizer": "chil byte-level (one token per UTF-8 byte, <s> prefix)", "max_length": shape.max_length,
            "training": {**run, "lr": shape_kw["lr"], "batch_size": shape_kw["batch_size"], "seed": shape_kw["seed"]},
            "metrics": {**card.get("metrics", {}), **metrics}}
    save_model(output, model, tok, full)
    samples = [texts[i] for i in held[:256]]
    (output / "samples.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in samples), encoding="utf-8")
    return full


def fit_softmax(x: Any, y: Any, n: int, l2: float = 1e-3, iterations: int = 400, lr: float = 2.0) -> tuple[Any, Any]:
    """Multinomial logistic regression by full-batch gradient descent (NumPy): weights (n × dim), bias."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    onehot = np.eye(n)[np.asarray(y)]
    w = np.zeros((n, x.shape[1]))
    b = np.zeros(n)
    for _ in range(iterations):
        z = x @ w.T + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) / len(x)
        w -= lr * (g.T @ x + l2 * w)
        b -= lr * g.sum(axis=0)
    return w, b


def _fit_head(output: Path, texts: list[str], names: list[str], labels: list[str], base: str, shape_kw: dict[str, Any],
              card: dict[str, Any]) -> dict[str, Any]:
    """A linear head on an embedding backend: the model directory holds head.json and the card."""
    import numpy as np

    from chil_core.capabilities.embedding import start_embedder
    from chil_core.capabilities.model import HEAD_FILE, HEAD_FORMAT, write_card
    from chil_plugin_transformers.student import split

    backend = base.split(":", 1)[1]
    try:
        emb = start_embedder(backend)
    except ValueError as exc:
        _die(f"--base: {exc}")
    y = np.asarray([names.index(x) for x in labels])
    x, _, _ = emb.encode_normalized(texts)
    train, held = split(len(texts), shape_kw["held_out"], shape_kw["seed"])
    w, b = fit_softmax(x[train], y[train], len(names))
    acc = float(((x[held] @ w.T + b).argmax(1) == y[held]).mean()) if held else float("nan")
    majority = int(np.bincount(y[train], minlength=len(names)).argmax())
    w, b = fit_softmax(x, y, len(names))  # the saved head sees every row
    output.mkdir(parents=True, exist_ok=True)
    head = {"format": HEAD_FORMAT, "embedding": {"backend": backend, "options": emb.options.model_dump(mode="json")},
            "weights": [[round(float(v), 7) for v in row] for row in w], "bias": [round(float(v), 7) for v in b]}
    (output / HEAD_FILE).write_text(json.dumps(head), encoding="utf-8")
    counts = Counter(labels)
    import datetime as dt

    full = {"kind": "classifier", "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), **card, "labels": names,
            "prior": [round(counts[n] / len(labels), 6) for n in names], "label_counts": dict(counts),
            "architecture": {"type": "linear-head", "embedding": backend, "dim": int(x.shape[1])},
            "metrics": {"held_out_rows": len(held), "held_out_accuracy": round(acc, 4), "train_rows": len(train),
                        "majority_baseline": round(float((y[held] == majority).mean()), 4), "majority_label": names[majority]}}
    write_card(output, full)
    (output / "samples.jsonl").write_text("".join(json.dumps({"text": texts[i]}, ensure_ascii=False) + "\n" for i in held[:256]),
                                          encoding="utf-8")
    emb.close()
    return full


@click.command("fit")
@click.argument("data", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model directory to write.")
@click.option("--text-field", default="text", show_default=True)
@click.option("--label-field", default="label", show_default=True)
@click.option("--base", default="student", show_default=True,
              help="student: a tiny transformer trained from scratch; embedding:NAME: a linear head on that embedding backend.")
@_shape_options
def fit(data: Path, output: Path, text_field: str, label_field: str, base: str, **shape_kw: Any) -> None:
    """Train a classifier on labelled JSONL DATA: a tiny transformer from scratch (byte-level tokenizer),
    or a linear head on an embedding backend (--base embedding:wordllama).

    Each line: {"text": "...", "label": "..."} (any label names; at least two).  Bad lines are reported
    with their line number and skipped (exit code 1 when there were any)."""
    if base != "student" and not base.startswith("embedding:"):
        _die(f"--base: must be 'student' or 'embedding:<backend>', got {base!r}")
    rows, bad = read_jsonl_rows(data)
    texts, labels = [], []
    for n, row in rows:
        text, label = row.get(text_field), row.get(label_field)
        if not isinstance(text, str) or not text.strip():
            bad.append(f"{data}:{n}: skipped: {text_field}: must be a non-empty string")
            continue
        if isinstance(label, bool) or not isinstance(label, str | int) or str(label) == "":
            bad.append(f"{data}:{n}: skipped: {label_field}: must be a string or an integer label")
            continue
        texts.append(text)
        labels.append(str(label))
    for msg in bad:
        click.echo(msg, err=True)
    names = sorted(set(labels))
    if len(names) < 2 or len(texts) < 10:
        _die(f"{data}: need at least two labels and 10 rows, got {len(names)} label(s) in {len(texts)} rows")
    card = {"task": f"classify {text_field} into {label_field}", "data": {"source": data.name, "sha256": _sha(data), "rows": len(texts),
                                                                            "bad_lines": len(bad)}}
    if base == "student":
        full = _train_and_save(output, texts, names, labels, shape_kw=shape_kw, card=card)
    else:
        full = _fit_head(output, texts, names, labels, base, shape_kw, card)
    m = full["metrics"]
    click.echo(f"{output}: {len(names)} labels, {len(texts)} rows; held-out accuracy {m['held_out_accuracy']:.3f} "
               f"(majority baseline {m['majority_baseline']:.3f}, {m['held_out_rows']} rows); {len(bad)} bad lines skipped")
    if bad:
        sys.exit(1)


def teacher_labels(records: list[dict[str, Any]], teacher: str, config: Path | None, label_from: str,
                   chunk: int = 128, record_timeout_s: float = 600.0, keep_abstentions: bool = True) -> tuple[list[int], list[str], list[float], Counter[str]]:
    """Score ``records`` with framework ``teacher`` through the Scorer: (kept indices, labels, scores,
    count of what was dropped by status).  With ``keep_abstentions`` a record the teacher abstained on
    is kept with the label ``abstained``: the student learns where the teacher has nothing to judge, and
    the model route leaves such text abstained."""
    from chil_core import Scorer
    from chil_core.config import load_settings
    from chil_core.plugins import get_plugin_manager

    kept, labels, scores = [], [], []
    dropped: Counter[str] = Counter()
    pm = get_plugin_manager()
    settings = load_settings(config, frameworks=[teacher], registry=pm.registry)
    # labelling is offline: a record may take its time (a busy machine must not turn labels into timeouts)
    settings.scheduler.record_timeout_s = max(settings.scheduler.record_timeout_s, record_timeout_s)
    with Scorer(settings, pm.registry, pm) as scorer:
        for start in range(0, len(records), chunk):
            for k, rr in enumerate(scorer.score(records[start:start + chunk])):
                res = rr.frameworks[teacher]
                if res.status == "abstained" and keep_abstentions:
                    kept.append(start + k)
                    labels.append(ABSTAINED)
                    scores.append(0.0)
                    continue
                if res.status != "scored":
                    dropped[res.status] += 1
                    continue
                if label_from == "verdict":
                    label = res.verdict or "scored"
                else:
                    label = "right" if (res.score or 0.0) >= 0.5 else "wrong"
                kept.append(start + k)
                labels.append(label)
                scores.append(float(res.score or 0.0))
    return kept, labels, scores, dropped


@click.command("distill")
@click.argument("corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--teacher", required=True, help="Framework whose verdicts the student learns (e.g. empirical, consistency).")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model directory to write.")
@click.option("--config", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help="chil.toml for the teacher.")
@click.option("--template", default="{completion}", show_default=True,
              help="Student input made from the record: {completion} and {prompt} are replaced.")
@click.option("--label-from", type=click.Choice(["verdict", "score"]), default="verdict", show_default=True,
              help="verdict: the teacher's verdict names; score: right (score >= 0.5) / wrong.")
@click.option("--min-count", type=click.IntRange(1), default=5, show_default=True, help="Labels seen fewer times are dropped.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Use the first N records.")
@click.option("--abstentions/--no-abstentions", default=True, show_default=True,
              help="Keep the records the teacher abstained on, as the label 'abstained' (the route then leaves them abstained).")
@_shape_options
def distill(corpus: Path, teacher: str, output: Path, config: Path | None, template: str, label_from: str, min_count: int,
            limit: int | None, abstentions: bool, **shape_kw: Any) -> None:
    """Label CORPUS (chil records, JSONL) with the TEACHER framework's verdicts and train a student to
    predict them; report the student's agreement with its teacher on a held-out part."""
    from chil_core.config import ConfigError
    from chil_core.scoring import RecordError, to_record

    if "{completion}" not in template and "{prompt}" not in template:
        _die("--template: must contain {completion} or {prompt}")
    rows, bad = read_jsonl_rows(corpus)
    records: list[dict[str, Any]] = []
    for n, row in rows[:limit]:
        try:
            to_record(row, n)
        except RecordError as exc:
            bad.append(f"{corpus}:{n}: skipped: {exc.field}: {str(exc).split(': ', 2)[-1]}")
            continue
        records.append(row)
    for msg in bad:
        click.echo(msg, err=True)
    if len(records) < 10:
        _die(f"{corpus}: need at least 10 good records, got {len(records)}")
    try:
        kept, labels, scores, dropped = teacher_labels(records, teacher, config, label_from, keep_abstentions=abstentions)
    except ConfigError as exc:
        _die(str(exc))
    counts = Counter(labels)
    rare = {x for x, c in counts.items() if c < min_count}
    sel = [j for j, x in enumerate(labels) if x not in rare]
    names = sorted(set(labels) - rare)
    if len(names) < 2:
        _die(f"the teacher gave fewer than two labels with at least {min_count} records each: {dict(counts)}; dropped: {dict(dropped)}")
    texts = [template.replace("{prompt}", records[kept[j]].get("prompt", "")).replace("{completion}", records[kept[j]].get("completion", ""))
             for j in sel]
    ys = [labels[j] for j in sel]
    label_scores = {x: round(sum(scores[j] for j in sel if labels[j] == x) / counts[x], 6) for x in names}
    card = {"task": f"predict the {teacher} framework's {label_from}", "teacher": {"framework": teacher, "label_from": label_from,
            "template": template, "label_scores_from": "mean teacher score of the records with that label"},
            "label_scores": label_scores,
            "data": {"source": corpus.name, "sha256": _sha(corpus), "records": len(records), "bad_lines": len(bad),
                     "teacher_not_scored": dict(dropped), "rare_labels_dropped": sorted(rare), "rows": len(texts)}}
    full = _train_and_save(output, texts, names, ys, shape_kw=shape_kw, card=card)
    m = full["metrics"]
    click.echo(f"{output}: student of {teacher} over {len(texts)} records, labels {dict(Counter(ys))}; held-out agreement with "
               f"the teacher {m['held_out_accuracy']:.3f} on {m['held_out_rows']} rows (majority baseline {m['majority_baseline']:.3f}); "
               f"teacher did not score {sum(dropped.values())}; {len(bad)} bad lines skipped")
    if bad:
        sys.exit(1)


@click.command("corpus")
@click.argument("name", type=click.Choice(["gsm8k-steps", "proofwriter"]))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--data", type=click.Path(exists=True, file_okay=False, path_type=Path), default=Path("../shared/data"),
              show_default=True, help="The development data folder.")
@click.option("--limit", type=click.IntRange(1), default=None)
@click.option("--seed", type=int, default=0, show_default=True)
def corpus(name: str, output: Path, data: Path, limit: int | None, seed: int) -> None:
    """Write a distillation corpus (chil records, JSONL) built from the development data."""
    from chil_plugin_transformers.corpora import CORPORA

    rel, build = CORPORA[name]
    src = data / rel
    if not src.is_file():
        _die(f"{src}: not found (--data names the development data folder)")
    rows = build(src, limit) if name == "proofwriter" else build(src, limit, seed)
    output.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    click.echo(f"{output}: {len(rows)} records from {src}")


@click.command("demo")
@click.option("-o", "--output", type=click.Path(file_okay=False, path_type=Path), required=True, help="Model directory to write.")
@click.option("--seed", type=int, default=0, show_default=True)
def demo(output: Path, seed: int) -> None:
    """Build the embedded demo model (does a text contain a number?) here, in seconds, with no download."""
    from chil_plugin_transformers.demo import build_demo

    d = build_demo(output, seed=seed)
    m = json.loads((d / "chil-model.json").read_text(encoding="utf-8"))["metrics"]
    click.echo(f"{d}: demo classifier (number / word); held-out accuracy {m['held_out_accuracy']:.3f} on {m['held_out_rows']} rows")
