"""chil-plugin-lean: the Lean 4 ``theorem_prover`` backend (needs a ``lean`` binary on PATH)."""

from chil_core import hookimpl
from chil_plugin_lean.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_lean.prover import LeanProver

    register(LeanProver)
