"""chil-plugin-rational: the exact ``fairness`` backend (Python fractions, no dependency)."""

from chil_core import hookimpl
from chil_plugin_rational.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_rational.metrics import RationalFairness

    register(RationalFairness)
