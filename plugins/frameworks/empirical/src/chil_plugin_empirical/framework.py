"""``EmpiricalFramework``: is it true?  Arithmetic, final answer, facts, proofs.

* Arithmetic (no tool): every statement of the completion is found and checked exactly
  (:mod:`chil_plugin_empirical.steps`); statements with variables go to the ``smt`` capability.
* Final answer (no tool): compared exactly with ``reference.answer`` (:mod:`chil_plugin_empirical.answer`).
* Facts (``fact_store``): the completion's claims (controlled sentences) are decided by the facts the
  record gives (``metadata.triples``), else looked up; the record's triples are never claims themselves.
* Proofs (``theorem_prover``): the completion's fenced ```` ```lean ```` blocks are checked (after the
  record's ``metadata.lean`` preamble, if any) when a backend is available; otherwise the framework
  abstains on proofs.

Score (also in the plugin README).  Each part is 1 when everything it decided holds, else 0, so one
wrong step, refuted fact or invalid proof is not averaged away by correct (or filler) ones::

    work  = min(arithmetic, facts, proofs)              over the parts that decided something
    score = w · answer + (1 − w) · work                  with reference.answer (w = answer_weight)
          = answer                                       with a reference and no decided part
          = work                                         without a reference

With a reference, a correct step counts only when it works on the problem: it uses a number of the
prompt or one an earlier such step produced.  Filler (``1 + 1 = 2`` repeated) earns nothing, so a wrong
final answer is not lifted by it.  An unverifiable step (too big to check) counts as not holding
(option ``unverifiable = "ignore"`` leaves it out).  A tool failure on a
call that carried the completion's content is the completion's doing (:mod:`chil_core.failures`).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Context, Evidence, Framework, FrameworkResult, Record, ToolCall, ToolResult
from chil_core.failures import failure_cause, tool_failure
from chil_plugin_empirical import expr as _expr
from chil_plugin_empirical import linear as _linear
from chil_plugin_empirical.answer import answers_match, find_answer, reference_answer
from chil_plugin_empirical.claims import DEFAULT_RELATION_PATTERNS, Claim, metadata_claims, sentence_claims
from chil_plugin_empirical.depclaims import DEFAULT_LEXICON, dependency_claims
from chil_plugin_empirical.expr import Limits, parse_literal, to_json, tokenize
from chil_plugin_empirical.steps import ACCEPTED, Step, extract_steps

_LEAN_BLOCK_RE = re.compile(r"```[ \t]*lean4?[ \t]*\n(.*?)```", re.S)
_MAX_SYMBOLIC_ROUNDS = 4
_MAX_PREMISES = 64


class EmpiricalOptions(BaseModel):
    """``[frameworks.empirical.options]``."""

    model_config = ConfigDict(extra="forbid")

    arithmetic: bool = Field(default=True, description="Check arithmetic statements.")
    answer: bool = Field(default=True, description="Compare the final answer with reference.answer.")
    facts: bool = Field(default=True, description="Look claims up in the fact store.")
    proofs: bool = Field(default=True, description="Check Lean snippets when a theorem_prover is available.")
    answer_weight: float = Field(default=0.7, ge=0, le=1, description="Share of the score given to the final answer.")
    answer_fallback_last_number: bool = Field(default=True, description="No explicit answer: use the last number.")
    rounding: bool = Field(default=True, description="Accept results rounded to their written decimals (README).")
    max_digits: int = Field(default=60, ge=1, le=10_000, description="Longest number literal checked.")
    max_bits: int = Field(default=4096, ge=64, le=1_000_000, description="Largest intermediate value, in bits.")
    max_exponent: int = Field(default=1000, ge=1, le=100_000, description="Largest exponent computed.")
    smt_timeout_ms: int = Field(default=1000, ge=1, le=10_000, description="Z3 limit per symbolic statement.")
    max_symbolic: int = Field(default=32, ge=0, le=1000, description="Most statements with variables sent to smt per record.")
    relation_patterns: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_RELATION_PATTERNS.items()},
        description="relation -> verb phrases read as claims ('is located in', 'borders').",
    )
    claims_from: Literal["patterns", "nlp", "both"] = Field(
        default="patterns", description="Where claims in sentences are read from: the relation_patterns, a dependency "
        "parse (the nlp capability, spaCy; relation_lexicon) or both (on countries_kg sentences: precision/recall "
        "0.95/0.48 patterns, 0.90/0.80 parse, 0.90/0.87 both).")
    relation_lexicon: dict[str, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_LEXICON.items()},
        description="relation -> lemma paths of a dependency parse read as claims ('locate in', 'share border with').",
    )
    max_claims: int = Field(default=64, ge=1, le=4096, description="Most fact claims looked up per record.")
    filler_steps: Literal["ignore", "count"] = Field(
        default="ignore", description="With a reference answer: correct steps that use no number of the prompt "
        "(or of an earlier such step) earn nothing ('ignore') or count ('count').")
    unverifiable: Literal["penalize", "ignore"] = Field(
        default="penalize", description="A step too big to verify: 'penalize' (counts as not holding) or 'ignore'.")
    max_evidence: int = Field(default=20, ge=0, le=1000, description="Most evidence items per result.")

    def limits(self) -> Limits:
        return Limits(max_digits=self.max_digits, max_bits=self.max_bits, max_exponent=self.max_exponent)


@dataclass
class _Findings:
    """What one record produced, before it is combined into a result."""

    steps: list[Step] = field(default_factory=list)
    symbolic_skipped: int = 0
    answer: dict[str, Any] | None = None
    claims: list[tuple[Claim, str, dict[str, Any]]] = field(default_factory=list)
    proofs: list[tuple[str, bool, str]] = field(default_factory=list)
    proofs_skipped: int = 0
    #: (failed result, capability, whether the call carried the completion's content)
    failures: list[tuple[ToolResult, str, bool]] = field(default_factory=list)
    #: statements with variables beyond max_symbolic: too many to verify (unverifiable by size)
    symbolic_over_limit: int = 0
    empty: bool = False
    #: with a reference answer: which steps work on the problem (None: every step counts)
    grounded: list[bool] | None = None


class EmpiricalFramework(Framework):
    """Is it true?  Exact arithmetic, the final answer, facts in a fact store, Lean proofs."""

    name: ClassVar[str] = "empirical"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Is it true? Exact arithmetic (Z3 for symbols), final answer, fact-store claims, Lean proofs."
    capabilities: ClassVar[dict[str, bool]] = {"smt": False, "fact_store": False, "theorem_prover": False, "nlp": False}
    default_tools: ClassVar[dict[str, str]] = {"smt": "z3", "fact_store": "duckdb", "theorem_prover": "lean"}
    eval_metrics: ClassVar[tuple[str, ...]] = ("answer_correct",)
    Options: ClassVar[type[BaseModel]] = EmpiricalOptions
    #: what a result depends on (the record cache's key): not the id or the group, so that the equal
    #: completions of a GRPO group are scored once (the prompt: a step is grounded in its numbers)
    reads: ClassVar[tuple[str, ...]] = ("prompt", "completion", "reference", "metadata")
    options: EmpiricalOptions
    #: decide linear equations with variables here (exactly as the smt backend would); False: ask it for all
    linear_exact: ClassVar[bool] = True

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        self._limits = self.options.limits()

    @classmethod
    def implementation(cls) -> str:
        """The arithmetic implementation in use (``chil plugins`` prints it): ``native (...)`` or ``python (why)``."""
        from chil_plugin_empirical.native import implementation

        return implementation()

    async def score(self, record: Record, ctx: Context) -> FrameworkResult:
        opts = self.options
        found = _Findings(empty=not record.completion.strip())
        text = record.completion
        if opts.arithmetic:
            found.steps = extract_steps(text, self._limits, opts.rounding)
            if opts.filler_steps == "ignore" and record.reference and record.reference.get("answer") is not None:
                found.grounded = _grounded(found.steps, record.prompt, self._limits)
        if opts.answer:
            found.answer = self._answer(record)
        claims: list[Claim] = []
        if opts.facts:
            try:
                given = _given_facts(record)
            except ValueError as exc:
                return FrameworkResult.failed(str(exc))
            if given or ctx.has("fact_store"):
                parsed = opts.claims_from != "patterns" and ctx.has("nlp")  # no nlp backend: the patterns are read
                claims = self._claims(record, patterns=not parsed or opts.claims_from == "both")
                if parsed:
                    claims = await self._parsed_claims(ctx, record, claims, found)
                # the completion's claims that metadata.triples decide need no lookup; without a fact
                # store the others stay undecided (not the completion's doing)
                claims = _decide_given(claims, given, found) if given else claims
                if not ctx.has("fact_store"):
                    claims = []
        snippets = self._lean_snippets(record) if opts.proofs else []
        if snippets and not ctx.has("theorem_prover"):
            found.proofs_skipped, snippets = len(snippets), []
        symbolic = [s for s in found.steps if s.symbolic]
        if not ctx.has("smt"):
            found.symbolic_skipped, symbolic = len(symbolic), []  # no backend: not the completion's doing
        elif len(symbolic) > opts.max_symbolic:
            found.symbolic_over_limit = len(symbolic) - opts.max_symbolic  # too many to verify: unverifiable
            symbolic = symbolic[: opts.max_symbolic]
        if (claims or snippets) and symbolic:
            await asyncio.gather(self._lookup(ctx, record, claims, snippets, found), self._decide_symbolic(ctx, symbolic, found))
        elif claims or snippets:  # one kind of call: awaited here (no task, no gather: the common case)
            await self._lookup(ctx, record, claims, snippets, found)
        elif symbolic:
            await self._decide_symbolic(ctx, symbolic, found)
        if found.failures:
            # a failure the completion caused is reported first: it decides the penalty
            res, capability, from_completion = min(found.failures, key=lambda f: failure_cause(f[0], f[2]) != "completion")
            return tool_failure(res, capability, completion_input=from_completion)
        return self.combine(found)

    # -- extraction ----------------------------------------------------------------------------
    def _answer(self, record: Record) -> dict[str, Any] | None:
        ref = reference_answer(record.reference)
        if ref is None:
            return None
        got = find_answer(record.completion, self.options.answer_fallback_last_number, self._limits)
        if got is None:
            return {"correct": False, "found": False, "text": f"no final answer found (reference {ref.text!r})"}
        ok = answers_match(got, ref)
        note = f"; {got.problem}" if got.problem else ""
        verdict = "correct" if ok else "incorrect"
        return {"correct": ok, "found": True, "text": f"final answer {got.text!r} ({got.source}) vs reference {ref.text!r}: {verdict}{note}"}

    def _claims(self, record: Record, patterns: bool = True) -> list[Claim]:
        """The completion's claims (never the record's: ``metadata.triples`` are facts that decide them)."""
        claims = sentence_claims(record.completion, self.options.relation_patterns) if patterns else []
        unique = list({(c.subject, c.relation, c.object, c.negated): c for c in claims}.values())
        return unique[: self.options.max_claims]

    @staticmethod
    def _lean_snippets(record: Record) -> list[str]:
        """The completion's ```` ```lean ```` blocks, each after ``metadata.lean`` (the record's preamble:
        imports, definitions, the statement to prove).  The preamble is never checked alone: it is the
        same for every completion of a prompt, so it would pay (or cost) them all alike."""
        blocks = [b for b in _LEAN_BLOCK_RE.findall(record.completion) if b.strip()]
        extra = record.metadata.get("lean")
        if isinstance(extra, list):
            extra = "\n\n".join(s for s in extra if isinstance(s, str))
        if isinstance(extra, str) and extra.strip():
            return [f"{extra.rstrip()}\n\n{b}" for b in blocks]
        return blocks

    # -- tools ---------------------------------------------------------------------------------
    async def _parsed_claims(self, ctx: Context, record: Record, claims: list[Claim], found: _Findings) -> list[Claim]:
        """``claims`` plus those read from the completion's dependency parse (``claims_from`` nlp / both).
        A failed parse is a tool failure like any other (the completion is its input)."""
        if not record.completion.strip():
            return claims
        res = (await ctx.call_many([ToolCall(capability="nlp", op="parse", payload={"text": record.completion})]))[0]
        if not res.ok or not isinstance(res.value, dict):
            found.failures.append((res, "nlp", True))
            return claims
        parsed = dependency_claims(res.value, self.options.relation_lexicon)
        unique = list({(c.subject, c.relation, c.object, c.negated): c for c in claims + parsed}.values())
        return unique[: self.options.max_claims]

    async def _lookup(self, ctx: Context, record: Record, claims: list[Claim], snippets: list[str], found: _Findings) -> None:
        calls = [ToolCall(capability="fact_store", op="lookup", payload={"subject": c.subject, "relation": c.relation, "object": c.object})
                 for c in claims]
        calls += [ToolCall(capability="theorem_prover", op="check", payload={"code": s}) for s in snippets]
        if not calls:
            return
        results = await ctx.call_many(calls)
        for claim, res in zip(claims, results[: len(claims)], strict=True):
            if not res.ok or not isinstance(res.value, dict):
                found.failures.append((res, "fact_store", claim.from_completion))
                continue
            verdict = res.value.get("verdict", "unknown")
            if claim.negated and verdict in ("supported", "refuted"):
                verdict = "refuted" if verdict == "supported" else "supported"
            found.claims.append((claim, verdict, res.value))
        for snippet, res in zip(snippets, results[len(claims) :], strict=True):
            if res.status == "unavailable":
                found.proofs_skipped += 1
            elif not res.ok or not isinstance(res.value, dict):
                found.failures.append((res, "theorem_prover", True))  # every snippet carries a block of the completion
            else:
                found.proofs.append((snippet, bool(res.value.get("valid")), str(res.value.get("messages", ""))[:300]))

    async def _decide_symbolic(self, ctx: Context, steps: list[Step], found: _Findings) -> None:
        """Decide statements with variables in rounds.  Each is judged against the earlier ones; after a
        contradicted step the later ones are judged against the derivation from that step on (an error is
        flagged once and carried forward, not blamed again on every later line)."""
        if not steps:
            return
        rels = [[s.relation, to_json(s.lhs), to_json(s.rhs)] for s in steps]  # type: ignore[arg-type]
        lin = _linear.forms(rels) if self.linear_exact else None
        base, pending = 0, list(range(len(steps)))
        for _ in range(_MAX_SYMBOLIC_ROUNDS):
            # linear equations are decided here, exactly as the backend would (chil_plugin_empirical.linear)
            results: list[Any] = [None] * len(pending)
            asked: list[int] = []
            system, added = _linear.System(), base
            for k, j in enumerate(pending):  # ascending: the premises of j are rels[base:j] ...
                got = None
                if lin is not None and j - _MAX_PREMISES <= base:  # ... unless the window slid (max_symbolic > 64)
                    while added < j:
                        system.add(lin[added])
                        added += 1
                    got = system.decide(lin[j])
                if got is None:
                    asked.append(k)
                else:
                    results[k] = ToolResult(status="ok", value=dict(got))
            if asked:
                calls = [ToolCall(capability="smt", op="arith",
                                  payload={"premises": rels[max(base, pending[k] - _MAX_PREMISES) : pending[k]], "claim": rels[pending[k]],
                                           "timeout_ms": self.options.smt_timeout_ms})
                         for k in asked]
                for k, res in zip(asked, await ctx.call_many(calls), strict=True):
                    results[k] = res
            first_wrong = None
            for j, res in zip(pending, results, strict=True):
                step = steps[j]
                if res.status == "unavailable":
                    step.verdict, step.detail = "skipped", res.error or "no smt backend"
                elif not res.ok or not isinstance(res.value, dict):
                    step.verdict, step.detail = "unverifiable", f"smt {res.status}: {res.error}"
                else:
                    v = res.value.get("verdict")
                    step.verdict = {"entailed": "correct", "contradicted": "wrong", "undetermined": "premise"}.get(v, "unverifiable")
                    step.detail = str(res.value.get("reason", ""))
                    if step.verdict == "wrong" and first_wrong is None:
                        first_wrong = j
            if first_wrong is None:
                return
            base = first_wrong
            pending = [j for j in pending if j > first_wrong]
            if not pending:
                return

    # -- combination ---------------------------------------------------------------------------
    def combine(self, found: _Findings) -> FrameworkResult:
        """The record's result from its parts (formula in the module docstring and the README)."""
        opts = self.options
        parts = [_arithmetic_part(found, opts.unverifiable), _fact_part(found), _proof_part(found)]
        answer = _answer_part(found)
        comp: dict[str, float] = {}
        evidence: list[Evidence] = []
        labels: list[str] = []
        for part in ([answer] if answer else []) + parts:
            comp.update(part.components)
            evidence.extend(part.evidence)
            labels.extend(part.labels)
        if found.proofs_skipped:
            comp["proofs_skipped"] = found.proofs_skipped
        decided = [p.score for p in parts if p.score is not None]
        if answer is None and not decided:
            return FrameworkResult.abstained("nothing to check: no arithmetic, no reference answer, no decided claim or proof",
                                             components=comp, evidence=evidence[: opts.max_evidence])
        work = min(decided) if decided else None  # one wrong part is not averaged away by the others
        if answer is None:
            score = work
        elif work is None:
            score = answer.score
        else:
            score = opts.answer_weight * answer.score + (1 - opts.answer_weight) * work
        assert score is not None
        verdict = labels[0] if labels else "correct"
        return FrameworkResult.scored(score, components=comp, verdict=verdict, evidence=evidence[: opts.max_evidence],
                                      explanation=_explain(comp))


