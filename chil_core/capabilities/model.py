"""The ``model`` capability: mini-LLMs (a small classifier, encoder or causal LM) beside the tools.

Four ops; every text is cut to ``max_chars`` characters and then to ``max_length`` tokens before it is
encoded (model output is hostile: a 1 MB completion costs what 20 kB cost), and its index is listed in
``truncated``::

    classify  payload = {"texts": ["...", ...], "model": "<dir>"?}
              value   = {"labels": ["wrong", "right"], "probs": [[0.1, 0.9], ...],
                         "predicted": ["right", ...], "empty": [i, ...], "truncated": [i, ...]}

    embed     payload = {"texts": [...], "model"?}
              value   = {"dim": 64, "vectors": [[float, ...], ...], "empty": [...], "truncated": [...]}

    score     payload = {"prompt": "Is it true? Answer:", "continuations": [" Yes", " No"], "model"?}
              value   = {"logprobs": [-0.3, -1.4], "truncated": bool}      # sum of token log-probs

    generate  payload = {"prompt": "...", "max_new_tokens": 32, "model"?}  # greedy, at most 256 tokens
              value   = {"text": "...", "truncated": bool}

``model`` (optional) picks a model directory other than the backend's ``path`` option (the model
route of a framework uses it, so that several frameworks share one backend); a backend keeps a few
loaded models.  Probabilities and vector components are rounded to 6 decimals (3 for an INT8 graph, whose
dynamic quantization scale depends on the batch), so equal calls give byte-equal JSON whatever their batch.  A text with nothing to encode (``""``) gets the prior of
the model for ``classify`` and the zero vector for ``embed``, with its index in ``empty``.  A malformed
payload is an ``error`` result naming the field; an op the loaded model cannot do (``generate`` on a
sequence classifier) is an ``error`` naming the model's kind and its ops.

A **model directory** is what ``save_pretrained`` writes (``config.json``, weights, tokenizer files)
plus a model card ``chil-model.json`` (:data:`CARD`): its task and labels, the data it was trained on,
its metrics and date.  The ONNX backend reads ``model.onnx`` / ``model.int8.onnx`` from the same
directory.  :func:`check_model_dir` reads the card and checks the files before anything is loaded, so a
corrupt directory is a :class:`ModelDirError` naming the file, never a traceback from deep inside a
library.

A directory whose card says ``architecture.type = "linear-head"`` holds a linear head on an
``embedding`` backend (``head.json``, :class:`HeadModel`); every model backend serves it.  Otherwise a
backend subclasses :class:`ModelTool` and implements :meth:`ModelTool.load` (one directory → a
:class:`LoadedModel`); the base class validates, deduplicates the texts of a whole batch of calls,
runs each op once per model per batch, and answers every call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

log = logging.getLogger(__name__)

CAPABILITY = "model"
OPS = frozenset({"classify", "embed", "score", "generate"})
CARD = "chil-model.json"
CARD_FORMAT = "chil-model"
#: the label of a distilled student for "the teacher had nothing to judge" (the model route keeps the abstention)
ABSTAINED = "abstained"
MAX_TEXTS = 4096
MAX_CONTINUATIONS = 64
MAX_NEW_TOKENS = 256
DEFAULT_MAX_CHARS = 20_000
MAX_CARD_BYTES = 2_000_000
ROUND = 6
#: kinds of model a directory holds, and the ops each can answer
KIND_OPS: dict[str, frozenset[str]] = {
    "classifier": frozenset({"classify", "embed"}),
    "encoder": frozenset({"embed"}),
    "causal_lm": frozenset({"score", "generate", "embed"}),
}
ModelKind = Literal["classifier", "encoder", "causal_lm"]


_LOAD_LOCK = threading.RLock()


class ModelDirError(ValueError):
    """A model directory that cannot be used; the message names the file and what is wrong with it."""


class ModelOptions(BaseModel):
    """Options every model backend accepts (``[tools.<backend>]``)."""

    model_config = ConfigDict(extra="forbid")

    path: str | None = Field(default=None, description="Default model directory (calls may name another with 'model').")
    max_length: int = Field(default=256, ge=8, le=8192, description="Tokens kept per text (longer ones are cut and listed in 'truncated').")
    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=16, le=2_000_000,
                           description="Characters kept per text before tokenizing.")
    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per forward pass (sorted by length: length bucketing).")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="'auto': CUDA when present, else CPU.")
    threads: int | None = Field(default=None, ge=1, le=256, description="Intra-op threads (None: the library default).")
    max_models: int = Field(default=4, ge=1, le=64, description="Model directories kept loaded per backend instance.")


# -- the model card ---------------------------------------------------------------------------------
def read_card(directory: str | Path) -> dict[str, Any]:
    """The card of a model directory; :class:`ModelDirError` names the file and the field at fault."""
    d = Path(directory)
    if not d.exists():
        raise ModelDirError(f"{d}: model directory does not exist")
    if not d.is_dir():
        raise ModelDirError(f"{d}: not a directory (a model is a directory with {CARD}, config.json and the weights)")
    p = d / CARD
    if not p.is_file():
        raise ModelDirError(f"{p}: missing model card (write one with `chil model fit` / `distill`, or see chil_core.capabilities.model)")
    if p.stat().st_size > MAX_CARD_BYTES:
        raise ModelDirError(f"{p}: larger than {MAX_CARD_BYTES} bytes")
    try:
        card = json.loads(p.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelDirError(f"{p}: not valid JSON ({exc})") from None
    if not isinstance(card, dict) or card.get("format") != CARD_FORMAT:
        raise ModelDirError(f"{p}: 'format' must be {CARD_FORMAT!r}")
    kind = card.get("kind")
    if kind not in KIND_OPS:
        raise ModelDirError(f"{p}: 'kind' must be one of {sorted(KIND_OPS)}, got {kind!r}")
    labels = card.get("labels")
    if kind == "classifier" and not (isinstance(labels, list) and len(labels) >= 2 and all(isinstance(x, str) and x for x in labels)
                                     and len(set(labels)) == len(labels)):
        raise ModelDirError(f"{p}: 'labels' must list at least two distinct label names for a classifier")
    scores = card.get("label_scores")
    if scores is not None and not (isinstance(scores, dict) and all(
            k in (labels or []) and isinstance(v, int | float) and math.isfinite(v) for k, v in scores.items())):
        raise ModelDirError(f"{p}: 'label_scores' must map label names of 'labels' to finite numbers")
    return card


def check_model_dir(directory: str | Path, *, need: Sequence[str] = ("config.json",)) -> dict[str, Any]:
    """Read the card and check that each file of ``need`` is there and (for ``.json``) parses.
    Returns the card; :class:`ModelDirError` otherwise."""
    d = Path(directory)
    card = read_card(d)
    for name in need:
        f = d / name
        if not f.is_file():
            raise ModelDirError(f"{f}: missing")
        if f.stat().st_size == 0:
            raise ModelDirError(f"{f}: empty file")
        if name.endswith(".json"):
            try:
                json.loads(f.read_bytes().decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise ModelDirError(f"{f}: not valid JSON ({exc})") from None
    return card


def fingerprint(directory: str | Path) -> str:
    """A short digest of a model directory's files (names, sizes, modification times): the cache key of
    a model's answers changes when the model is rewritten in place."""
    d = Path(directory)
    h = hashlib.blake2b(digest_size=8)
    try:
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            if entry.is_file():
                st = entry.stat()
                h.update(f"{entry.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    except OSError as exc:
        raise ModelDirError(f"{d}: cannot list the model directory ({exc.strerror or exc})") from None
    return h.hexdigest()


def write_card(directory: str | Path, card: dict[str, Any]) -> Path:
    """Write ``card`` (with ``format`` set) as the directory's ``chil-model.json``, atomically."""
    p = Path(directory) / CARD
    data = {"format": CARD_FORMAT, **card}
    tmp = p.with_name(p.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(p)
    return p


# -- payload validation -----------------------------------------------------------------------------
def _texts(value: Any, field_name: str, limit: int) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"payload.{field_name}: must be a list of strings")
    if len(value) > limit:
        raise ValueError(f"payload.{field_name}: at most {limit} items, got {len(value)}")
    for i, t in enumerate(value):
        if not isinstance(t, str):
            raise ValueError(f"payload.{field_name}[{i}]: must be a string, got {type(t).__name__}")
    return value


@dataclass
class Parsed:
    """One validated call."""

    op: str
    model: str | None
    texts: list[str] = field(default_factory=list)
    prompt: str = ""
    continuations: list[str] = field(default_factory=list)
    max_new_tokens: int = 32


def parse_call(call: ToolCall) -> Parsed:
    """A call's op, model and inputs; ``ValueError`` names the bad field."""
    p = call.payload
    if not isinstance(p, dict):
        raise ValueError("payload: must be an object")
    if call.op not in OPS:
        raise ValueError(f"model has no op {call.op!r}; ops: {', '.join(sorted(OPS))}")
    model = p.get("model")
    if model is not None and not (isinstance(model, str) and model):
        raise ValueError("payload.model: must be a model directory path")
    known = {"model", "texts"} if call.op in ("classify", "embed") else (
        {"model", "prompt", "continuations"} if call.op == "score" else {"model", "prompt", "max_new_tokens"})
    extra = sorted(set(p) - known - {"fingerprint"})
    if extra:
        raise ValueError(f"payload.{extra[0]}: not a field of op {call.op!r}; fields: {', '.join(sorted(known))}")
    if call.op in ("classify", "embed"):
        return Parsed(call.op, model, texts=_texts(p.get("texts"), "texts", MAX_TEXTS))
    prompt = p.get("prompt")
    if not isinstance(prompt, str):
        raise ValueError("payload.prompt: must be a string")
    if call.op == "score":
        conts = _texts(p.get("continuations"), "continuations", MAX_CONTINUATIONS)
        if not conts:
            raise ValueError("payload.continuations: must not be empty")
        return Parsed(call.op, model, prompt=prompt, continuations=conts)
    n = p.get("max_new_tokens", 32)
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NEW_TOKENS:
        raise ValueError(f"payload.max_new_tokens: must be an integer from 1 to {MAX_NEW_TOKENS}")
    return Parsed(call.op, model, prompt=prompt, max_new_tokens=n)


def effective_max_length(option: int, card: dict[str, Any], positions: int | None = None) -> int:
    """Tokens kept per text: the option, bounded by the card's ``max_length`` and the model's positions."""
    bound = [option]
    if isinstance(card.get("max_length"), int) and card["max_length"] > 0:
        bound.append(card["max_length"])
    if positions:
        bound.append(positions)
    return max(1, min(bound))


def softmax(logits: Any) -> np.ndarray:
    import numpy as np

    z = np.asarray(logits, dtype=np.float64)
    z = np.where(np.isfinite(z), z, -1e9)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


# -- loaded models and the base tool ----------------------------------------------------------------
class LoadedModel:
    """One loaded model directory.  A backend implements the ops its kind supports; every text given
    here is already cut to ``max_chars`` characters and is not empty."""

    kind: ModelKind
    labels: list[str]
    card: dict[str, Any]
    directory: Path
    #: decimals kept in probabilities and vectors: below the model's own noise, so that equal texts get
    #: equal answers whatever batch they ride in (dynamic INT8 quantizes each batch with its own scale)
    digits: int = ROUND

    def ops(self) -> frozenset[str]:
        return KIND_OPS[self.kind]

    def logits(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """(one row of class logits per text, token-truncated flags)."""
        raise NotImplementedError

    def vectors(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        """(one embedding row per text, token-truncated flags)."""
        raise NotImplementedError

    def logprobs(self, prompt: str, continuations: list[str]) -> tuple[list[float], bool]:
        raise NotImplementedError

    def generate(self, prompt: str, max_new_tokens: int) -> tuple[str, bool]:
        raise NotImplementedError

    def close(self) -> None:
        """Free the model."""


HEAD_FILE = "head.json"
HEAD_FORMAT = "chil-linear-head"


class HeadModel(LoadedModel):
    """A linear head on an ``embedding`` backend (``chil model fit --base embedding:<name>``): logits =
    W·v + b over the backend's unit sentence vectors.  Any model backend serves it (it needs no torch
    and no ONNX Runtime); the weights are JSON data, never a pickle."""

    def __init__(self, directory: Path, card: dict[str, Any]) -> None:
        import numpy as np

        from chil_core.capabilities.embedding import start_embedder

        p = directory / HEAD_FILE
        if not p.is_file():
            raise ModelDirError(f"{p}: missing")
        try:
            head = json.loads(p.read_bytes().decode("utf-8"))
            w = np.asarray(head["weights"], dtype=np.float64)
            b = np.asarray(head["bias"], dtype=np.float64)
            emb = head["embedding"]
            backend, options = str(emb["backend"]), dict(emb.get("options") or {})
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ModelDirError(f"{p}: not a {HEAD_FORMAT} file ({type(exc).__name__}: {exc})") from None
        labels = list(card["labels"])
        if head.get("format") != HEAD_FORMAT or w.ndim != 2 or w.shape[0] != len(labels) or b.shape != (len(labels),):
            raise ModelDirError(f"{p}: weights must be {len(labels)} rows (one per label) with a bias each, format {HEAD_FORMAT!r}")
        try:
            self.embedder = start_embedder(backend, options)
        except ValueError as exc:
            raise ModelDirError(f"{p}: embedding: {exc}") from None
        if self.embedder.dim != w.shape[1]:
            raise ModelDirError(f"{p}: weights have {w.shape[1]} columns but {backend} gives {self.embedder.dim} dimensions")
        self.directory, self.card, self.kind, self.labels = directory, card, "classifier", labels
        self.w, self.b = w, b

    def vectors(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        rows, _, truncated = self.embedder.encode_normalized(texts)
        return rows, truncated

    def logits(self, texts: list[str]) -> tuple[np.ndarray, list[bool]]:
        rows, truncated = self.vectors(texts)
        return rows @ self.w.T + self.b, truncated

    def close(self) -> None:
        self.embedder.close()


class ModelTool(Tool):
    """Base of the model backends: validation, per-model batching, answers; see the module docstring."""

    capability: ClassVar[str] = CAPABILITY
    kind: ClassVar[str] = "model"
    ops: ClassVar[frozenset[str]] = OPS
    Options: ClassVar[type[BaseModel]] = ModelOptions
    options: ModelOptions
    max_batch: ClassVar[int] = 512

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        self._models: OrderedDict[str, LoadedModel | ModelDirError] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, directory: Path) -> LoadedModel:
        """Load one model directory (raise :class:`ModelDirError` naming the file when it is unusable)."""
        raise NotImplementedError

    def model(self, directory: str | None) -> LoadedModel:
        """The loaded model of ``directory`` (default: the ``path`` option), loading it on first use.
        A directory that failed to load keeps failing with the same error (it is not re-read per call)."""
        raw = directory or self.options.path
        if not raw:
            raise ModelDirError(f"{self.name}: no model directory: set [tools.{self.name}] path or the call's 'model'")
        key = str(Path(raw).expanduser().resolve())
        # one load at a time in the process: libraries such as transformers are not safe to import from
        # two threads at once (a thread abandoned after a timeout may still be importing)
        with _LOAD_LOCK, self._lock:
            got = self._models.get(key)
            if got is None:
                try:
                    card = read_card(key)
                    if (card.get("architecture") or {}).get("type") == "linear-head":
                        got = HeadModel(Path(key), card)
                    else:
                        got = self.load(Path(key))
                except ModelDirError as exc:  # the directory's fault: remembered, not re-read per call
                    got = exc
                except Exception as exc:  # noqa: BLE001 - a library's own error: name the directory, retry next time
                    log.warning("%s: loading %s raised", self.name, key, exc_info=True)
                    raise ModelDirError(f"{key}: cannot load the model: {type(exc).__name__}: {str(exc)[:300]}") from None
                self._models[key] = got
                while len(self._models) > self.options.max_models:
                    _, old = self._models.popitem(last=False)
                    if isinstance(old, LoadedModel):
                        old.close()
            self._models.move_to_end(key)
        if isinstance(got, ModelDirError):
            raise got
        return got

    def close(self) -> None:
        for m in self._models.values():
            if isinstance(m, LoadedModel):
                try:
                    m.close()
                except Exception:  # noqa: BLE001
                    log.warning("%s: closing a model raised", self.name, exc_info=True)
        self._models.clear()

    # -- batching ---------------------------------------------------------------------------------
    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        out: list[ToolResult | Any] = [None] * len(calls)
        groups: dict[tuple[str | None, str], list[tuple[int, Parsed]]] = {}
        for i, call in enumerate(calls):
            try:
                parsed = parse_call(call)
            except ValueError as exc:
                out[i] = ToolResult.failure(str(exc))
                continue
            groups.setdefault((parsed.model, parsed.op), []).append((i, parsed))
        for (directory, op), items in groups.items():
            try:
                model = self.model(directory)
            except ModelDirError as exc:
                for i, _ in items:
                    out[i] = ToolResult.failure(str(exc))
                continue
            if op not in model.ops():
                msg = (f"model {model.directory} is a {model.kind} and cannot {op}; its ops: {', '.join(sorted(model.ops()))}")
                for i, _ in items:
                    out[i] = ToolResult.failure(msg)
                continue
            try:
                answers = self._answer(model, op, [p for _, p in items])
            except Exception as exc:  # noqa: BLE001 - one failing group is a status for its calls
                log.warning("%s: %s on %s raised", self.name, op, model.directory, exc_info=True)
                answers = [ToolResult.failure(f"{type(exc).__name__}: {str(exc)[:500]}")] * len(items)
            for (i, _), answer in zip(items, answers, strict=True):
                out[i] = answer
        return out

    def _cut(self, texts: list[str]) -> tuple[list[str], list[bool]]:
        limit = self.options.max_chars
        return [t[:limit] for t in texts], [len(t) > limit for t in texts]

    def _answer(self, model: LoadedModel, op: str, items: list[Parsed]) -> list[Any]:
        import numpy as np

        if op in ("classify", "embed"):
            unique: dict[str, int] = {}
            for p in items:
                for t in p.texts:
                    unique.setdefault(t, len(unique))
            cut, char_cut = self._cut(list(unique))
            nonempty = [j for j, t in enumerate(cut) if t.strip()]
            tok_cut = [False] * len(cut)
            if op == "classify":
                n = len(model.labels)
                rows = np.zeros((len(cut), n))
                if nonempty:
                    logits, flags = model.logits([cut[j] for j in nonempty])
                    rows[nonempty] = softmax(logits)
                    for j, f in zip(nonempty, flags, strict=True):
                        tok_cut[j] = f
                prior = model.card.get("prior")
                empty_row = np.asarray(prior if isinstance(prior, list) and len(prior) == n else [1.0 / n] * n)
                for j, t in enumerate(cut):
                    if not t.strip():
                        rows[j] = empty_row
            else:
                dim = int(model.card.get("dim") or 0)
                if nonempty:
                    vecs, flags = model.vectors([cut[j] for j in nonempty])
                    dim = vecs.shape[1]
                    rows = np.zeros((len(cut), dim), dtype=np.float32)
                    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                    rows[nonempty] = np.where(norms > 1e-12, vecs / np.maximum(norms, 1e-12), 0.0)
                    for j, f in zip(nonempty, flags, strict=True):
                        tok_cut[j] = f
                else:
                    rows = np.zeros((len(cut), dim), dtype=np.float32)
            out: list[Any] = []
            for p in items:
                idx = [unique[t] for t in p.texts]
                empty = [k for k, j in enumerate(idx) if not cut[j].strip()]
                trunc = [k for k, j in enumerate(idx) if char_cut[j] or tok_cut[j]]
                if op == "classify":
                    probs = [[round(float(x), model.digits) for x in rows[j]] for j in idx]
                    out.append({"labels": list(model.labels), "probs": probs,
                                "predicted": [model.labels[int(np.argmax(rows[j]))] for j in idx],
                                "empty": empty, "truncated": trunc})
                else:
                    out.append({"dim": int(rows.shape[1]), "vectors": [[round(float(x), model.digits) for x in rows[j]] for j in idx],
                                "empty": empty, "truncated": trunc})
            return out
        out = []
        for p in items:
            (prompt,), (cut,) = self._cut([p.prompt])
            if op == "score":
                conts, ccut = self._cut(p.continuations)
                lps, tcut = model.logprobs(prompt, conts)
                out.append({"logprobs": [round(float(x), ROUND) for x in lps], "truncated": bool(cut or tcut or any(ccut))})
            else:
                text, tcut = model.generate(prompt, p.max_new_tokens)
                out.append({"text": text, "truncated": bool(cut or tcut)})
        return out


def bucket_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (sorted by length, then cut every
    ``batch_size``): padding is only up to the longest text of each batch (length bucketing)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[k:k + batch_size] for k in range(0, len(order), batch_size)]


def start_model(backend: str, options: dict[str, Any] | None = None) -> ModelTool:
    """A started model backend found by name among the installed plugins.  ``ValueError`` names what
    is missing."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    choices = reg.backends(CAPABILITY)
    if backend not in choices:
        raise ValueError(f"model backend {backend!r} is not installed; installed: {choices}")
    cls = reg.tool(CAPABILITY, backend)
    reason = reg.unavailable_reason(cls)
    if reason:
        raise ValueError(f"model backend {backend!r} is unavailable: {reason}")
    tool = cls(cls.Options.model_validate(options or {}))
    tool.start()
    return tool  # type: ignore[return-value]


def model_group(cli: Any) -> Any:
    """The ``chil model`` click group, made by the first plugin that adds a command to it (the
    transformers plugin adds ``fit`` / ``distill`` / ``corpus``, the ONNX plugin ``export``)."""
    import click

    group = cli.commands.get("model") if hasattr(cli, "commands") else None
    if group is None:
        @click.group("model")
        def group() -> None:
            """Mini-LLMs: fit, distill from a framework, export to ONNX INT8."""

        cli.add_command(group, "model")
    return group


def read_jsonl_rows(path: str | Path, limit_bytes: int = 10_000_000) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """``(line number, object)`` of each good line of a JSONL file, and one ``file:line: skipped: why``
    message per bad one (invalid UTF-8, not JSON, not an object, a line over ``limit_bytes``).  Blank
    lines are ignored; nothing is dropped silently."""
    rows: list[tuple[int, dict[str, Any]]] = []
    bad: list[str] = []
    with open(path, "rb") as fh:
        for n, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            if len(raw) > limit_bytes:
                bad.append(f"{path}:{n}: skipped: line of {len(raw):,} bytes exceeds {limit_bytes:,}")
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad.append(f"{path}:{n}: skipped: not UTF-8 (invalid byte at offset {exc.start})")
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                bad.append(f"{path}:{n}: skipped: not JSON ({exc.msg} at column {exc.colno})")
                continue
            if not isinstance(obj, dict):
                bad.append(f"{path}:{n}: skipped: must be a JSON object")
                continue
            rows.append((n, obj))
    return rows, bad
