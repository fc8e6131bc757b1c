"""``PrologLogic``: the ``logic_program`` capability (op ``decide``) decided by SWI-Prolog.

A batch of payloads is validated in Python (``chil_core.capabilities.logic_program``) and re-encoded
as numbers only (a theory's predicates numbered per theory, the batch's constants once, a rule's
variables -1, -2, ...): one text of integers and brackets handed to ``decide_batch_terms/3``
(``decide.pl``, shipped with this package) as one atom argument, one goal for the whole batch.  No
name from a payload ever reaches Prolog.  Prolog decides each distinct theory on its own, bottom-up
and semi-naive (its atoms ``Key-Args`` for every world at once in a trie of its own, each rule one
clause per body literal fired by the atoms new in the last round; the trie destroyed and every
clause retracted before the next theory;
world 0 is the theory alone, the others add an assumed set's facts), under its own time limit (a
batch's theories share one alarm, armed again for each theory's end only when it strikes) and a
bound on its atoms.  Clashes come back as numbers and are named
here.  The backend runs process-isolated: the scheduler kills and replaces a worker that overruns
its timeout or dies.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

PROGRAM = Path(__file__).with_name("decide.pl")
ATOM_BYTES = 512  # what one derived atom may cost SWI-Prolog (a Key-Args entry of a trie: ~440 bytes when it shares no prefix)
#: a framework worker's copy (``Tool.replica``): a theory's time limit, the batch's, and a theory's atoms
#: at most (ProofWriter and ProntoQA theories take well under a millisecond and derive tens of atoms)
REPLICA_THEORY_MS = 200
REPLICA_BATCH_MS = 500
REPLICA_ATOMS = 100_000
log = logging.getLogger(__name__)


class PrologOptions(BaseModel):
    """Options of the prolog backend (``[tools.prolog]``)."""

    model_config = ConfigDict(extra="forbid")

    time_limit_ms: int = Field(default=2_000, ge=1, le=600_000, description="Time limit per theory (each theory of a batch has its own).")
    stack_limit_mb: int = Field(default=512, ge=16, description="SWI-Prolog stack_limit of the worker.")
    table_space_mb: int = Field(default=1_024, ge=16, description=(
        "Memory for one theory's derived atoms: at most table_space_mb MiB / 512 bytes atoms, then an error."))


class PrologLogic(Tool):
    """SWI-Prolog (via pyswip) as a ``logic_program`` backend, process-isolated."""

    name: ClassVar[str] = "prolog"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.3.0"
    description: ClassVar[str] = "SWI-Prolog: semi-naive bottom-up derivation over data-built clauses, time-limited, own process."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    Options: ClassVar[type[BaseModel]] = PrologOptions
    isolation = "process"
    worker_batch: ClassVar[bool] = True
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 3

    options: PrologOptions

    requires_modules: ClassVar[dict[str, str]] = {"pyswip": "pyswip"}
    requires_binaries: ClassVar[dict[str, str]] = {"swipl": "SWI-Prolog: apt-get install swi-prolog-nox"}

    @classmethod
    def replicable(cls, options: BaseModel) -> bool:
        """A framework worker may decide its records' theories with its own copy (a function of the
        call, nothing kept between calls), on a budget of its own: a batch of at most
        ``REPLICA_GROUNDINGS`` ground rule instances (a call past it is refused unevaluated), a theory
        at most :data:`REPLICA_THEORY_MS` and the batch :data:`REPLICA_BATCH_MS`, and
        :data:`REPLICA_ATOMS` derived atoms a theory; a call past any of them, or one that fails, is
        decided in the main process's isolated workers, under the full limits."""
        return True

    def start(self) -> None:
        from pyswip import Functor, Prolog, Query, Variable

        self._Functor, self._Query, self._Variable = Functor, Query, Variable
        Prolog()  # initialises the embedded engine once per process
        self._once(Functor("set_prolog_flag", 2)("stack_limit", self.options.stack_limit_mb * 1024 * 1024))
        self._once(Functor("use_module", 1)(str(PROGRAM)))
        atoms = self.options.table_space_mb * 1024 * 1024 // ATOM_BYTES
        self._once(Functor("set_atom_limit", 1)(min(atoms, REPLICA_ATOMS) if self.replica else atoms))
        self._decide = Functor("decide_batch_terms", 3)
        self._decide_until = Functor("decide_batch_terms", 4)
        self._time_limit_ms = min(self.options.time_limit_ms, REPLICA_THEORY_MS) if self.replica else self.options.time_limit_ms

    def _once(self, goal: Any) -> bool:
        q = self._Query(goal)
        try:
            return bool(q.nextSolution())
        finally:
            q.closeQuery()

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """The batch's valid calls in one Prolog goal (:meth:`decide_many`); a malformed call is an
        error of its own.  Should the joint goal fail, each call is decided alone."""
        from chil_core.capabilities.logic_program import REPLICA_GROUNDINGS, decide_batch

        return decide_batch(calls, self.decide_many, self.failure, "prolog: a joint goal",
                            REPLICA_GROUNDINGS if self.replica else None)

    def decide(self, payload: Any) -> dict[str, Any] | ToolResult:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        return self.decide_many([load_decide_call(payload)])[0]

    def decide_many(self, jobs: list[Any]) -> list[dict[str, Any] | ToolResult]:
        """Validated payloads (:class:`~chil_core.capabilities.logic_program.Decide`) in one goal: each
        distinct theory once, with one world per distinct assumed set, its queries asked in world 0.
        Prolog sees numbers only: a theory's predicates are numbered per theory (key 2 * number + sign),
        the batch's constants once; clashes come back as numbers and are named here."""
        from chil_core.capabilities.logic_program import Literal, answer

        theories: dict[int, int] = {}
        blocks: list[list[Any]] = []  # [stride, facts, rules, worlds, queries] per distinct theory
        preds: list[dict[str, int]] = []  # per theory: predicate name -> number
        worlds: list[dict[tuple[Any, ...], int]] = []
        queries: list[dict[Literal, int]] = []
        plan: list[tuple[int, list[int], dict[Literal, int]]] = []
        consts: dict[str, int] = {}  # every constant of the batch, numbered once

        def lit(x: Any, numbers: dict[str, int], variables: dict[str, int] | None = None) -> list[Any]:
            """[2 * predicate number (``numbers``: the theory's) + sign, argument numbers]; a rule's
            variables ("?x") are -1, -2, ... (``variables``: the rule's).  (Written out for speed: a
            theory's literals are most of a batch's encoding time.)"""
            key = numbers.get(x.pred)
            if key is None:
                key = numbers[x.pred] = len(numbers)
            codes = []
            for a in x.args:
                if variables is not None and a[0] == "?":
                    v = variables.get(a)
                    if v is None:
                        v = variables[a] = -1 - len(variables)
                else:
                    v = consts.get(a)
                    if v is None:
                        v = consts[a] = len(consts)
                codes.append(v)
            return [2 * key + x.neg, codes]

        for job in jobs:
            t = theories.get(id(job.theory))
            if t is None:
                t = theories[id(job.theory)] = len(blocks)
                numbers: dict[str, int] = {}
                preds.append(numbers)
                th = job.theory
                rules = []
                for r in th.rules:
                    variables: dict[str, int] = {}
                    body = [lit(b, numbers, variables) for b in r.body]
                    rules.append([body, lit(r.head, numbers, variables)])
                blocks.append([0, [lit(f, numbers) for f in th.facts], rules, [], []])
                worlds.append({})
                queries.append({})
            else:
                numbers = preds[t]
            block = blocks[t]
            ws = []
            for extra in job.worlds():
                w = worlds[t].get(extra)
                if w is None:
                    w = worlds[t][extra] = len(block[3])
                    block[3].append([lit(x, numbers) for x in extra])
                ws.append(w)
            asked: dict[Literal, int] = {}
            for q in job.queries:
                for x in (q, q.complement()):
                    k = queries[t].get(x)
                    if k is None:
                        k = queries[t][x] = len(block[4])
                        block[4].append([ws[0], lit(x, numbers)])
                    asked[x] = k
            plan.append((t, ws, asked))
        for block, numbers in zip(blocks, preds, strict=True):
            block[0] = 2 * max(len(numbers), 1)
        text = orjson.dumps(blocks).decode()  # integers and brackets only
        result = self._Variable()
        if self.replica:
            q = self._Query(self._decide_until(text, self._time_limit_ms, REPLICA_BATCH_MS, result))
        else:
            q = self._Query(self._decide(text, self._time_limit_ms, result))
        try:
            if not q.nextSolution():
                raise RuntimeError("decide_batch_terms/3 failed")
            raw = result.value
        finally:
            q.closeQuery()
        data = orjson.loads(raw if isinstance(raw, (str, bytes)) else str(raw))
        if isinstance(data, dict):  # the batch as a whole (its text): every call of it fails alike
            raise RuntimeError(f"prolog: {str(data.get('error'))[:500]}")
        names = list(consts)
        clashes: list[dict[int, list[Literal]] | None] = []
        for res, numbers in zip(data, preds, strict=True):
            if isinstance(res, str):
                clashes.append(None)
                continue
            pred_names = list(numbers)
            per_world: dict[int, list[Literal]] = {}
            for w, key, args in res[1]:
                per_world.setdefault(w, []).append(Literal(pred_names[key >> 1], tuple(names[a] for a in args)))
            clashes.append(per_world)
        out: list[dict[str, Any] | ToolResult] = []
        for job, (t, ws, asked) in zip(jobs, plan, strict=True):
            res = data[t]
            if isinstance(res, str):
                if res == "time_limit_exceeded":
                    out.append(ToolResult.failure(f"prolog exceeded its {self._time_limit_ms} ms time limit"
                                                  + (" (a framework worker's copy)" if self.replica else ""), "timeout"))
                else:
                    log.warning("prolog: a theory failed: %s", res[:500])
                    out.append(ToolResult.failure(f"prolog: {res[:500]}"))
                continue
            found = res[0]
            per_world = clashes[t]
            derivable = {lit: found[k] == 1 for lit, k in asked.items()}
            assumed = None if job.assume is None else [per_world.get(w, []) for w in ws[1:]]
            out.append(answer(job.queries, derivable, per_world.get(ws[0], []), assumed))
        return out