@dataclass
class _Part:
    """One part of the score: its value (None when it decided nothing), components, evidence, labels."""

    score: float | None = None
    components: dict[str, float] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)


def _arithmetic_part(found: _Findings, unverifiable: str) -> _Part:
    """1 when every checked step holds, else 0 (a wrong step is not averaged away by correct ones);
    an unverifiable step counts as not holding unless ``unverifiable = "ignore"``."""
    part = _Part()
    steps, grounded = found.steps, found.grounded
    if grounded is not None and len(grounded) != len(steps):
        raise ValueError(f"{len(grounded)} grounding flags for {len(steps)} steps")
    # one pass over the steps (this runs once per record on every path)
    n_ok = n_wrong = n_unv_steps = n_rounded = n_symbolic = filler = 0
    flagged: list[Step] = []  # wrong and unverifiable steps, in order: the evidence
    for k, st in enumerate(steps):
        v = st.verdict
        if v in ACCEPTED:
            n_ok += 1
            if v == "rounded":
                n_rounded += 1
            # correct steps that do not work on the problem (no number from the prompt or from an earlier
            # such step: "1 + 1 = 2" padding) earn nothing; a wrong step counts wherever it is
            if grounded is not None and not grounded[k]:
                filler += 1
        elif v == "wrong":
            n_wrong += 1
            flagged.append(st)
        elif v == "unverifiable":
            n_unv_steps += 1
            flagged.append(st)
        else:
            continue
        if st.symbolic:
            n_symbolic += 1
    n_checked = n_ok + n_wrong + n_unv_steps
    if not (n_checked or found.symbolic_skipped or found.symbolic_over_limit):
        return part
    n_unv = n_unv_steps + found.symbolic_over_limit
    comp = part.components
    comp.update(arithmetic_steps=n_checked + found.symbolic_over_limit, arithmetic_errors=n_wrong,
                arithmetic_unverifiable=n_unv, arithmetic_rounded=n_rounded, arithmetic_symbolic=n_symbolic)
    if found.symbolic_skipped:
        comp["arithmetic_symbolic_skipped"] = found.symbolic_skipped
    if filler:
        comp["arithmetic_filler"] = filler
    counted_unv = n_unv if unverifiable == "penalize" else 0
    if n_ok + n_wrong + counted_unv:
        comp["arithmetic_accuracy"] = n_ok / (n_ok + n_wrong + counted_unv)
    if n_wrong or counted_unv:
        part.score = 0.0
    elif n_ok - filler:
        part.score = 1.0
    for s in flagged:
        part.evidence.append(Evidence(kind="arithmetic_step", text=f"{s.text}: {s.verdict}" + (f" ({s.detail})" if s.detail else ""),
                                      data={"source": s.kind, "verdict": s.verdict, "relation": s.relation}))
    if found.symbolic_over_limit:
        part.evidence.append(Evidence(kind="arithmetic_step", text=f"{found.symbolic_over_limit} statement(s) with variables "
                                      "beyond max_symbolic: unverifiable", data={"verdict": "unverifiable"}))
    if n_wrong:
        part.labels.append("arithmetic_error")
    elif n_unv:
        part.labels.append("unverifiable")
    return part


