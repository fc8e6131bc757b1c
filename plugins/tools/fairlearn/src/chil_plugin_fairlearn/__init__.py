"""chil-plugin-fairlearn: a ``fairness`` backend on fairlearn.  Light entry point: fairlearn loads in ``start``."""

from chil_core import hookimpl
from chil_plugin_fairlearn.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_fairlearn.tool import FairlearnFairness

    register(FairlearnFairness)
