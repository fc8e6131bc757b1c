"""chil-plugin-deap: the ``optimizer`` backend ``deap`` (DEAP genetic algorithms).  Light entry point:
DEAP is imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_deap.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_deap.tool import DeapOptimizer

    register(DeapOptimizer)
