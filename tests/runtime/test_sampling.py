"""Principle sampling: policies, replacement, weights and seeds."""

from __future__ import annotations

from collections import Counter

import pytest

from constlang import plan as P
from constlang.runtime.sampling import PrincipleSampler, SamplingError, select


def principles(*weights: float) -> list[P.Principle]:
    return [P.Principle(id=f"p{i}", critique=f"c{i}", revision=f"r{i}", weight=w)
            for i, w in enumerate(weights)]


def ids(chosen: list[P.Principle]) -> list[str]:
    return [p.id for p in chosen]


def test_per_revision_draws_with_replacement_and_varies_within_a_prompt() -> None:
    sampler = PrincipleSampler(principles(1, 1, 1), "per_revision", seed=0)
    draws = [ids(sampler.choose(i, 4)) for i in range(60)]
    assert any(len(set(d)) < len(d) for d in draws)  # a principle repeats within a prompt
    assert any(len(set(d)) > 1 for d in draws)  # and the principle changes between rounds
    assert all(len(d) == 4 for d in draws)


def test_per_prompt_uses_one_principle_for_every_round() -> None:
    sampler = PrincipleSampler(principles(1, 1, 1), "per_prompt", seed=0)
    draws = [ids(sampler.choose(i, 5)) for i in range(60)]
    assert all(len(set(d)) == 1 for d in draws)
    assert {d[0] for d in draws} == {"p0", "p1", "p2"}  # but prompts differ


def test_in_order_visits_every_principle_in_turn_and_cycles() -> None:
    sampler = PrincipleSampler(principles(1, 1, 1), "in_order", seed=0)
    assert ids(sampler.choose(0, 3)) == ["p0", "p1", "p2"]
    assert ids(sampler.choose(0, 5)) == ["p0", "p1", "p2", "p0", "p1"]
    # fewer rounds than principles: the next prompt continues the cycle
    assert ids(sampler.choose(0, 2)) == ["p0", "p1"]
    assert ids(sampler.choose(1, 2)) == ["p2", "p0"]


def test_weights_set_the_frequencies_and_weight_zero_is_never_drawn() -> None:
    for policy in ("per_revision", "per_prompt", "in_order"):
        sampler = PrincipleSampler(principles(3, 1, 0), policy, seed=7)
        counts = Counter(p.id for i in range(2000) for p in sampler.choose(i, 2))
        assert counts["p2"] == 0, policy
    sampler = PrincipleSampler(principles(3, 1, 0), "per_revision", seed=7)
    counts = Counter(p.id for i in range(2000) for p in sampler.choose(i, 2))
    assert 0.72 < counts["p0"] / 4000 < 0.78


def test_choices_depend_only_on_seed_and_prompt_index() -> None:
    a = PrincipleSampler(principles(1, 1, 1, 1), "per_revision", seed=3)
    b = PrincipleSampler(principles(1, 1, 1, 1), "per_revision", seed=3)
    forward = [ids(a.choose(i, 4)) for i in range(20)]
    backward = [ids(b.choose(i, 4)) for i in reversed(range(20))][::-1]
    assert forward == backward  # order of calls (a resumed run) does not matter
    other = PrincipleSampler(principles(1, 1, 1, 1), "per_revision", seed=4)
    assert forward != [ids(other.choose(i, 4)) for i in range(20)]


def test_bad_selections_raise() -> None:
    with pytest.raises(SamplingError, match="weight above 0"):
        PrincipleSampler(principles(0, 0), "per_revision", seed=0)
    with pytest.raises(SamplingError, match="unknown sampling policy"):
        PrincipleSampler(principles(1), "random", seed=0)


def test_select_all_or_named() -> None:
    pool = principles(1, 1, 1)
    assert ids(select(pool, ["all"])) == ["p0", "p1", "p2"]
    assert ids(select(pool, ["p2", "p0"])) == ["p2", "p0"]
    with pytest.raises(SamplingError, match="p9"):
        select(pool, ["p9"])
