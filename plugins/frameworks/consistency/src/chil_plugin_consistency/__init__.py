"""chil-plugin-consistency: the ``consistency`` framework.  Light entry point: the framework module
(and its parsers) load when the hook runs; no solver is imported here."""

from chil_core import hookimpl
from chil_plugin_consistency.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    from chil_plugin_consistency.framework import ConsistencyFramework

    register(ConsistencyFramework)
