"""The critique/revision program, run with a deterministic fake engine; prompt data reading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from constlang import plan as P
from constlang.compile import compile_path
from constlang.runtime.data import DataError, PromptRow, read_prompts
from constlang.runtime.generate import Generation
from constlang.runtime.stages.critique_revision import CritiqueRevision, CritiqueRevisionDir

from .helpers import compile_with_prompts

CONSTITUTION = """constlang 1

constitution "fake-test" {{ version = "1.2.3" }}

principle harm {{
  critique = "CRITIQUE-HARM: find the harm."
  revision = "REVISE-HARM: remove the harm."
}}

principle tone {{
  critique = "CRITIQUE-TONE: find the sermon."
  revision = "REVISE-TONE: drop the sermon."
}}

example lockpick {{
  prompt = "EX-PROMPT"
  response = "EX-RESPONSE"
  critique_request = "EX-CRITIQUE-REQUEST"
  critique = "EX-CRITIQUE"
  revision_request = "EX-REVISION-REQUEST"
  revision = "EX-REVISION"
}}

question safe {{ text = "Is the reply safe?"  kind = pointwise  good_answer = "Yes" }}

model m {{ source = "unused" }}
dataset d {{ path = "prompts.jsonl" }}

stage critique_revision {{
  model = m
  prompts = d
  revisions = 2
  batch_size = 2
  {extra}
}}
"""


def make_job(tmp_path: Path, n: int = 5, extra: str = "") -> tuple[CritiqueRevision, list]:
    result, prompts = compile_with_prompts(tmp_path, CONSTITUTION.format(extra=extra), n)
    assert result.plan is not None
    job = CritiqueRevision.from_plan(result.plan, "critique_revision")
    job.make_settings = lambda model, seed: {"seed": seed}
    return job, prompts


class FakeEngine:
    """Answers by prompt kind; a critique says `no_critique` for prompts containing `skip`."""

    def __init__(self, skip: tuple[str, ...] = (),
                 no_critique: str = "No critique needed.") -> None:
        self.calls: list[list[str]] = []  # the final user message of each prompt
        self.chats: list[list[list[dict[str, str]]]] = []  # the whole chats
        self.skip = skip
        self.no_critique = no_critique

    def generate_full(self, prompts: list[list[dict[str, str]]], settings: Any,
                      progress: Any = None) -> list[Generation]:
        return [Generation(t, "eos", len(t.split())) for t in self.generate(prompts, settings,
                                                                              progress)]

    def generate(self, prompts: list[list[dict[str, str]]], settings: Any,
                 progress: Any = None) -> list[str]:
        self.chats.append(list(prompts))
        self.calls.append([chat[-1]["content"] for chat in prompts])
        out = []
        for p in self.calls[-1]:
            reply = p.split("Assistant: ")[-1].splitlines()[0]  # the last one: not the example's
            if "Critique request:" in p:
                bad = any(s in p for s in self.skip)
                out.append(self.no_critique if bad else f"critique of [{reply}]")
            elif "Revision request:" in p:
                out.append(f"revised({reply})")
            else:
                out.append(f"answer to {p}")
        if progress:
            progress(len(prompts))
        return out


def rows(tmp_path: Path) -> list[dict[str, Any]]:
    out = CritiqueRevisionDir(tmp_path, "out")
    return [json.loads(line) for line in out.rows.read_text().splitlines()]


def test_program_runs_answer_then_critique_and_revision_rounds(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=3)
    engine = FakeEngine()
    job.run(engine, prompts, CritiqueRevisionDir(tmp_path, "out"))
    # chunks of 2 prompts: (respond + 2 × (critique + revise)) calls per chunk
    assert [len(c) for c in engine.calls] == [2] * 5 + [1] * 5
    first_critique = engine.calls[1][0]
    chosen = job.sampler.choose(0, 2)
    principles = {"harm": ("CRITIQUE-HARM", "REVISE-HARM"),
                  "tone": ("CRITIQUE-TONE", "REVISE-TONE")}
    assert principles[chosen[0].id][0] in first_critique
    assert "Assistant: answer to PROMPT-0" in first_critique
    # the few-shot example comes first, as an earlier exchange rendered by the same template
    example_turns = engine.chats[1][0][:-1]
    assert [t["role"] for t in example_turns] == ["user", "assistant"]
    assert "EX-CRITIQUE-REQUEST" in example_turns[0]["content"]
    assert "Assistant: EX-RESPONSE" in example_turns[0]["content"]
    assert example_turns[1]["content"] == "EX-CRITIQUE"
    revision_examples = engine.chats[2][0][:-1]
    assert "Critique: EX-CRITIQUE" in revision_examples[0]["content"]
    assert revision_examples[1]["content"] == "EX-REVISION"
    assert engine.chats[0][0] == [{"role": "user", "content": "PROMPT-0"}]  # no examples
    first_revision = engine.calls[2][0]
    assert principles[chosen[0].id][1] in first_revision
    assert "Critique: critique of [answer to PROMPT-0]" in first_revision
    # round 2 critiques round 1's revision
    assert "Assistant: revised(answer to PROMPT-0)" in engine.calls[3][0]
    assert principles[chosen[1].id][0] in engine.calls[3][0]

    out = rows(tmp_path)
    assert [r["index"] for r in out] == [0, 1, 2]
    row = out[0]
    assert set(row) == {"index", "prompt_id", "prompt", "initial", "initial_finish",
                        "initial_tokens", "rounds", "final", "messages", "plan_hash"}
    assert (row["initial_finish"], row["initial_tokens"]) == ("eos", 3)  # the fake's word count
    assert row["prompt_id"] == "q0" and row["prompt"] == "PROMPT-0"
    assert row["initial"] == "answer to PROMPT-0"
    assert row["rounds"] == [
        {"round": 1, "principle": chosen[0].id, "critique": "critique of [answer to PROMPT-0]",
         "revision": "revised(answer to PROMPT-0)", "skipped": False,
         "critique_finish": "eos", "critique_tokens": 5, "revision_finish": "eos",
         "revision_tokens": 3},
        {"round": 2, "principle": chosen[1].id,
         "critique": "critique of [revised(answer to PROMPT-0)]",
         "revision": "revised(revised(answer to PROMPT-0))", "skipped": False,
         "critique_finish": "eos", "critique_tokens": 5, "revision_finish": "eos",
         "revision_tokens": 3},
    ]
    assert row["final"] == "revised(revised(answer to PROMPT-0))"
    assert row["messages"] == [{"role": "user", "content": "PROMPT-0"},
                               {"role": "assistant", "content": row["final"]}]
    assert row["plan_hash"] == compile_path(tmp_path / "c.const").plan.hash  # type: ignore[union-attr]


def test_skip_when_no_critique_keeps_the_answer_and_skips_the_model_call(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2, extra="skip_when_no_critique = true")
    engine = FakeEngine(skip=("PROMPT-1",), no_critique="Looks fine. NO CRITIQUE NEEDED here.")
    done: list[int] = []
    out = CritiqueRevisionDir(tmp_path, "out")
    metrics = job.run(engine, prompts, out, progress=done.append, metrics=out.metrics)
    revision_calls = [c for c in engine.calls if "Revision request:" in c[0]]
    assert [len(c) for c in revision_calls] == [1, 1]  # only prompt 0 is revised
    assert ["PROMPT-0" in c[0] and "PROMPT-1" not in c[0] for c in revision_calls] == [True] * 2
    skipped = rows(tmp_path)[1]
    assert [r["skipped"] for r in skipped["rounds"]] == [True, True]
    assert [r["revision"] for r in skipped["rounds"]] == ["answer to PROMPT-1"] * 2
    assert skipped["final"] == skipped["initial"]
    assert [r["skipped"] for r in rows(tmp_path)[0]["rounds"]] == [False, False]
    assert {k: metrics[k] for k in ("prompts", "revisions", "skipped_revisions",
                                    "changed_answers", "resumed_rows")} == {
        "prompts": 2, "revisions": 4, "skipped_revisions": 2, "changed_answers": 1,
        "resumed_rows": 0}
    # every generation is counted once, a skipped revision as done: 2 prompts × (1 + 2 × 2)
    assert sum(done) == 2 * 5
    logged = [json.loads(line) for line in (tmp_path / "out" / "metrics.jsonl").open()]
    assert [(e["event"], e["prompts"], e["skipped_revisions"]) for e in logged] == [
        ("chunk", 2, 2)]


def test_marker_is_ignored_without_skip_setting(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=1)
    engine = FakeEngine(skip=("PROMPT-0",))
    metrics = job.run(engine, prompts, CritiqueRevisionDir(tmp_path, "out"))
    assert [r["skipped"] for r in rows(tmp_path)[0]["rounds"]] == [False, False]
    assert rows(tmp_path)[0]["final"] == "revised(revised(answer to PROMPT-0))"
    assert metrics["skipped_revisions"] == 0 and metrics["changed_answers"] == 1


def test_sft_rows_hold_one_conversation_per_round_and_load_with_datasets(tmp_path: Path) -> None:
    from datasets import load_dataset

    job, prompts = make_job(tmp_path, n=3)
    job.run(FakeEngine(), prompts, CritiqueRevisionDir(tmp_path, "out"))
    data = load_dataset("json", data_files=str(CritiqueRevisionDir(tmp_path, "out").sft_data),
                        split="train")
    assert len(data) == 3 * 2
    assert data[1]["messages"] == [
        {"role": "user", "content": "PROMPT-0"},
        {"role": "assistant", "content": "revised(revised(answer to PROMPT-0))"}]
    assert (data[1]["index"], data[1]["round"], data[1]["last"], data[1]["skipped"]) == (
        0, 2, True, False)
    assert data[0]["last"] is False


def test_rerun_skips_written_rows_and_drops_a_partial_line(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=5)
    job.run(FakeEngine(), prompts[:2], CritiqueRevisionDir(tmp_path, "out"))
    path = CritiqueRevisionDir(tmp_path, "out").rows
    before = path.read_bytes()
    with path.open("ab") as fh:
        fh.write(b'{"index": 2, "prompt_id": "q2", "pro')  # a write cut by a kill
    engine = FakeEngine()
    job.run(engine, prompts, CritiqueRevisionDir(tmp_path, "out"))
    assert path.read_bytes().startswith(before)
    assert [r["index"] for r in rows(tmp_path)] == [0, 1, 2, 3, 4]
    assert sum(len(c) for c in engine.calls if "Critique" not in c[0]
               and "Revision" not in c[0]) == 3  # only prompts 2, 3 and 4 were answered


def test_principles_are_the_sampled_ones(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=4, extra='sampling = "in_order"')
    job.run(FakeEngine(), prompts, CritiqueRevisionDir(tmp_path, "out"))
    assert [[r["principle"] for r in row["rounds"]] for row in rows(tmp_path)] == [
        ["harm", "tone"]] * 4


def test_dry_run_preview_renders_placeholders(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2)
    shown = job.preview(prompts)
    assert [title.split(" · ")[-1].split(" ")[0] for title, _ in shown] == [
        "respond", "critique", "revise"] * 2
    assert shown[0][1] == [{"role": "user", "content": "PROMPT-0"}]
    assert "<the model's current reply>" in shown[1][1][-1]["content"]
    assert "<the model's critique>" in shown[2][1][-1]["content"]
    assert shown[1][1][-2] == {"role": "assistant", "content": "EX-CRITIQUE"}


# ---------------------------------------------------------------- prompt files

def dataset(tmp_path: Path, text: str, **kw: Any) -> P.Dataset:
    (tmp_path / "p.jsonl").write_text(text, "utf-8")
    return P.Dataset(id="d", path="p.jsonl", **kw)


def test_read_prompts_uses_ids_limit_and_field(tmp_path: Path) -> None:
    ds = dataset(tmp_path, '{"id": "a", "q": "one"}\n\n{"q": "two"}\n{"q": "three"}\n',
                 field="q", limit=2)
    got = read_prompts(ds, tmp_path)
    assert [(r.index, r.prompt_id, r.prompt) for r in got] == [(0, "a", "one"), (1, "d-1", "two")]


@pytest.mark.parametrize(("text", "message"), [
    ('{"prompt": "a"}\n{"prompt": "b",\n', r"p\.jsonl:2: malformed JSON"),
    ('{"prompt": "a"}\n{"text": "b"}\n', r"p\.jsonl:2: no `prompt` field .*the row has: text"),
    ('{"prompt": 3}\n', r"p\.jsonl:1: field `prompt` must be a string"),
    ('[1, 2]\n', r"p\.jsonl:1: expected a JSON object"),
    ("\n\n", r"dataset `d`: .*p\.jsonl has no prompts"),
])
def test_read_prompts_errors_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        read_prompts(dataset(tmp_path, text), tmp_path)


def test_missing_prompt_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="prompt file not found: .*nope.jsonl"):
        read_prompts(P.Dataset(id="d", path="nope.jsonl"), tmp_path)


class InterruptingEngine(FakeEngine):
    """A FakeEngine that is interrupted (Ctrl-C) at its n-th call."""

    def __init__(self, at_call: int) -> None:
        super().__init__()
        self.at_call = at_call

    def generate(self, prompts: list[list[dict[str, str]]], settings: Any,
                 progress: Any = None) -> list[str]:
        if len(self.calls) + 1 == self.at_call:
            raise KeyboardInterrupt
        return super().generate(prompts, settings, progress)


def test_an_interrupted_chunk_resumes_from_its_last_finished_round(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2)  # one chunk of 2 prompts, 2 rounds
    out = CritiqueRevisionDir(tmp_path, "out")
    with pytest.raises(KeyboardInterrupt):  # calls: respond, critique 1, revise 1, critique 2
        job.run(InterruptingEngine(at_call=4), prompts, out)
    assert not out.rows.exists()  # the chunk never finished...
    saved = json.loads(out.partial.read_text())
    assert (saved["indices"], saved["round"]) == ([0, 1], 1)  # ...but its first round is saved
    resumed = FakeEngine()
    done: list[int] = []
    metrics = job.run(resumed, prompts, out, progress=done.append)
    assert [c[0].split("\n")[0] for c in resumed.calls] == [
        "Here is a conversation to critique.",
        "Here is a conversation and a critique of the assistant's reply."]  # round 2 only
    assert sum(done) == 2 * job.generations_per_prompt()
    assert not out.partial.exists()
    reference = CritiqueRevisionDir(tmp_path, "reference")
    job.run(FakeEngine(), prompts, reference)
    assert out.rows.read_text() == reference.rows.read_text()
    assert metrics["prompts"] == 2 and metrics["resumed_rows"] == 0


def test_a_saved_state_of_other_prompts_is_ignored(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2)
    out = CritiqueRevisionDir(tmp_path, "out")
    out.path.mkdir(parents=True)
    out.partial.write_text(json.dumps({"indices": [7, 8], "round": 1}))
    engine = FakeEngine()
    job.run(engine, prompts, out)
    assert len(engine.calls) == 5  # respond + 2 rounds of critique and revision


def test_helpful_prompts_are_answered_once_and_mixed_into_the_sft_data(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2)
    helpful = [PromptRow(i, f"h{i}", f"HELPFUL-{i}") for i in range(3)]
    out = CritiqueRevisionDir(tmp_path, "out")
    engine = FakeEngine()
    metrics = job.run(engine, prompts, out, helpful=helpful)
    assert engine.calls[-2:] == [["HELPFUL-0", "HELPFUL-1"], ["HELPFUL-2"]]  # chunks of 2
    answered = [json.loads(line) for line in out.helpful.read_text().splitlines()]
    assert [(r["prompt"], r["answer"], r["finish"]) for r in answered] == [
        (f"HELPFUL-{i}", f"answer to HELPFUL-{i}", "eos") for i in range(3)]
    sft = [json.loads(line) for line in out.sft_data.read_text().splitlines()]
    mixed = [r for r in sft if r["source"] == "helpful"]
    assert [(r["messages"][1]["content"], r["round"], r["last"], r["drop"]) for r in mixed] == [
        (f"answer to HELPFUL-{i}", 0, True, None) for i in range(3)]
    assert metrics["sft_helpful_rows"] == 3
    assert metrics["sft_rows"] == 2 * 2 + 3  # 2 prompts × 2 revised rounds, + 3 helpful
    again = FakeEngine()  # a rerun finds both files complete and generates nothing
    job.run(again, prompts, out, helpful=helpful)
    assert again.calls == []


class JudgingEngine(FakeEngine):
    """A FakeEngine whose judge likes each revision less than the reply before it, except
    that any text mentioning PROMPT-1 is judged safe."""

    def __init__(self) -> None:
        super().__init__()
        self.scored: list[list[str]] = []

    def score_options(self, prompts: list[list[dict[str, str]]],
                      options: list[str]) -> list[list[float]]:
        assert options == ["Yes", "No"]
        texts = [chat[-1]["content"] for chat in prompts]
        self.scored.append(texts)
        out = []
        for t in texts:
            reply = t.split("Assistant: ")[1].split("\n")[0]
            yes = 5.0 if "PROMPT-1" in reply else -float(reply.count("revised"))
            out.append([yes, 0.0])
        return out


def test_a_judge_scores_first_answers_and_revisions_and_drops_the_worse(tmp_path: Path) -> None:
    import math

    job, prompts = make_job(tmp_path, n=2, extra="judge = m  judge_question = safe")
    assert job.judge_step is not None and job.question is not None
    out = CritiqueRevisionDir(tmp_path, "out")
    engine = JudgingEngine()
    metrics = job.run(engine, prompts, out, judge=engine)
    assert len(engine.scored) == 1 and len(engine.scored[0]) == 2 + 2 * 2  # one call a chunk
    assert all("Is the reply safe?" in t for t in engine.scored[0])
    rows = [json.loads(line) for line in out.rows.read_text().splitlines()]
    sigmoid = [1 / (1 + math.exp(-x)) for x in (0.0, -1.0, -2.0)]
    assert [rows[0]["initial_score"]] + [r["revision_score"] for r in rows[0]["rounds"]] == [
        round(p, 6) for p in sigmoid]
    safe = round(1 / (1 + math.exp(-5.0)), 6)
    assert [rows[1]["initial_score"]] + [r["revision_score"] for r in rows[1]["rounds"]] == [
        safe] * 3
    sft = [json.loads(line) for line in out.sft_data.read_text().splitlines()]
    assert [r["drop"] for r in sft] == ["worse", "worse", None, None]
    judge = metrics["judge"]
    assert judge == {"prompts": 2, "mean_first": round((0.5 + safe) / 2, 4),
                     "mean_final": round((sigmoid[2] + safe) / 2, 4),
                     "improved_share": 0.0, "worse_share": 0.5}
    assert metrics["sft_dropped"] == {"worse": 2}


def test_a_judge_without_a_pointwise_question_is_a_clear_error(tmp_path: Path) -> None:
    from constlang.compile import compile_text
    from constlang.errors import StageError

    # no judge_question: the checker says so (E113) before anything runs
    text = CONSTITUTION.format(extra="judge = m")
    (tmp_path / "prompts.jsonl").write_text('{"prompt": "p"}\n', "utf-8")
    checked = compile_text(text, str(tmp_path / "c.const"), root=tmp_path)
    assert checked.plan is None and [d.code for d in checked.diagnostics] == ["E113"]
    # a pairwise question: the runner refuses it with the same advice
    pairwise = CONSTITUTION.format(extra="judge = m  judge_question = which").replace(
        "model m {", 'question which { text = "Which is better?" }\n\nmodel m {', 1)
    result, _ = compile_with_prompts(tmp_path, pairwise, 1)
    assert result.plan is not None, result.diagnostics
    with pytest.raises(StageError, match="needs `judge_question` naming a pointwise question"):
        CritiqueRevision.from_plan(result.plan, "critique_revision")


def test_direct_revision_writes_no_critique(tmp_path: Path) -> None:
    extra = "revision_template = direct"
    text = CONSTITUTION.format(extra=extra).replace(
        "model m {", 'template direct(prompt, response, principle) """\nUser: {{ prompt }}\n'
        'Assistant: {{ response }}\n\nRevision request: {{ principle.revision }}\n"""\n\n'
        "model m {", 1)
    result, prompts = compile_with_prompts(tmp_path, text, 2)
    assert result.plan is not None, result.diagnostics
    job = CritiqueRevision.from_plan(result.plan, "critique_revision")
    job.make_settings = lambda model, seed: {"seed": seed}
    assert not job.critique_used()
    engine = FakeEngine()
    done: list[int] = []
    metrics = job.run(engine, prompts, CritiqueRevisionDir(tmp_path, "out"), progress=done.append)
    assert len(engine.calls) == 1 + 2  # respond, then one revision call a round
    assert sum(done) == 2 * job.generations_per_prompt()
    row = json.loads(CritiqueRevisionDir(tmp_path, "out").rows.read_text().splitlines()[0])
    assert [(r["critique"], r["critique_finish"]) for r in row["rounds"]] == [("", "skipped")] * 2
    assert metrics["quality"]["critiques"]["count"] == 0


