"""Rejection sampling, the data: a prompt's sampled replies with their check verdicts → the
replies kept as SFT rows, the preference pairs (a passing reply over a failing one), and the
figures the best-of-N stage's manifest records."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constlang.checks.apply import CheckSet, passes_all
from constlang.runtime import quality as Q
from constlang.runtime.preference_rows import make_row
from constlang.words import counted

# why a reply is never kept, in the order they are tested
DROP_REASONS = ("too_long", "truncated", "empty", "meta")


def sample_drop(text: str, finish: str, *, keep_truncated: bool, drop_meta: bool) -> str | None:
    """Why a reply cannot be kept whatever the checks say (DROP_REASONS), or None: too_long
    (its prompt did not fit the context), truncated (cut at max_new_tokens), empty, meta (a
    comment on a reply rather than a reply; see quality.is_meta)."""
    if finish == "skipped":
        return "too_long"
    if finish == "length" and not keep_truncated:
        return "truncated"
    if not text.strip():
        return "empty"
    if drop_meta and Q.is_meta(text):
        return "meta"
    return None


def ranked(samples: Sequence[dict[str, Any]], by_score: bool) -> list[int]:
    """The positions of the keepable replies (passing every check, no drop reason), best
    first: by reward-model score (ties in sample order) with `by_score`, else sample order."""
    good = [i for i, x in enumerate(samples) if x["passed"] and x["drop"] is None]
    if by_score:
        good.sort(key=lambda i: -float(samples[i]["score"]))
    return good


def choose_kept(samples: Sequence[dict[str, Any]], order: list[int], keep: int,
                by_score: bool) -> list[int]:
    """Up to `keep` of the ranked replies, none a repeat of one kept before it: the same text
    when ranked by score, (nearly) the same text (Q.NEARLY_SAME) in sample order."""
    kept: list[int] = []
    for i in order:
        if len(kept) == keep:
            break
        text = samples[i]["text"]
        limit = 1.0 if by_score else Q.NEARLY_SAME
        if all(Q.similarity(text, samples[j]["text"]) < limit for j in kept):
            kept.append(i)
    return kept


def choose_pairs(samples: Sequence[dict[str, Any]], order: list[int], limit: int,
                 keep_truncated: bool) -> list[tuple[int, int]]:
    """Up to `limit` (chosen, rejected) positions: a keepable reply (in `order`) over a reply
    that fails a check (its prompt fitted, and it ended properly unless `keep_truncated`),
    never two equal texts; each next pair uses the replies used least so far."""
    failing = [i for i, x in enumerate(samples) if not x["passed"]
               and x["finish"] != "skipped" and (keep_truncated or x["finish"] != "length")]
    todo = [(a, b) for a in order for b in failing
            if samples[a]["text"].strip() != samples[b]["text"].strip()]
    used: dict[int, int] = {}
    pairs: list[tuple[int, int]] = []
    while todo and len(pairs) < limit:
        best = min(todo, key=lambda ab: used.get(ab[0], 0) + used.get(ab[1], 0))
        todo.remove(best)
        pairs.append(best)
        for i in best:
            used[i] = used.get(i, 0) + 1
    return pairs


def judged_sample(text: str, finish: str, tokens: int, results: dict[str, bool | None],
                  drop: str | None) -> dict[str, Any]:
    """One sampled reply as samples.jsonl records it; a reply never written (its prompt did
    not fit the context) passes nothing."""
    return {"text": text, "finish": finish, "tokens": tokens, "checks": results,
            "passed": finish != "skipped" and passes_all(results), "drop": drop, "score": None}


def sft_rows(rows: Sequence[dict[str, Any]], source: str) -> list[dict[str, Any]]:
    """The kept replies as the conversational rows the sft stage reads (the format a
    critique_revision stage writes): the prompt as the dataset wrote it, and the reply."""
    return [{"messages": [{"role": "user", "content": row["prompt"]},
                          {"role": "assistant", "content": row["samples"][i]["text"]}],
             "index": row["index"], "round": 0, "skipped": False, "last": True, "drop": None,
             "source": source, "sample": i}
            for row in rows for i in row["kept"]]


def preference_rows(rows: Sequence[dict[str, Any]], *, source: str, stage: str,
                    plan_hash: str) -> list[dict[str, Any]]:
    """The pairs as preference rows (the format reward_model and dpo read): p_chosen 1, no
    judge, and each reply's check verdicts under `checks`."""
    out = []
    for row in rows:
        for a, b in row["pairs"]:
            chosen, rejected = row["samples"][a], row["samples"][b]
            pref = make_row(
                index=row["index"], prompt_id=row["prompt_id"],
                prompt=[{"role": "user", "content": row["prompt"]}], chosen=chosen["text"],
                rejected=rejected["text"], p_chosen=1.0, p_judge=None, source=source,
                stage=stage, judge=None, judgements=[],
                finish={"chosen": chosen["finish"], "rejected": rejected["finish"]}, drop=None,
                plan_hash=plan_hash)
            failed = [c for c, v in rejected["checks"].items() if v is False]
            out.append({**pref, "samples": [a, b], "failed_checks": failed,
                        "checks": {"chosen": chosen["checks"], "rejected": rejected["checks"]}})
    return out


