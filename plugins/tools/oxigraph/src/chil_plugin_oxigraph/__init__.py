"""chil-plugin-oxigraph: the Oxigraph (RDF) ``fact_store`` backend.  pyoxigraph loads in ``start``."""

from chil_core import hookimpl
from chil_plugin_oxigraph.selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)


@hookimpl
def chil_register_tools(register):
    from chil_plugin_oxigraph.store import OxigraphFactStore

    register(OxigraphFactStore)
