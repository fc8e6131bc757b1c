"""``chil doctor``'s self-test cases for optimizer:evosax: the shared cases of the capability
(``chil_core.testing.selfcases``: gold answers, mutated negatives, hostile payloads)."""

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.capabilities.optimizer import CONTINUOUS
    from chil_core.testing.selfcases import capability_cases

    return capability_cases("optimizer:evosax", kinds=CONTINUOUS)
