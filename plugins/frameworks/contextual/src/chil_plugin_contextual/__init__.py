"""chil-plugin-contextual: the ``contextual`` framework.  Light entry point: the framework module loads
when the hook runs; no model is loaded here."""

from chil_core import hookimpl
from chil_plugin_contextual.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
    from chil_plugin_contextual.framework import ContextualFramework

    register(ContextualFramework)