def _grounded(steps: list[Step], prompt: str, limits: Limits) -> list[bool]:
    """Per step: does it use a number of the prompt, or one an earlier grounded step produced?

    The C++ kernel when it is in use and reads the prompt and every value (ASCII, 64-bit rationals), else
    :func:`_grounded_py`, the reference."""
    native = _expr._native
    if native is not None:
        found = native.grounded(prompt, steps, limits.max_digits)
        if found is not None:
            return found
    return _grounded_py(steps, prompt, limits)


def _grounded_py(steps: list[Step], prompt: str, limits: Limits) -> list[bool]:
    """:func:`_grounded` in pure Python: the reference of the C++ kernel.

    Numbers are compared as (numerator, denominator) pairs of their exact values: equal pairs are equal
    Fractions (both are normalized), and a pair hashes far faster than a Fraction."""
    known = _numbers(prompt, limits)
    out = []
    for st in steps:
        values: set[tuple[int, int]] = set()
        _literals(st.lhs, values)
        _literals(st.rhs, values)
        ok = not values.isdisjoint(known)
        if ok:
            known |= values
        out.append(ok)
    return out


def _numbers(text: str, limits: Limits) -> set[tuple[int, int]]:
    native = _expr._native
    if native is not None:
        found = native.numbers(text, limits.max_digits, 10_000)
        if found is not None:
            return set(found)
    return _numbers_py(text, limits)


