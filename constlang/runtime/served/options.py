"""Runtime, served models: a judge's option scores through an endpoint, from the log-probability
of the answer's first tokens (chat completions with `logprobs` and `top_logprobs`), as the
in-process scorer computes them; or, where a constitution allows it, from the parsed answer.

The in-process scorer counts an option's tokens up to the first that sets it apart from the
others. Through an API the tokens are seen as text: options that differ from their first
character (`Yes`/`No`) are read from one request; options with a common start (`(A)`/`(B)`)
take a second request that continues an assistant message holding that start, and their score
is log P(start) + log P(the next token | start)."""

from __future__ import annotations

import math
import os
import re
from typing import Any

TOP_LOGPROBS = 20  # alternatives asked for each answer token (the API's usual maximum)


class NoLogprobs(Exception):
    """The server answered without log-probabilities (not a garbled answer: asking again
    would not help). A signal inside the served engine, not a ConstlangError: it becomes a
    ServedError, or the declared parse fallback."""


def common_start(options: list[str]) -> str:
    """The text every option starts with."""
    return os.path.commonprefix(options)


def top_logprobs(answer: dict[str, Any]) -> dict[str, float]:
    """{token text: log-probability} of the first answer token's alternatives; NoLogprobs when
    the answer has none, ValueError when it is not a chat completion."""
    choice = first_choice(answer)
    logprobs = choice.get("logprobs")
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    if not content:
        raise NoLogprobs("the answer holds no log-probabilities")
    first = content[0]
    if not isinstance(first, dict):
        raise ValueError("a logprobs entry is not an object")
    table: dict[str, float] = {}
    for entry in [first, *(first.get("top_logprobs") or [])]:
        if isinstance(entry, dict) and isinstance(entry.get("token"), str):
            value = entry.get("logprob")
            if isinstance(value, (int, float)) and not math.isnan(value):
                table[entry["token"]] = max(float(value), table.get(entry["token"], -math.inf))
    if not table:
        raise NoLogprobs("the answer holds no log-probabilities")
    return table


def first_choice(answer: dict[str, Any]) -> dict[str, Any]:
    """The first choice of a chat completion; ValueError when the answer is not one."""
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ValueError("the answer has no choices")
    return choices[0]


def token_for(table: dict[str, float], text: str, others: list[str]) -> float | None:
    """The log-probability of the longest token in `table` that starts `text` and no other
    option (the distinguishing token); None when no such token is among the alternatives."""
    found = [(len(t), lp) for t, lp in table.items()
             if t and text.startswith(t) and not any(o.startswith(t) for o in others)]
    return max(found)[1] if found else None


def floor(table: dict[str, float]) -> float:
    """An upper bound for a token outside the alternatives: the least listed log-probability."""
    return min(table.values())


def option_scores(options: list[str], first: dict[str, float],
                  after_start: dict[str, float] | None) -> tuple[list[float], int]:
    """(score of each option, how many were not among the alternatives and got the floor).

    `first`: the alternatives of the first answer token; `after_start`: those of the token after
    the options' common start (None when they have none)."""
    start = common_start(options)
    scores, missing = [], 0
    for j, option in enumerate(options):
        others = [o for k, o in enumerate(options) if k != j]
        direct = token_for(first, option, others)
        if direct is not None:
            scores.append(direct)
            continue
        if start and after_start is not None:
            head = token_for(first, start, []) if start else 0.0
            rest = option[len(start):]
            tail = token_for(after_start, rest, [o[len(start):] for o in others])
            if head is not None and tail is not None:
                scores.append(head + tail)
                continue
        missing += 1
        scores.append(floor(after_start if start and after_start else first))
    return scores, missing


def parsed_scores(text: str, options: list[str]) -> list[float]:
    """Scores from a generated answer: 0 for the option it gives first, -inf for the others;
    all -inf (no preference) when it names none. Options are found as written, or by their
    letters and digits alone as a word ("A" for "(A)")."""
    found: list[tuple[int, int]] = []
    for j, option in enumerate(options):
        at = text.find(option)
        core = re.sub(r"[^0-9A-Za-z]+", "", option)
        if at < 0 and core:
            match = re.search(rf"(?<![0-9A-Za-z]){re.escape(core)}(?![0-9A-Za-z])", text)
            at = match.start() if match else -1
        if at >= 0:
            found.append((at, j))
    chosen = min(found)[1] if found else None
    return [0.0 if j == chosen else -math.inf for j in range(len(options))]
