"""``Z3Smt``: the ``smt`` capability backed by Z3.

Ops:

- ``fol``: first-order entailment (premises, claims) → verdicts with unsat cores; see
  :mod:`chil_plugin_z3.fol` for the payload and the answer.
- ``arith``: symbolic/inequality arithmetic checks for the empirical framework; the work is done by
  :func:`chil_plugin_z3.arith.check_arith` (imported on first use).
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core import ToolCall, ToolResult
from chil_plugin_z3.base import Z3Tool


class Z3Smt(Z3Tool):
    """Z3 as the ``smt`` backend: FOL entailment (op ``fol``) and arithmetic (op ``arith``)."""

    name: ClassVar[str] = "z3"
    capability: ClassVar[str] = "smt"
    description: ClassVar[str] = "Z3: first-order entailment with unsat cores (fol), arithmetic checks (arith)."
    ops: ClassVar[frozenset[str]] = frozenset({"fol", "arith"})
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 10
    #: its calls come one at a time (a record's rounds of checks), ~2 ms each on GSM8K's non-linear
    #: steps: a second worker runs a round's calls two at a time (GSM8K through the Scorer, cold: 0.68x
    #: -> 0.80x the naive loop).  Elastic: it starts only when calls wait for the first.
    workers: ClassVar[int | None] = 2

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        if call.op == "fol":
            from chil_plugin_z3.fol import decide_fol

            return decide_fol(self, call.payload)
        from chil_plugin_z3.arith import check_arith  # op "arith" (the scheduler rejects other ops)

        return check_arith(call.payload)