def _numbers_py(text: str, limits: Limits) -> set[tuple[int, int]]:
    """:func:`_numbers` in pure Python: the reference of the C++ kernel."""
    out: set[tuple[int, int]] = set()
    for tok in tokenize(text)[:10_000]:
        if tok[0] == "num":
            try:
                value = parse_literal(tok[1], limits)[0]
            except Exception:  # noqa: BLE001, S112 - a number too big to read is not a known quantity
                continue
            out.add((value.numerator, value.denominator))
    return out


def _literals(node: tuple | None, out: set[tuple[int, int]]) -> None:
    """Add the exact value of every literal of ``node`` to ``out``."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n is None:
            continue
        tag = n[0]
        if tag == "n":
            out.add((n[1].numerator, n[1].denominator))
        elif tag != "v":
            stack.extend(n[1:])


def _given_facts(record: Record) -> dict[tuple[str, str, str], bool]:
    """``metadata.triples`` as facts given with the record: (subject, relation, object) -> true or false.

    They decide the completion's claims about them; they are never claims themselves (a reward judges
    what the completion says, and the record's metadata is the same for every completion of a prompt).
    A triple given both true and false is an error naming it.  Raises ``ValueError`` naming the bad entry."""
    if "triples" not in record.metadata:
        return {}
    facts: dict[tuple[str, str, str], bool] = {}
    for i, c in enumerate(metadata_claims(record.metadata["triples"])):
        key = (c.subject, c.relation, c.object)
        if facts.get(key, not c.negated) is c.negated:
            raise ValueError(f"metadata.triples[{i}]: {' '.join(key)} is given both true and false")
        facts[key] = not c.negated
    return facts


def _decide_given(claims: list[Claim], given: dict[tuple[str, str, str], bool], found: _Findings) -> list[Claim]:
    """Decide the claims that ``given`` facts settle (into ``found.claims``); return the others."""
    rest = []
    for c in claims:
        truth = given.get((c.subject, c.relation, c.object))
        if truth is None:
            rest.append(c)
            continue
        verdict = "supported" if truth != c.negated else "refuted"
        fact = [c.subject, c.relation, c.object, truth]
        found.claims.append((c, verdict, {"verdict": verdict, "reason": "given by metadata.triples", "facts": [fact]}))
    return rest


def _fact_part(found: _Findings) -> _Part:
    """1 when no decided claim is refuted, else 0; unknown claims are neutral."""
    part = _Part()
    if not found.claims:
        return part
    counts = {v: sum(1 for _, verdict, _ in found.claims if verdict == v) for v in ("supported", "refuted", "unknown")}
    part.components.update(facts_supported=counts["supported"], facts_refuted=counts["refuted"], facts_unknown=counts["unknown"])
    decided = counts["supported"] + counts["refuted"]
    if decided:
        part.components["fact_accuracy"] = counts["supported"] / decided
        part.score = 0.0 if counts["refuted"] else 1.0
    if counts["refuted"]:
        part.labels.append("refuted_fact")
    for claim, verdict, value in sorted(found.claims, key=lambda c: c[1] != "refuted"):
        neg = "not " if claim.negated else ""
        part.evidence.append(Evidence(kind="fact", text=f"{claim.subject} {neg}{claim.relation} {claim.object}: {verdict} ({value.get('reason', '')})",
                                      data={"subject": claim.subject, "relation": claim.relation, "object": claim.object,
                                            "negated": claim.negated, "verdict": verdict, "facts": value.get("facts", [])}))
    return part


def _proof_part(found: _Findings) -> _Part:
    """1 when every checked proof is valid, else 0."""
    part = _Part()
    if not found.proofs:
        return part
    valid = sum(ok for _, ok, _ in found.proofs)
    part.components.update(proofs_checked=len(found.proofs), proofs_valid=valid, proof_accuracy=valid / len(found.proofs))
    part.score = 1.0 if valid == len(found.proofs) else 0.0
    if valid < len(found.proofs):
        part.labels.append("invalid_proof")
    for snippet, ok, messages in found.proofs:
        part.evidence.append(Evidence(kind="proof", text=f"lean: {'valid' if ok else 'invalid'}" + (f" ({messages})" if messages else ""),
                                      data={"valid": ok, "code": snippet[:500]}))
    return part


def _answer_part(found: _Findings) -> _Part | None:
    """1 or 0 for the final answer against ``reference.answer``; None without a reference."""
    if found.answer is None:
        return None
    score = 1.0 if found.answer["correct"] else 0.0
    part = _Part(score, {"answer_correct": score, "answer_found": float(found.answer["found"])},
                 [Evidence(kind="answer", text=found.answer["text"])])
    if found.empty:
        part.labels.append("empty")
    elif not found.answer["correct"]:
        part.labels.append("wrong_answer")
    return part


def _explain(comp: dict[str, float]) -> str:
    out = []
    if "arithmetic_steps" in comp:
        n = int(comp["arithmetic_steps"])
        out.append(f"{n - int(comp['arithmetic_errors']) - int(comp['arithmetic_unverifiable'])}/{n} arithmetic steps correct")
    if "answer_correct" in comp:
        out.append("answer correct" if comp["answer_correct"] else "answer wrong")
    if "fact_accuracy" in comp or "facts_unknown" in comp:
        out.append(f"facts: {int(comp.get('facts_supported', 0))} supported, {int(comp.get('facts_refuted', 0))} refuted, "
                   f"{int(comp.get('facts_unknown', 0))} unknown")
    if "proofs_checked" in comp:
        out.append(f"{int(comp['proofs_valid'])}/{int(comp['proofs_checked'])} proofs valid")
    return "; ".join(out)
