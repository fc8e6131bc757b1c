"""chil-plugin-evosax: the ``optimizer`` backend ``evosax`` (CMA-ES on JAX).  Light entry point: JAX
and evosax are imported when the tool starts."""

from chil_core import hookimpl
from chil_plugin_evosax.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    from chil_plugin_evosax.tool import EvosaxOptimizer

    register(EvosaxOptimizer)
