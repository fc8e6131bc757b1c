"""chil-plugin-z3: Z3 backends.  Light entry point: z3 itself is imported when a tool starts."""

from chil_core import hookimpl
from chil_plugin_z3.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_z3.logic import Z3Logic
    from chil_plugin_z3.smt import Z3Smt

    register(Z3Smt)
    register(Z3Logic)
