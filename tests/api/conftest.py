"""The schemathesis run's figures (operations, cases, failures), counted per test and
printed after the run by tests/figures.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest


@dataclass
class Figures:
    stats: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


@pytest.fixture
def figures(request):
    counted = Figures()
    yield counted
    request.node.user_properties.append(
        ("schemathesis", {"stats": dict(counted.stats), "failures": counted.failures}))