def summarize(rows: Sequence[dict[str, Any]], checks: CheckSet) -> dict[str, Any]:
    """The stage's figures, from samples.jsonl alone (so a resumed run counts alike): per
    check pass rates over every sample, prompts with a passing (and a keepable) reply, rows
    kept, pairs written, distinct kept replies and why replies could not be kept."""
    for row in rows:
        for x in row["samples"]:
            checks.count(x["checks"], row["prompt_id"])
    samples = [x for row in rows for x in row["samples"]]
    drops = [x["drop"] for x in samples if x["drop"]]
    kept = [row["samples"][i]["text"] for row in rows for i in row["kept"]]
    return {
        "prompts": len(rows), "samples": len(samples),
        "passing_samples": sum(x["passed"] for x in samples),
        "pass_rate": Q.share([x["passed"] for x in samples]),
        "prompts_with_pass": sum(any(x["passed"] for x in row["samples"]) for row in rows),
        "prompts_kept": sum(bool(row["kept"]) for row in rows),
        "sft_rows": len(kept), "distinct_kept": len({" ".join(t.split()) for t in kept}),
        "pairs": sum(len(row["pairs"]) for row in rows),
        "prompts_with_pairs": sum(bool(row["pairs"]) for row in rows),
        "dropped": {why: drops.count(why) for why in DROP_REASONS if why in drops},
        "checks": checks.summary(),
        "quality": Q.text_report([x["text"] for x in samples], [x["finish"] for x in samples],
                                 [x["tokens"] for x in samples]),
    }


def summary_line(stage: str, m: dict[str, Any]) -> str:
    """e.g. `best_of_n: 16 prompts × 8 samples, 30 % passed (refuse_harmful 20 %, ...); 9
    prompts with a passing reply, 9 SFT rows kept (9 distinct), 18 pairs`."""
    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x * 100:.0f} %"

    per_check = ", ".join(f"{cid} {pct(t['pass_rate'])}" for cid, t in m["checks"].items())
    n = m["prompts"]
    per = m["samples"] // n if n else 0
    dropped = ", ".join(f"{k} {why}" for why, k in m["dropped"].items())
    return (f"{stage}: {counted(n, 'prompt')} × {counted(per, 'sample')}, "
            f"{pct(m['pass_rate'])} passed" + (f" ({per_check})" if per_check else "")
            + f"; {counted(m['prompts_with_pass'], 'prompt')} with a passing reply, "
            f"{counted(m['sft_rows'], 'SFT row')} kept ({m['distinct_kept']} distinct), "
            f"{counted(m['pairs'], 'pair')}"
            + (f"; not keepable: {dropped}" if dropped else ""))
