"""chil-plugin-prolog: SWI-Prolog ``logic_program`` backend.  Light entry point: pyswip is imported
in the worker process when the tool starts."""

from chil_core import hookimpl
from chil_plugin_prolog.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_prolog.tool import PrologLogic

    register(PrologLogic)
