"""``SouffleLogic``: the ``logic_program`` capability (op ``decide``) decided by Soufflé, when its
``souffle`` binary is on PATH; otherwise the backend reports itself unavailable and config cannot
select it.

The validated theory becomes a Datalog program with one relation per arity,
``h<n>(sign, pred, arg1..argn)`` over symbols.  Names never appear in the program: each distinct
name is replaced by a generated symbol ``"n<i>"`` and mapped back when the output is read, so there
is nothing to escape.  ``souffle`` runs as a subprocess (interpreter mode) in a temporary directory
with a timeout; it is killed when it overruns.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

BINARY = "souffle"


class SouffleOptions(BaseModel):
    """Options of the souffle backend (``[tools.souffle]``)."""

    model_config = ConfigDict(extra="forbid")

    time_limit_ms: int = Field(default=5_000, ge=1, le=600_000, description="Subprocess timeout per call.")


class SouffleLogic(Tool):
    """Soufflé as a ``logic_program`` backend (needs the ``souffle`` binary)."""

    name: ClassVar[str] = "souffle"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Soufflé Datalog (subprocess), when the souffle binary is installed."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    Options: ClassVar[type[BaseModel]] = SouffleOptions
    isolation = "thread"
    max_batch: ClassVar[int] = 32
    priority: ClassVar[int] = 1

    options: SouffleOptions

    requires_binaries: ClassVar[dict[str, str]] = {BINARY: "install Soufflé from https://souffle-lang.github.io"}

    def start(self) -> None:
        self.binary = shutil.which(BINARY)

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def failure(self, exc: Exception) -> ToolResult:
        if isinstance(exc, subprocess.TimeoutExpired):
            return ToolResult.failure(f"souffle exceeded its {self.options.time_limit_ms} ms time limit", "timeout")
        return super().failure(exc)

    def decide(self, payload: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import answer, load_decide_call, with_facts

        if self.binary is None:
            raise RuntimeError(self.unavailable_reason())
        job = load_decide_call(payload)
        held, clashes = self._run(job.theory)
        derivable = {lit: (lit.neg, lit.pred, lit.args) in held for q in job.queries for lit in (q, q.complement())}
        # each assumed set is a world of its own: one more run of the theory with those facts added
        assumed = None if job.assume is None else [self._run(with_facts(job.theory, extra))[1] for extra in job.assume]
        return answer(list(job.queries), derivable, clashes, assumed)

    def _run(self, theory: Any) -> tuple[set[tuple[bool, str, tuple[str, ...]]], list[Any]]:
        """(atoms held, clashes) of one theory, from one souffle run."""
        from chil_core.capabilities.logic_program import Literal

        text, names, arities = program(theory)
        held: set[tuple[bool, str, tuple[str, ...]]] = set()
        clashes: list[Literal] = []
        with tempfile.TemporaryDirectory(prefix="chil-souffle-") as tmp:
            src = Path(tmp, "theory.dl")
            src.write_text(text, encoding="ascii")
            proc = subprocess.run([self.binary, "-D", tmp, str(src)], capture_output=True, text=True,
                                  timeout=self.options.time_limit_ms / 1000, cwd=tmp, check=False)
            if proc.returncode != 0:
                raise RuntimeError(f"souffle failed ({proc.returncode}): {proc.stderr.strip()[:300]}")
            decode = {sym: name for name, sym in names.items()}
            for n in arities:
                for row in _rows(Path(tmp, f"h{n}.csv")):
                    held.add((row[0] == "neg", decode[row[1]], tuple(decode[a] for a in row[2:])))
                for row in _rows(Path(tmp, f"c{n}.csv")):
                    clashes.append(Literal(decode[row[0]], tuple(decode[a] for a in row[1:])))
        return held, clashes


def program(theory: Any) -> tuple[str, dict[str, str], list[int]]:
    """(Soufflé program, name → generated symbol, arities) for a validated theory."""
    from chil_core.capabilities.logic_program import is_var, variable_names

    names: dict[str, str] = {}

    def sym(name: str) -> str:
        if name not in names:
            names[name] = f"n{len(names)}"
        return f'"{names[name]}"'

    def atom(lit: Any, variables: dict[str, str]) -> str:
        args = [variables[a] if is_var(a) else sym(a) for a in lit.args]
        return f"h{len(lit.args)}({', '.join([_sign(lit), sym(lit.pred), *args])})"

    body_lines = [atom(f, {}) + "." for f in theory.facts]
    for rule in theory.rules:
        variables = variable_names(rule)
        body_lines.append(f"{atom(rule.head, variables)} :- {', '.join(atom(b, variables) for b in rule.body)}.")
    arities = sorted({n for _, n in theory.predicates()})
    head_lines = []
    for n in arities:
        cols = "".join(f", a{i}: symbol" for i in range(n))
        args = "".join(f", A{i}" for i in range(n))
        head_lines += [
            f".decl h{n}(s: symbol, p: symbol{cols})",
            f".decl c{n}(p: symbol{cols})",
            f'c{n}(P{args}) :- h{n}("pos", P{args}), h{n}("neg", P{args}).',
            f".output h{n}", f".output c{n}",
        ]
    return "\n".join(head_lines + body_lines) + "\n", names, arities


def _sign(lit: Any) -> str:
    return '"neg"' if lit.neg else '"pos"'


def _rows(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    with path.open(newline="", encoding="ascii") as fh:
        return [row for row in csv.reader(fh, delimiter="\t") if row]
