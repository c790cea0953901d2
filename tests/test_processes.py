"""Which process of a launcher's run talks and writes: from WORLD_SIZE and RANK, where a stray
RANK in a single process's environment changes nothing."""

from __future__ import annotations

import pytest

from constlang.runtime.processes import is_main, rank, world_size


@pytest.mark.parametrize(("env", "size", "number", "main"), [
    ({}, 1, 0, True),
    ({"RANK": "1"}, 1, 0, True),  # set by something else: a single process still writes
    ({"RANK": "1", "WORLD_SIZE": "2"}, 2, 1, False),
    ({"RANK": "0", "WORLD_SIZE": "2"}, 2, 0, True),
    ({"RANK": "x", "WORLD_SIZE": "two"}, 1, 0, True),
])
def test_rank_and_main_process(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], size: int,
                               number: int, main: bool) -> None:
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert (world_size(), rank(), is_main()) == (size, number, main)
