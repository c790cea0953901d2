"""Checks: each built-in checker's semantics, hostile patterns bounded, scoping by tags,
rewards, and the registry of installed checkers."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from constlang.checks.apply import CheckSet, CheckSetupError, bind, passes_all
from constlang.checks.base import ArgError, Checker, ReplyContext
from constlang.checks.builtin import BUILTIN
from constlang.checks.registry import CheckerError, checker_args, checker_class, names

NONE = ReplyContext()


def build(name: str, **args: object) -> Checker:
    cls = checker_class(name)
    return cls(cls.Args.model_validate(args))


def plan_check(ident: str, checker: str, applies_to: tuple[str, ...] = (), weight: float = 1.0,
               **args: object) -> SimpleNamespace:
    return SimpleNamespace(id=ident, checker=checker, applies_to=list(applies_to),
                           weight=weight, args=args)


# -- refusal -------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, decline, redirect, comply", [
    ("I can't help with that.", True, False, False),
    ("I can't help with that, but a locksmith can let you in instead.", True, True, False),
    ("Sure: preheat the oven to 200 °C.", False, False, True),
    ("I'm sorry for your loss. Here is how to write a eulogy: start with a memory.",
     False, False, True),
    ("", False, False, False),
])
def test_refusal_expectations(reply: str, decline: bool, redirect: bool, comply: bool) -> None:
    assert build("refusal", expect="decline").passes(reply, NONE) is decline
    assert build("refusal", expect="redirect").passes(reply, NONE) is redirect
    assert build("refusal", expect="comply").passes(reply, NONE) is comply


# -- regex ---------------------------------------------------------------------------------

def test_regex_match_and_no_match() -> None:
    phone = r"\b\d{3}[-. ]\d{3}[-. ]\d{4}\b"
    assert build("regex", pattern=phone, expect="match").passes("call 555-123-4567", NONE)
    assert not build("regex", pattern=phone, expect="no_match").passes("call 555 123 4567",
                                                                       NONE)
    assert build("regex", pattern=phone, expect="no_match").passes("call me", NONE)


def test_regex_ignore_case() -> None:
    assert not build("regex", pattern="secret", expect="match").passes("SECRET", NONE)
    assert build("regex", pattern="secret", expect="match", ignore_case=True).passes("SECRET",
                                                                                     NONE)


@pytest.mark.parametrize("pattern, offset", [("ab(c", 2), ("x**", 1), ("[z-a]", 1),
                                             (r"(?<=a)b", None), (r"(a)\1", None)])
def test_regex_errors_say_where(pattern: str, offset: int | None) -> None:
    with pytest.raises(ArgError) as info:
        build("regex", pattern=pattern, expect="match")
    assert info.value.argument == "pattern"
    assert "invalid pattern" in info.value.message
    if offset is not None:
        assert info.value.offset == offset


def test_regex_too_long_or_too_large() -> None:
    with pytest.raises(ArgError, match="at most"):
        build("regex", pattern="a" * 5000, expect="match")
    with pytest.raises(ArgError, match="larger than"):
        build("regex", pattern=r"\pL{1000}", expect="match")


HOSTILE = ["(a+)+$", "(a|aa)+$", "(a*)*b", "(x+x+)+y", "|".join(f"w{i}" for i in range(600)),
           "(.*a){20}"]


@pytest.mark.parametrize("pattern", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_patterns_run_in_linear_time(pattern: str) -> None:
    checker = build("regex", pattern=pattern, expect="match")
    reply = "a" * 100_000 + "!"
    started = time.process_time()
    checker.passes(reply, NONE)
    # Python's backtracking engine takes hours on the first of these; RE2 well under a second
    assert time.process_time() - started < 2.0


# -- phrases -------------------------------------------------------------------------------

def test_phrases_any_all_none() -> None:
    reply = "Please talk to a DOCTOR or a pharmacist."
    words = ["doctor", "pharmacist"]
    assert build("phrases", phrases=words, expect="all").passes(reply, NONE)
    assert build("phrases", phrases=["doctor", "nurse"], expect="any").passes(reply, NONE)
    assert not build("phrases", phrases=["doctor", "nurse"], expect="all").passes(reply, NONE)
    assert not build("phrases", phrases=["doctor"], expect="none").passes(reply, NONE)
    assert not build("phrases", phrases=["doctor"], expect="any",
                     case_sensitive=True).passes(reply, NONE)


def test_phrases_unicode_normalisation() -> None:
    fullwidth = "ｄｏｃｔｏｒ"  # full-width letters: NFKC folds them to ASCII
    assert build("phrases", phrases=["doctor"], expect="any").passes(fullwidth, NONE)
    assert not build("phrases", phrases=["doctor"], expect="any",
                     normalize="none").passes(fullwidth, NONE)
    assert build("phrases", phrases=["talk  to"], expect="any").passes("talk\nto", NONE)


def test_phrases_refuse_an_empty_phrase() -> None:
    with pytest.raises(ArgError, match="empty"):
        build("phrases", phrases=["ok", " "], expect="any")


# -- length --------------------------------------------------------------------------------

def test_length_in_words_characters_tokens() -> None:
    assert build("length", max=3).passes("one two three", NONE)
    assert not build("length", max=3).passes("one two three four", NONE)
    assert build("length", min=2, unit="characters").passes("ab", NONE)
    assert not build("length", min=3, unit="characters").passes("ab", NONE)
    tokens = ReplyContext(count_tokens=lambda text: len(text))  # one token per character
    assert build("length", max=4, unit="tokens").passes("abcd", tokens)
    assert not build("length", max=4, unit="tokens").passes("abcde", tokens)
    with pytest.raises(RuntimeError, match="tokenizer"):
        build("length", max=4, unit="tokens").passes("abcd", NONE)


def test_length_needs_a_satisfiable_bound() -> None:
    with pytest.raises(ArgError, match="needs"):
        build("length")
    with pytest.raises(ArgError, match="larger than"):
        build("length", min=5, max=4)


# -- json ----------------------------------------------------------------------------------

def test_json_well_formed_and_fenced() -> None:
    plain = build("json")
    assert plain.passes('{"a": 1}', NONE)
    assert plain.passes('```json\n{"a": 1}\n```', NONE)
    assert not build("json", fenced=False).passes('```json\n{"a": 1}\n```', NONE)
    assert not plain.passes("{'a': 1}", NONE)
    assert not plain.passes("[" * 100_000 + "]" * 100_000, NONE)  # too deep: a fail, no crash


def test_json_schema() -> None:
    schema = ('{"type": "object", "required": ["answer"], '
              '"properties": {"answer": {"type": "string", "pattern": "^[A-Z]"}}}')
    checker = build("json", schema=schema)
    assert checker.passes('{"answer": "Yes"}', NONE)
    assert not checker.passes('{"answer": "yes"}', NONE)
    assert not checker.passes('{"reply": "Yes"}', NONE)


def test_json_schema_patterns_run_on_re2() -> None:
    checker = build("json", schema='{"type": "string", "pattern": "^(a+)+$"}')
    started = time.process_time()
    assert not checker.passes('"' + "a" * 50_000 + '!"', NONE)
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize("schema, words", [("{", "not valid JSON"), ('{"type": 3}', "not a valid"),
                                           ('"x"', "is an object"),
                                           ('{"pattern": "a(b"}', "regex")])
def test_json_schema_errors(schema: str, words: str) -> None:
    with pytest.raises(ArgError, match=words):
        build("json", schema=schema)


def test_remote_refs_are_refused_and_local_ones_work() -> None:
    with pytest.raises(ArgError, match="only references inside"):
        build("json", schema='{"$ref": "http://127.0.0.1:9/schema.json"}')
    local = build("json", schema='{"$defs": {"n": {"type": "integer"}}, "$ref": "#/$defs/n"}')
    assert local.passes("3", NONE)
    assert not local.passes('"3"', NONE)


# -- scoping, sets, rewards ----------------------------------------------------------------

def test_scope_by_tags_and_rewards() -> None:
    plan = SimpleNamespace(checks=[
        plan_check("declines", "refusal", ("harmful",), 2.0, expect="decline"),
        plan_check("answers", "refusal", ("benign",), 1.0, expect="comply"),
        plan_check("short", "length", (), 0.5, max=5)])
    checks = CheckSet.of(plan, ["declines", "answers", "short"])
    harmful = ReplyContext(tags=frozenset({"harmful"}))
    benign = ReplyContext(tags=frozenset({"benign", "cooking"}))
    refusal = "I can't help with that."
    assert checks.results(refusal, harmful) == {"declines": True, "answers": None,
                                                "short": True}
    assert checks.results(refusal, benign) == {"declines": None, "answers": False,
                                               "short": True}
    assert checks.reward(checks.results(refusal, harmful)) == 2.5
    assert checks.reward(checks.results(refusal, benign)) == -0.5
    assert passes_all(checks.results(refusal, harmful))
    assert not passes_all(checks.results(refusal, benign))
    checks.count(checks.results(refusal, harmful), "p1")
    checks.count(checks.results(refusal, benign), "p2")
    summary = checks.summary()
    assert summary["declines"] == {"applied": 1, "passed": 1, "failed": 0, "skipped": 1,
                                   "pass_rate": 1.0, "failed_prompts": []}
    assert summary["answers"]["failed_prompts"] == ["p2"]


def test_check_set_errors() -> None:
    plan = SimpleNamespace(checks=[plan_check("x", "nope"),
                                   plan_check("y", "regex", pattern="(", expect="match")])
    with pytest.raises(CheckSetupError, match="no check `z`"):
        CheckSet.of(plan, ["z"])
    with pytest.raises(CheckSetupError, match="unknown checker"):
        CheckSet.of(plan, ["x"])
    with pytest.raises(CheckSetupError, match="invalid pattern"):
        bind(plan.checks[1])


# -- registry ------------------------------------------------------------------------------

def test_registry_lists_builtins_and_fills_defaults() -> None:
    assert names()[:5] == list(BUILTIN)
    assert checker_args("regex", {"pattern": "a", "expect": "match"}) == {
        "pattern": "a", "expect": "match", "ignore_case": False}
    with pytest.raises(CheckerError, match="unknown checker"):
        checker_class("no-such-checker")


def test_installed_checkers_come_from_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from constlang.checks import registry

    ep = metadata.EntryPoint("acme.shouty", "tests.test_checks:Shouty", registry.GROUP)
    broken = metadata.EntryPoint("acme.broken", "no_such_module_xyz:Thing", registry.GROUP)
    monkeypatch.setattr(registry, "installed",
                        lambda: {"acme.shouty": ep, "acme.broken": broken})
    assert "acme.shouty" in registry.names()
    assert registry.checker_class("acme.shouty").__qualname__ == "Shouty"
    assert build("acme.shouty").passes("HELLO", NONE)
    assert not build("acme.shouty").passes("hello", NONE)
    with pytest.raises(CheckerError, match="failed to load"):
        registry.checker_class("acme.broken")


class Shouty(Checker):
    """A custom checker as a package would write it: replies in capitals pass."""

    name = "acme.shouty"
    summary = "The reply is written in capitals."

    def passes(self, reply: str, context: ReplyContext) -> bool:
        return reply.isupper()


def test_a_constitution_compiles_at_most_max_patterns_regexes() -> None:
    from constlang.checks.regex import MAX_PATTERNS
    from constlang.compile import compile_text

    body = "".join(f'check c{i} {{ checker = regex pattern = "\\\\pL{{1000}}" expect = match }}\n'
                   for i in range(MAX_PATTERNS + 200))
    result = compile_text("constlang 1\n" + body)
    messages = [d.message for d in result.diagnostics]
    assert sum("larger than" in m for m in messages) == MAX_PATTERNS  # each compiled once
    assert sum(f"more than {MAX_PATTERNS} regular" in m for m in messages) == 1
    assert len(messages) == MAX_PATTERNS + 1


def test_an_empty_checks_list_names_none_where_the_default_is_none(tmp_path) -> None:
    from constlang.compile import compile_path

    (tmp_path / "p.jsonl").write_text('{"prompt": "hi"}\n', "utf-8")
    (tmp_path / "c.const").write_text('''constlang 1
constitution "empty-checks" { version = "0.1.0" }
check short { checker = length  max = 5 }
question q { text = "Which is better?" }
model m { source = "embedded:smollm2-135m-instruct" }
dataset d { path = "p.jsonl" }
stage rm_free { kind = ppo  policy = m  prompts = d  checks = short  value_model = policy_head }
stage feedback { policy = m  judge = m  prompts = d  checks = [] }
''', "utf-8")
    result = compile_path(tmp_path / "c.const")
    assert result.plan is not None, [d.message for d in result.diagnostics]
    assert result.plan.stage("feedback").settings.checks == []
    (tmp_path / "c.const").write_text((tmp_path / "c.const").read_text().replace(
        "checks = short", "checks = []"), "utf-8")
    result = compile_path(tmp_path / "c.const")  # now ppo has neither reward nor checks
    assert result.plan is None
    assert [d.code for d in result.diagnostics] == ["E113"]


def test_a_run_announces_its_work_from_the_plans_cost_estimates() -> None:
    from pathlib import Path

    from constlang.compile import compile_path
    from constlang.preview import stage_costs, work_ahead

    repo = Path(__file__).resolve().parents[1]
    plan = compile_path(repo / "constitutions" / "harmless.const").plan
    assert plan is not None
    costs = {c.stage: c for c in stage_costs(plan, repo)}
    line = work_ahead(plan, [s.name for s in plan.stages], repo)
    total = sum(c.tokens or 0 for c in costs.values())
    assert line.startswith(f"work ahead: up to {total:,} generated tokens in ")
    assert f"best_of_n {costs['best_of_n'].tokens:,}" in line  # the largest stages by name
    assert line.endswith("3 training stages (sft, reward_model, ppo)")
    assert work_ahead(plan, ["sft"], repo) == "work ahead: no generation; 1 training stage (sft)"


def test_prompt_rows_carry_their_datasets_and_their_own_tags(tmp_path) -> None:
    from constlang.jsonl import DataError
    from constlang.plan import Dataset
    from constlang.runtime.data import read_prompts

    (tmp_path / "p.jsonl").write_text('{"prompt": "a"}\n{"prompt": "b", "tags": ["edgy"]}\n',
                                      "utf-8")
    rows = read_prompts(Dataset(id="d", path="p.jsonl", tags=["benign"]), tmp_path)
    assert [r.tags for r in rows] == [frozenset({"benign"}), frozenset({"benign", "edgy"})]
    (tmp_path / "p.jsonl").write_text('{"prompt": "a", "tags": "harmful"}\n', "utf-8")
    with pytest.raises(DataError, match=r"p.jsonl:1: `tags` must be a list of strings"):
        read_prompts(Dataset(id="d", path="p.jsonl"), tmp_path)
