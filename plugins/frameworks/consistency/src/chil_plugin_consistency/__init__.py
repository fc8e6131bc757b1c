"""chil-plugin-consistency: the ``consistency`` framework.  Light entry point: the framework module
(and its parsers) load when the hook runs; no solver is imported here."""

from chil_core import hookimpl


@hookimpl
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    from chil_plugin_consistency.framework import ConsistencyFramework

    register(ConsistencyFramework)