def test_a_finished_chunk_leaves_no_saved_state_behind(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=4)  # two chunks of 2 prompts, 2 rounds
    out = CritiqueRevisionDir(tmp_path, "out")
    with pytest.raises(KeyboardInterrupt):  # calls 1-5: chunk 1; call 6: chunk 2's answers
        job.run(InterruptingEngine(at_call=6), prompts, out)
    assert [r["index"] for r in rows(tmp_path)] == [0, 1]
    # chunk 1 is in rows.jsonl: a state saying it stopped after round 2 would be a false
    # "prompts 0–1 were interrupted" on the rerun
    assert not out.partial.exists()


class OverflowingEngine(FakeEngine):
    """A FakeEngine whose first revision prompts do not fit the context (overflow = skip)."""

    def generate_full(self, prompts: list[list[dict[str, str]]], settings: Any,
                      progress: Any = None) -> list[Generation]:
        out = super().generate_full(prompts, settings, progress)
        revising = "Revision request:" in prompts[0][-1]["content"]
        first_revision = revising and not any(
            "Revision request:" in call[0] for call in self.calls[:-1])
        return [Generation("", "skipped", 0) for _ in out] if first_revision else out


def test_a_revision_too_long_to_run_keeps_the_reply_it_would_revise(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=1)
    job.run(OverflowingEngine(), prompts, CritiqueRevisionDir(tmp_path, "out"))
    row = rows(tmp_path)[0]
    first, second = row["rounds"]
    assert first["revision_finish"] == "skipped"
    assert first["revision"] == row["initial"]  # not "": round 2 revises the real answer
    assert second["revision"] == f"revised({row['initial']})"
    assert row["final"] == second["revision"]
    sft = [json.loads(x)
           for x in CritiqueRevisionDir(tmp_path, "out").sft_data.read_text().splitlines()]
    assert [r["drop"] for r in sft] == ["too_long", None]


