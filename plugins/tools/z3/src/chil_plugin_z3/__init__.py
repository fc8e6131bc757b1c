"""chil-plugin-z3: Z3 backends.  Light entry point: z3 itself is imported when a tool starts."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_z3.logic import Z3Logic
    from chil_plugin_z3.smt import Z3Smt

    register(Z3Smt)
    register(Z3Logic)
