"""The ``model:transformers`` backend: any Hugging Face model by local path.

The card's ``kind`` picks the class: ``classifier`` → ``AutoModelForSequenceClassification``,
``encoder`` → ``AutoModel``, ``causal_lm`` → ``AutoModelForCausalLM``.  Weights are read from
``model.safetensors`` only (never a pickle), with ``local_files_only``: nothing comes from a hub.

Texts are tokenized once, cut to ``max_length`` tokens (the first ones are kept), sorted by length and
run in batches of ``batch_size`` padded only to the longest text of the batch (dynamic padding, length
bucketing), under ``torch.inference_mode``; in bfloat16 on CUDA, float32 on CPU.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

from chil_core.capabilities.model import (
    LoadedModel,
    ModelDirError,
    ModelOptions,
    ModelTool,
    bucket_batches,
    check_model_dir,
    effective_max_length,
)

log = logging.getLogger(__name__)

WEIGHTS = "model.safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def _device(choice: str) -> str:
    import torch

    if choice == "cuda" and not torch.cuda.is_available():
        raise ModelDirError("device = 'cuda' but CUDA is not available here")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


def load_tokenizer(directory: Path) -> Any:
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - name the file
        raise ModelDirError(f"{directory / 'tokenizer.json'}: cannot load the tokenizer: {type(exc).__name__}: {str(exc)[:300]}") from None
    if tok.pad_token_id is None:
        if tok.eos_token_id is None:
            raise ModelDirError(f"{directory / 'tokenizer_config.json'}: the tokenizer has neither a pad nor an eos token")
        tok.pad_token = tok.eos_token
    return tok


class HFModel(LoadedModel):
    """One loaded directory: model, tokenizer, device."""

    def __init__(self, directory: Path, options: ModelOptions) -> None:
        import torch

        card = check_model_dir(directory, need=("config.json", *TOKENIZER_FILES))
        weights = directory / WEIGHTS
        if not weights.is_file():
            raise ModelDirError(f"{weights}: missing (only safetensors weights are read)")
        self.directory, self.card, self.kind = directory, card, card["kind"]
        self.labels = list(card.get("labels") or [])
        self.options = options
        self.device = _device(options.device)
        self.dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        self.tokenizer = load_tokenizer(directory)
        self.fast = None
        if getattr(self.tokenizer, "is_fast", False):
            import copy

            self.fast = copy.deepcopy(self.tokenizer.backend_tokenizer)  # a copy: transformers resets truncation/padding on its own
            self.fast.no_truncation()
            self.fast.no_padding()
        if options.threads and self.device == "cpu":
            torch.set_num_threads(options.threads)
        from transformers import AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # no "Loading weights" bar on the scorer's stderr

        cls = {"classifier": AutoModelForSequenceClassification, "encoder": AutoModel, "causal_lm": AutoModelForCausalLM}[self.kind]
        try:
            self.model = cls.from_pretrained(str(directory), local_files_only=True, use_safetensors=True, dtype=self.dtype)
        except Exception as exc:  # noqa: BLE001 - a truncated or foreign weights file: name it
            raise ModelDirError(f"{weights}: cannot load the weights: {type(exc).__name__}: {str(exc)[:300]}") from None
        self.model.to(self.device).eval()
        positions = getattr(self.model.config, "max_position_embeddings", None)
        self.max_length = effective_max_length(options.max_length, card, positions)
        if self.kind == "classifier":
            n = int(getattr(self.model.config, "num_labels", 0))
            if n != len(self.labels):
                raise ModelDirError(f"{directory / 'config.json'}: num_labels is {n} but the card lists {len(self.labels)} labels")

    # -- encoding ---------------------------------------------------------------------------------
    def encode(self, texts: list[str]) -> tuple[list[list[int]], list[bool]]:
        """Token ids per text (special tokens included), cut to ``max_length``; truncated flags."""
        if self.fast is not None:  # the same ids without transformers' per-text Python wrapping (a third of a small model's time)
            ids = [e.ids for e in self.fast.encode_batch(texts, add_special_tokens=True)]
        else:
            ids = self.tokenizer(texts, add_special_tokens=True, truncation=False)["input_ids"]
        limit = self.max_length
        return [x[:limit] for x in ids], [len(x) > limit for x in ids]

    def _batches(self, ids: list[list[int]]) -> Any:
        """(indices, input_ids, attention_mask) per length bucket, padded on the tokenizer's side."""
        import torch

        pad = int(self.tokenizer.pad_token_id)
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        for idx in bucket_batches([len(x) for x in ids], self.options.batch_size):
            width = max(1, max(len(ids[i]) for i in idx))
            rows, masks = [], []
            for i in idx:
                x = ids[i] or [pad]
                fill = [pad] * (width - len(x))
                rows.append(fill + x if left else x + fill)
                m = [0] * len(fill)
                one = [1] * len(x)
                masks.append(m + one if left else one + m)
            yield idx, torch.tensor(rows, device=self.device), torch.tensor(masks, device=self.device)

    def logits(self, texts: list[str]) -> tuple[Any, list[bool]]:
        import numpy as np
        import torch

        ids, cut = self.encode(texts)
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        with torch.inference_mode():
            for idx, x, m in self._batches(ids):
                out[idx] = self.model(input_ids=x, attention_mask=m).logits.float().cpu().numpy()
        return out, cut

    def vectors(self, texts: list[str]) -> tuple[Any, list[bool]]:
        """Mean of the last hidden layer over the text's tokens."""
        import numpy as np
        import torch

        ids, cut = self.encode(texts)
        rows: dict[int, Any] = {}
        with torch.inference_mode():
            for idx, x, m in self._batches(ids):
                res = self.model(input_ids=x, attention_mask=m, output_hidden_states=True)
                h = res.hidden_states[-1] if getattr(res, "hidden_states", None) is not None else res.last_hidden_state
                mf = m.unsqueeze(-1).to(h.dtype)
                pooled = ((h * mf).sum(1) / mf.sum(1).clamp(min=1)).float().cpu().numpy()
                for k, i in enumerate(idx):
                    rows[i] = pooled[k]
        return np.stack([rows[i] for i in range(len(texts))]), cut

    def logprobs(self, prompt: str, continuations: list[str]) -> tuple[list[float], bool]:
        """Sum of the log-probabilities of each continuation's tokens after the prompt."""
        import torch

        tok = self.tokenizer
        p_ids = tok(prompt, add_special_tokens=True)["input_ids"]
        limit = self.max_length
        seqs, spans, cut = [], [], False
        for c in continuations:
            c_ids = tok(c, add_special_tokens=False)["input_ids"][: limit - 1] or []
            keep = max(1, limit - len(c_ids))
            if len(p_ids) > keep:
                cut = True
            p = p_ids[-keep:]
            seqs.append(p + c_ids)
            spans.append((len(p), len(c_ids)))
        out = [0.0] * len(continuations)
        with torch.inference_mode():
            for idx, x, m in self._batches(seqs):
                logp = torch.log_softmax(self.model(input_ids=x, attention_mask=m).logits.float(), dim=-1)
                width = x.shape[1]
                left = getattr(tok, "padding_side", "right") == "left"
                for k, i in enumerate(idx):
                    start, n = spans[i]
                    offset = width - len(seqs[i]) if left else 0
                    total = 0.0
                    for t in range(n):
                        pos = offset + start + t
                        total += float(logp[k, pos - 1, x[k, pos]])
                    out[i] = total
        return out, cut

    def generate(self, prompt: str, max_new_tokens: int) -> tuple[str, bool]:
        import torch

        ids, (cut,) = self.encode([prompt])
        x = torch.tensor([ids[0] or [int(self.tokenizer.pad_token_id)]], device=self.device)
        with torch.inference_mode():
            y = self.model.generate(input_ids=x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens,
                                    do_sample=False, pad_token_id=int(self.tokenizer.pad_token_id))
        return self.tokenizer.decode(y[0, x.shape[1]:], skip_special_tokens=True), cut

    def close(self) -> None:
        self.model = None


class TransformersModel(ModelTool):
    """``model:transformers``: a Hugging Face model directory (see the module docstring)."""

    name: ClassVar[str] = "transformers"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Hugging Face transformers model by local path (classifier, encoder, causal LM)."
    requires_modules: ClassVar[dict[str, str]] = {"torch": "torch", "transformers": "transformers"}
    priority: ClassVar[int] = 0

    def load(self, directory: Path) -> LoadedModel:
        return HFModel(directory, self.options)
