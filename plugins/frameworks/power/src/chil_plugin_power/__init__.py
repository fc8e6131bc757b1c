"""chil-plugin-power: the ``power`` framework (who benefits, who is harmed?).

Light entry point: the framework module is imported inside the hook.
"""

from chil_core import hookimpl
from chil_plugin_power.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):
    from chil_plugin_power.framework import PowerFramework

    register(PowerFramework)
