"""How hard the fuzz tests try.

A bounded number of examples in ``make test``, more in ``make fuzz``
(``NVO3_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings


def examples(default: int) -> int:
    """``default`` examples, or ``NVO3_FUZZ_EXAMPLES`` when set (``make fuzz``)."""
    value = os.environ.get("NVO3_FUZZ_EXAMPLES")
    return int(value) if value else default


def fuzz_settings(default: int) -> settings:
    """Hypothesis settings for a fuzz test: no deadline, no health check on slow data."""
    return settings(
        max_examples=examples(default),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
        derandomize=False,
    )
