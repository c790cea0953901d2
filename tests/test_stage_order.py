"""Stage order: a long valid chain declared last first is ordered without recursion, and a
long cycle is reported once, with a message of bounded length."""

from __future__ import annotations

from collections.abc import Callable

from hostile_cases import _valid_chain

from constlang.compile import CompileResult


def test_a_chain_deeper_than_the_recursion_limit_is_ordered(
        compile_text: Callable[..., CompileResult]) -> None:
    result = compile_text(_valid_chain(1200))  # 2,400 stages, each waiting on the next
    assert result.plan is not None, result.diagnostics[:3]
    names = [s.name for s in result.plan.stages]
    assert names[:4] == ["critique_revision", "sft", "f0", "o0"] and names[-1] == "o1199"


def test_a_long_cycle_is_one_short_error(compile_text: Callable[..., CompileResult]) -> None:
    result = compile_text(_valid_chain(1200, cycle=True))
    [cycle] = [d for d in result.diagnostics if d.code == "E111"]
    assert "(2,400 stages)" in cycle.message and len(cycle.message) < 200
