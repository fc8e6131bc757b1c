"""Shared payload contracts of capabilities that several backends implement.

A capability's payload and answer format lives here, in the core, so that every backend of that
capability (and every framework that calls it) depends on the core alone, not on each other.

One module per capability: :mod:`~chil_core.capabilities.fact_store`,
:mod:`~chil_core.capabilities.logic_program`, :mod:`~chil_core.capabilities.smt` (with the FOL
parser), :mod:`~chil_core.capabilities.text_index`, :mod:`~chil_core.capabilities.theorem_prover`.
Its conformance suite is the module of the same name in :mod:`chil_core.testing`.
"""
