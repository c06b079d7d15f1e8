"""Hold one caller at an exact database call while another runs: the embedded engine awaits
its hooks before each operation (app/store/engine.py), so a test can make the interleaving
that a networked database makes now and then, every time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from app.store.engine import Operation


class Gate:
    """Stops the first operation that `matches` until `open()`; `reached` is set when one
    is waiting. Later matching operations pass (the gate holds one caller once)."""

    def __init__(self, matches: Callable[[Operation], bool]) -> None:
        self.matches = matches
        self.reached = asyncio.Event()
        self._opened = asyncio.Event()
        self._used = False
        self.held: Operation | None = None

    async def __call__(self, operation: Operation) -> None:
        if self._used or not self.matches(operation):
            return
        self._used = True
        self.held = operation
        self.reached.set()
        await self._opened.wait()

    def open(self) -> None:
        self._opened.set()

    async def wait_reached(self, timeout: float = 5.0) -> Operation:
        await asyncio.wait_for(self.reached.wait(), timeout)
        assert self.held is not None
        return self.held


def gate(database, matches: Callable[[Operation], bool]) -> Gate:
    """A gate installed on this database's embedded engine (for the test's lifetime)."""
    from tests.conftest import embedded_only

    embedded_only(database)
    g = Gate(matches)
    database.client.hooks.append(g)
    return g


def on(collection: str, method: str, **filter_fields) -> Callable[[Operation], bool]:
    """Matches an operation on `collection` by `method`, whose filter has these values."""
    def matches(op: Operation) -> bool:
        if op.collection != collection or op.method != method:
            return False
        return all((op.filter or {}).get(k) == v for k, v in filter_fields.items())
    return matches
