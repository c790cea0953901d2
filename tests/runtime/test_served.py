"""Served models against a real server: `transformers serve` on 127.0.0.1 serving the tiny
model, with a fault-injecting proxy in front for failures. Every reply comes from the server."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from constlang.runtime.generate import GenerationEngine, GenerationSettings
from constlang.runtime.models import LoadedModel, ModelError
from constlang.runtime.served.client import ServedError
from constlang.runtime.served.engine import ServedEngine
from constlang.runtime.served.spec import ServedSpec

from .served_server import FaultProxy, Server

pytest.importorskip("fastapi", reason="the served tests need transformers[serving]")

PROMPTS = ["Hello there.", "What is two plus two?", "Name a colour.", "Say something kind.",
           "Write one word.", "Count to three."]
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, seed=3)


def engine(url: str, journal: Path | None = None, **kw: object) -> ServedEngine:
    return ServedEngine(ServedSpec(id="critic", endpoint=url, **kw), journal=journal)  # type: ignore[arg-type]


def test_greedy_replies_equal_the_in_process_engine(served_tiny: Server,
                                                     tiny_model: LoadedModel) -> None:
    served = engine(served_tiny.url, concurrency=4).generate_full(PROMPTS, GREEDY)
    local = GenerationEngine(tiny_model, batch_size=1).generate_full(PROMPTS, GREEDY)
    assert [g.text for g in served] == [g.text for g in local]
    assert [g.tokens for g in served] == [g.tokens for g in local]
    assert all(g.finish == "length" for g in served)


def test_requests_run_concurrently_up_to_the_limit(proxy: FaultProxy) -> None:
    e = engine(proxy.url, concurrency=3)
    e.generate_full(PROMPTS * 2, GenerationSettings(max_new_tokens=8, seed=1))
    assert 2 <= proxy.faults.most_active <= 3
    assert e.stats["requests"] == 12 and e.stats["completion_tokens"] == 12 * 8


def test_answers_are_journaled_and_never_asked_twice(proxy: FaultProxy, tmp_path: Path) -> None:
    journal = tmp_path / "served" / "critic.jsonl"
    settings = GenerationSettings(max_new_tokens=8, temperature=0.9, seed=5)
    first = engine(proxy.url, journal).generate_full(PROMPTS, settings)
    assert len(proxy.faults.forwarded) == len(PROMPTS)
    assert len(journal.read_text().splitlines()) == len(PROMPTS)
    again = engine(proxy.url, journal)
    assert again.generate_full(PROMPTS, settings) == first
    assert len(proxy.faults.forwarded) == len(PROMPTS)  # nothing was asked again
    assert again.stats["reused_answers"] == len(PROMPTS)
    # a torn last line (killed mid-write) is ignored and asked again
    lines = journal.read_text().splitlines(keepends=True)
    journal.write_text("".join(lines[:-1]) + lines[-1][:20])
    engine(proxy.url, journal).generate_full(PROMPTS, settings)
    assert len(proxy.faults.forwarded) == len(PROMPTS) + 1


def test_500s_and_garbage_are_retried(proxy: FaultProxy) -> None:
    proxy.faults.errors, proxy.faults.garbage = 2, 1
    e = engine(proxy.url, concurrency=1, retries=4)
    assert len(e.generate_full(PROMPTS[:2], GREEDY)) == 2
    assert e.stats["retried"] == 3


def test_retries_are_bounded_then_a_clear_error(proxy: FaultProxy) -> None:
    proxy.faults.errors = 100
    with pytest.raises(ServedError, match=r"model 'critic' at http://127\.0\.0\.1:\d+/v1 did "
                       r"not answer after 3 tries \(HTTP 500: injected failure\)"):
        engine(proxy.url, concurrency=1, retries=2).generate_full(PROMPTS[:1], GREEDY)
    assert proxy.faults.seen == 3


def test_a_stalled_server_times_out(proxy: FaultProxy) -> None:
    proxy.faults.stalls, proxy.faults.stall_s = 10, 3.0
    with pytest.raises(ServedError, match=r"after 2 tries \(no answer within 1 s\)"):
        engine(proxy.url, concurrency=1, retries=1, timeout=1.0).generate_full(
            PROMPTS[:1], GREEDY)


def test_a_wrong_or_missing_key_names_the_variable(proxy: FaultProxy,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    proxy.faults.key = "right-key"
    monkeypatch.setenv("CRITIC_KEY", "wrong-key")
    with pytest.raises(ServedError, match=r"HTTP 401.*check the key in \$CRITIC_KEY"):
        engine(proxy.url, api_key_env="CRITIC_KEY").generate_full(PROMPTS[:1], GREEDY)
    monkeypatch.setenv("CRITIC_KEY", "right-key")
    assert engine(proxy.url, api_key_env="CRITIC_KEY").generate_full(PROMPTS[:1], GREEDY)
    monkeypatch.delenv("CRITIC_KEY")
    seen = proxy.faults.seen
    with pytest.raises(ModelError, match="CRITIC_KEY .* is not set"):
        engine(proxy.url, api_key_env="CRITIC_KEY")
    assert proxy.faults.seen == seen  # nothing was sent


def test_a_server_that_is_down_says_so() -> None:
    from .served_server import free_port

    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(ServedError, match=r"did not answer after 2 tries \(ConnectError.*is "
                       r"the server running\?"):
        engine(url, retries=1, served_model="m").generate_full(PROMPTS[:1], GREEDY)


def test_judging_without_logprobs_stops_unless_parsing_is_declared(served_tiny: Server) -> None:
    with pytest.raises(ServedError, match=r"returns no log-probabilities.*without_logprobs = "
                       r"\"parse\""):
        engine(served_tiny.url).score_options(PROMPTS[:2], ["(A)", "(B)"])
    parsing = engine(served_tiny.url, without_logprobs="parse")
    scores = parsing.score_options(PROMPTS[:2], ["(A)", "(B)"])
    assert len(scores) == 2 and all(len(row) == 2 for row in scores)
    for row in scores:  # a parsed label is hard: one option at log 1, or none (no preference)
        assert sorted(row) in ([-math.inf, 0.0], [-math.inf, -math.inf])
    stats = parsing.stats
    assert stats["parsed_labels"] + stats["unparsed_labels"] == 2
    assert stats["served"]["without_logprobs"] == "parse"


def test_a_server_killed_mid_call_then_restarted_loses_no_row(tiny_model_dir: Path,
                                                               tmp_path: Path) -> None:
    import threading
    import time

    own = Server(tiny_model_dir, log=tmp_path / "serve.log").start()
    journal = tmp_path / "served" / "critic.jsonl"
    prompts = [f"Tell me about the number {i}." for i in range(24)]
    settings = GenerationSettings(max_new_tokens=24, temperature=0.8, seed=9)
    with FaultProxy(f"http://127.0.0.1:{own.port}") as proxy:
        def kill_after_some() -> None:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                if journal.is_file() and len(journal.read_text().splitlines()) >= 4:
                    own.stop()
                    return
                time.sleep(0.05)
        killer = threading.Thread(target=kill_after_some)
        killer.start()
        with pytest.raises(ServedError, match="did not answer after 2 tries"):
            engine(proxy.url, journal, concurrency=2, retries=1).generate_full(prompts, settings)
        killer.join()
        kept = len(journal.read_text().splitlines())
        assert 4 <= kept < len(prompts)
        asked_before = len(proxy.faults.forwarded)
        own.start()  # the same port again
        try:
            resumed = engine(proxy.url, journal, concurrency=2)
            replies = resumed.generate_full(prompts, settings)
        finally:
            own.stop()
        assert resumed.stats["reused_answers"] == kept
        assert len(proxy.faults.forwarded) - asked_before == len(prompts) - kept
        assert len(set(proxy.faults.forwarded)) == len(proxy.faults.forwarded)  # none twice
        # the server is down again: every answer comes from the journal
        fresh = engine(proxy.url, journal, served_model=str(tiny_model_dir))
        assert fresh.generate_full(prompts, settings) == replies
        assert fresh.stats["requests"] == 0
