"""Run directory, the chunk in flight: the state a critique/revision chunk saves after each
round, so an interrupted run resumes inside the chunk, and whether a saved one can be trusted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from constlang.files import atomic_write_text, read_own
from constlang.runtime.rundir import STATE_LIMIT


def _read_state(path: Path) -> Any:
    """A saved JSON state of our own, or None when absent or unusable (it is only a cache of
    the chunk in flight: without it the chunk starts again)."""
    try:
        return json.loads(read_own(path, STATE_LIMIT))
    except (OSError, ValueError, RecursionError):
        return None


def load_chunk_state(path: Path | None, indices: list[int]) -> dict[str, Any] | None:
    """The saved state of the chunk of these row indices, or None."""
    if path is None:
        return None
    state = _read_state(path)
    same = isinstance(state, dict) and state.get("indices") == indices
    return state if same else None


def saved_chunk(path: Path) -> tuple[int, int, int] | None:
    """(first index, last index, round) of a saved chunk state, for the resume message."""
    state = _read_state(path)
    try:
        return state["indices"][0], state["indices"][-1], int(state["round"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def save_chunk_state(path: Path | None, state: dict[str, Any]) -> None:
    """Replace the saved state of the chunk in flight (atomically)."""
    if path is not None:
        atomic_write_text(path, json.dumps(state, ensure_ascii=False), make_parents=True,
                          follow=False)


def resumable(state: dict[str, Any], n: int, rounds: int) -> bool:
    """Whether a saved chunk state of `n` prompts has the shape run_chunk writes, so resuming
    from it cannot fail halfway or put foreign values into rows.jsonl."""
    def whole(x: Any) -> bool:
        return type(x) is int

    def lists(key: str) -> list[Any]:
        value = state.get(key)
        return value if isinstance(value, list) and len(value) == n else []

    done = state.get("round")
    if type(done) is not int or not 0 <= done <= rounds:
        return False
    initial, history, responses = lists("initial"), lists("history"), lists("responses")
    return (n > 0 and len(initial) == len(history) == len(responses) == n
            and all(isinstance(g, dict) and isinstance(g.get("text"), str)
                    and isinstance(g.get("finish"), str) and whole(g.get("tokens"))
                    for g in initial)
            and all(isinstance(r, str) for r in responses)
            and all(isinstance(h, list) and len(h) == done
                    and all(isinstance(e, dict) and e.get("round") == k + 1
                            and isinstance(e.get("revision"), str)
                            and isinstance(e.get("critique"), str)
                            and isinstance(e.get("skipped"), bool) for k, e in enumerate(h))
                    for h in history))
