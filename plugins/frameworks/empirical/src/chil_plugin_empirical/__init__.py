"""chil-plugin-empirical: the ``empirical`` framework (is it true?) and the ``fact_store`` contract.

Light entry point: the framework module is imported inside the hook.
"""

from chil_core import hookimpl
from chil_plugin_empirical.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):
    from chil_plugin_empirical.framework import EmpiricalFramework

    register(EmpiricalFramework)