class TooLongEngine(FakeEngine):
    """A FakeEngine whose model cannot fit PROMPT-1 (the overflow policy skipped it)."""

    def generate_full(self, prompts: list[list[dict[str, str]]], settings: Any,
                      progress: Any = None) -> list[Generation]:
        out = super().generate_full(prompts, settings, progress)
        return [Generation("", "skipped", 0) if chat[-1]["content"] == "PROMPT-1" else g
                for chat, g in zip(prompts, out, strict=True)]


def test_a_prompt_too_long_to_answer_is_neither_critiqued_nor_revised(tmp_path: Path) -> None:
    job, prompts = make_job(tmp_path, n=2)
    engine = TooLongEngine()
    done: list[int] = []
    metrics = job.run(engine, prompts, CritiqueRevisionDir(tmp_path, "out"), progress=done.append)
    assert [len(c) for c in engine.calls] == [2, 1, 1, 1, 1]  # only PROMPT-0 after the answer
    assert sum(done) == 2 * job.generations_per_prompt()
    rows = [json.loads(line)
            for line in CritiqueRevisionDir(tmp_path, "out").rows.read_text().splitlines()]
    assert (rows[1]["initial"], rows[1]["initial_finish"], rows[1]["final"]) == ("", "skipped", "")
    assert [(r["skipped"], r["critique_finish"]) for r in rows[1]["rounds"]] == [
        (True, "skipped")] * 2
    sft = [json.loads(line) for line in CritiqueRevisionDir(tmp_path, "out").sft_data.read_text()
           .splitlines()]
    assert [r["drop"] for r in sft if r["index"] == 1] == ["skipped", "skipped"]
    assert metrics["quality"]["critiques"]["count"] == 2  # PROMPT-0's two critiques only
