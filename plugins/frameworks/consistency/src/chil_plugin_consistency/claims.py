"""What the consistency framework judges: the premises of a record and the claims of its completion.

Two modes, picked per record:

- **fol**: premises from ``metadata.premises_fol`` (a list of formulas, or one formula per line) or a
  fenced ```` ```fol ```` block in the prompt; claims from ```` ```fol ```` blocks in the completion,
  else ``metadata.conclusion_fol``.  Parsed by :mod:`.fol`.
- **english**: premises from ``metadata.theory`` (text, or an already structured ``{facts, rules}``),
  ``metadata.context``, or the prompt up to its question; claims are the completion's ground
  sentences ("Bob is cold.").  Parsed by :mod:`.english`.

Building a job never raises for bad input: it returns a :class:`Problem` naming the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from chil_core import Record
from chil_core.capabilities.logic_program import Literal as Lit
from chil_core.capabilities.logic_program import Theory, TheoryError, load_theory
from chil_core.capabilities.smt import FolSyntaxError, parse_fol, split_formulas, symbols
from chil_plugin_consistency.english import parse_claims, parse_theory

_FOL_BLOCK = re.compile(r"```[ \t]*fol[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)

Mode = Literal["fol", "english"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim of a completion (or recalled from the episode memory)."""

    text: str
    kind: Mode
    data: Any  # FOL AST (list) or literal JSON (dict); None when it does not parse
    terms: tuple[str, ...] = ()
    error: str | None = None
    record: str | None = None  # the record it came from, for recalled claims

    @property
    def literal(self) -> Lit:
        d = self.data
        return Lit(d["pred"], tuple(d["args"]), d["neg"])

    def memo(self) -> dict[str, Any]:
        """The episode-memory row of this claim."""
        return {"kind": self.kind, "text": self.text, "data": self.data, "terms": list(self.terms)}


@dataclass
class Job:
    mode: Mode
    premise_texts: list[str]
    claims: list[Claim]
    premises_fol: list[Any] = field(default_factory=list)  # fol mode: ASTs
    theory: Theory | None = None  # english mode
    notes: list[str] = field(default_factory=list)
    premises_skipped: int = 0


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a record cannot be judged: ``status`` abstained (nothing to judge) or error (bad input)."""

    status: Literal["abstained", "error"]
    message: str


def render(lit: Lit) -> str:
    """``¬big(bob)`` style text of a literal."""
    return f"{'¬' if lit.neg else ''}{lit.pred}({', '.join(lit.args)})"


def fol_blocks(text: str) -> list[str]:
    return [f for block in _FOL_BLOCK.findall(text) for f in split_formulas(block)]


def _formula_list(value: Any, field_name: str) -> list[str] | Problem:
    if isinstance(value, str):
        return split_formulas(value)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return [v for v in value if v.strip()]
    return Problem("error", f"{field_name} must be a list of formulas or a string, got {type(value).__name__}")


def build_job(record: Record, max_claims: int) -> Job | Problem:
    """Premises and claims of ``record``, or the Problem that stops it from being judged."""
    meta = record.metadata or {}
    premises_in: list[str] | Problem | None = None
    if "premises_fol" in meta:
        premises_in = _formula_list(meta["premises_fol"], "metadata.premises_fol")
    elif (prompt_fol := fol_blocks(record.prompt)):
        premises_in = prompt_fol
    completion_fol = fol_blocks(record.completion)
    if isinstance(premises_in, Problem):
        return premises_in
    if premises_in is not None or completion_fol:
        return _fol_job(meta, premises_in or [], completion_fol, max_claims)
    return _english_job(record, meta, max_claims)


def _fol_job(meta: dict[str, Any], premises: list[str], completion_fol: list[str], max_claims: int) -> Job | Problem:
    job = Job("fol", premise_texts=premises, claims=[])
    source = "metadata.premises_fol" if "premises_fol" in meta else "the prompt's fol block"
    for i, text in enumerate(premises):
        try:
            parsed = parse_fol(text)
        except FolSyntaxError as exc:
            return Problem("error", f"{source}[{i}] does not parse: {exc}")
        job.premises_fol.append(parsed.ast)
        job.notes.extend(f"premise {i}: {n}" for n in parsed.notes)
    if completion_fol:
        texts, where = completion_fol, "completion"
    elif "conclusion_fol" in meta:
        listed = _formula_list(meta["conclusion_fol"], "metadata.conclusion_fol")
        if isinstance(listed, Problem):
            return listed
        texts, where = listed, "metadata.conclusion_fol"
    else:
        return Problem("abstained", "no claim to judge: no ```fol block in the completion and no metadata.conclusion_fol")
    for text in dict.fromkeys(texts):
        try:
            parsed = parse_fol(text)
        except FolSyntaxError as exc:
            if where != "completion":
                return Problem("error", f"{where} does not parse: {exc}")
            job.claims.append(Claim(text, "fol", None, error=str(exc)))
            continue
        job.claims.append(Claim(text, "fol", parsed.ast, tuple(sorted(symbols(parsed.ast)))))
        job.notes.extend(f"claim {text!r}: {n}" for n in parsed.notes)
    return _limit(job, max_claims)


def _english_job(record: Record, meta: dict[str, Any], max_claims: int) -> Job | Problem:
    theory_in = meta.get("theory", meta.get("context"))
    if isinstance(theory_in, dict):
        try:
            theory = load_theory(theory_in, "metadata.theory")
        except TheoryError as exc:
            return Problem("error", str(exc))
        job = Job("english", premise_texts=[], claims=[], theory=theory)
    elif theory_in is None or isinstance(theory_in, str):
        parsed = parse_theory(record.prompt if theory_in is None else theory_in)
        job = Job("english", premise_texts=[s for s, _ in parsed.statements], claims=[], theory=parsed.theory(),
                  premises_skipped=len(parsed.skipped))
    else:
        return Problem("error", f"metadata.theory must be text or {{facts, rules}}, got {type(theory_in).__name__}")
    claimed = parse_claims(record.completion)
    seen: set[Lit] = set()
    for sentence, lits in claimed.statements:
        for lit in lits:
            if lit in seen:
                continue
            seen.add(lit)
            job.claims.append(Claim(sentence if len(lits) == 1 else f"{sentence} [{render(lit)}]", "english",
                                    lit.to_json(), (lit.pred, *lit.args)))
    return _limit(job, max_claims)


def _limit(job: Job, max_claims: int) -> Job | Problem:
    if not job.claims:
        return Problem("abstained", "no claim to judge: the completion states nothing the grammar can read")
    if len(job.claims) > max_claims:
        job.notes.append(f"{len(job.claims) - max_claims} claim(s) beyond max_claims={max_claims} not judged")
        job.claims = job.claims[:max_claims]
    empty = not job.premises_fol and not (job.theory and (job.theory.facts or job.theory.rules))
    malformed = any(c.data is None for c in job.claims)
    if empty and len(job.claims) < 2 and not malformed:  # a formula that does not parse is always judged
        return Problem("abstained", "no premises and a single claim: nothing to judge it against")
    return job
