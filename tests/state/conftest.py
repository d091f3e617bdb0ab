"""Fixtures of the state tests: each backend, on a real redis-server for Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sse_mock.state import MemoryState, State


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test's own: tests share one redis-server, never its keys."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def redis_url(redis_server: Any) -> str:
    return str(redis_server.url)


@pytest.fixture(params=["memory", "redis"])
def make_state(request: pytest.FixtureRequest, prefix: str) -> Iterator[Callable[..., State]]:
    """Build a backend of each kind (same bounds for both); closed after the test."""
    made: list[State] = []

    def make(journal_entries: int = 1000, journal_bytes: int = 4 << 20) -> State:
        if request.param == "memory":
            state: State = MemoryState(journal_entries, journal_bytes)
        else:
            from sse_mock.state.redis import RedisState

            url = request.getfixturevalue("redis_url")
            state = RedisState(url, prefix=prefix, journal_entries=journal_entries,
                               journal_bytes=journal_bytes)
        made.append(state)
        return state

    yield make
    for state in made:
        state.close()
