"""Hypothesis profiles for the property tests (README, section Reliability).

    ci    the default: the example counts written in the tests, so that
          ./run-tests stays short
    deep  ten times as many examples, for a longer search:
          QMAIL_DKIM_HYPOTHESIS=deep ./run-tests tests/test_hostile_properties.py

The profile is chosen by the environment variable QMAIL_DKIM_HYPOTHESIS (unset or
empty: ci) and loaded by tests/conftest.py. A test states its CI size with
``@settings(max_examples=examples(40))``: 40 examples in CI, 400 deep.
"""
from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

ENV = "QMAIL_DKIM_HYPOTHESIS"
SCALES = {"ci": 1, "deep": 10}


def profile() -> str:
    name = os.environ.get(ENV) or "ci"
    if name not in SCALES:
        raise ValueError("%s=%r: not a profile (%s)" % (ENV, name, ", ".join(SCALES)))
    return name


def examples(n: int) -> int:
    """n examples in the ci profile, n times the profile's scale otherwise."""
    return n * SCALES[profile()]


def register_and_load() -> str:
    """Register both profiles and load the one QMAIL_DKIM_HYPOTHESIS names."""
    # No deadline: the process-level properties run a whole qmail-dkim per example,
    # which a loaded 2-core machine can slow down; their own time bounds are
    # asserted by the tests (BOUND_PROCESS, BOUND_INPROC).
    common = dict(deadline=None, print_blob=True,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                         HealthCheck.large_base_example])
    for name, scale in SCALES.items():
        settings.register_profile(name, max_examples=100 * scale, **common)
    name = profile()
    settings.load_profile(name)
    return name
