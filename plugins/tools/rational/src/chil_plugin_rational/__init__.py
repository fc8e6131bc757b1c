"""chil-plugin-rational: the exact ``fairness`` backend (Python fractions, no dependency)."""

from chil_core import hookimpl


@hookimpl
def chil_register_tools(register):
    from chil_plugin_rational.metrics import RationalFairness

    register(RationalFairness)
