"""SFT data: a critique_revision stage's rows → training targets (with why a row is not one),
the helpful rows mixed in, and the quality metrics and examples of what the stage wrote."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from constlang.files import atomic_write_text
from constlang.runtime import quality as Q
from constlang.runtime.reply_checks import CHECK_DROP, StageChecks, failed

SHOWN_EXAMPLES = 3  # prompts whose first answer and final revision the run prints


def sft_rows(rows: Sequence[dict[str, Any]], settings: Any,
             helpful: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """One conversational row per round: the prompt and the reply after that round, with
    `drop` saying why it is not a training target (None when it is one; see
    quality.drop_reason). A skipped round repeats the reply before it: it shares the verdict
    of the revision it repeats, or is dropped as `skipped` when nothing was revised yet (the
    unrevised first answer is never a target).

    The sft stage trains on the rows without a `drop`; `last` marks the final round. Each
    helpful answer is one more row (`source: helpful`, round 0), dropped only when cut off
    (unless `keep_truncated`) or skipped for length. A row kept so far that failed one of its
    recorded checks is dropped as `failed_checks` (unless `drop_failing_checks` is false).
    """
    by_checks = getattr(settings, "drop_failing_checks", True)

    def checked(drop: str | None, verdicts: Any) -> str | None:
        return drop or (CHECK_DROP if by_checks and failed(verdicts) else None)

    out = []
    for row in rows:
        before: str = row["initial"]
        score: float | None = row.get("initial_score")
        verdict: str | None = "skipped"
        for r in row["rounds"]:
            if not r["skipped"]:
                now = r.get("revision_score")
                worse = (getattr(settings, "drop_worse", False) and score is not None
                         and now is not None and now < score)
                verdict = Q.drop_reason(
                    r["revision"], before, r.get("revision_finish"), skipped=False,
                    keep_truncated=settings.keep_truncated,
                    drop_unchanged=settings.drop_unchanged, drop_meta=settings.drop_meta,
                    worse=worse)
                score = now
            out.append({"messages": [{"role": "user", "content": row["prompt"]},
                                     {"role": "assistant", "content": r["revision"]}],
                        "index": row["index"], "round": r["round"], "skipped": r["skipped"],
                        "last": r["round"] == len(row["rounds"]),
                        "drop": checked(verdict, r.get("checks")),
                        "source": "revision"})
            before = r["revision"]
    for h in helpful:
        drop = ("too_long" if h["finish"] == "skipped" else
                "truncated" if h["finish"] == "length" and not settings.keep_truncated else None)
        out.append({"messages": [{"role": "user", "content": h["prompt"]},
                                 {"role": "assistant", "content": h["answer"]}],
                    "index": h["index"], "round": 0, "skipped": False, "last": True,
                    "drop": checked(drop, h.get("checks")), "source": "helpful"})
    return out


def write_sft_rows(rows: list[dict[str, Any]], path: Path) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    atomic_write_text(path, text, make_parents=True, follow=False)


def summarize(rows: Sequence[dict[str, Any]], sft: Sequence[dict[str, Any]], *, resumed: int,
              seconds: float, checks: StageChecks | None = None,
              answered: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
    """The stage's metrics: counts, the quality of what it wrote (see quality.py), and with
    checks, each check's figures over every round's reply and every helpful answer
    (`answered`: the helpful rows)."""
    rounds = [r for row in rows for r in row["rounds"]]
    revised = [r for r in rounds if not r["skipped"]]
    critiqued = [r for r in rounds if r.get("critique_finish") != "skipped"]
    befores = [b for row in rows for b in [row["initial"]] + [r["revision"] for r in
                                                                 row["rounds"]][:-1]]
    changes = [Q.similarity(r["revision"], b) for r, b in zip(rounds, befores, strict=True)
               if not r["skipped"]]
    dropped = [r["drop"] for r in sft if r["drop"]]
    helpful = [r for r in sft if r["source"] == "helpful"]
    return {
        "prompts": len(rows), "revisions": len(rounds),
        "skipped_revisions": sum(r["skipped"] for r in rounds),
        "changed_answers": sum(row["final"] != row["initial"] for row in rows),
        "quality": {
            "answers": Q.text_report([r["initial"] for r in rows],
                                     [r.get("initial_finish") for r in rows],
                                     [r.get("initial_tokens") for r in rows]),
            "critiques": Q.text_report([r["critique"] for r in critiqued],
                                       [r.get("critique_finish") for r in critiqued],
                                       [r.get("critique_tokens") for r in critiqued]),
            "revisions": {
                **Q.text_report([r["revision"] for r in revised],
                                [r.get("revision_finish") for r in revised],
                                [r.get("revision_tokens") for r in revised]),
                "unchanged_share": Q.share([c == 1.0 for c in changes]),
                "nearly_unchanged_share": Q.share([c >= Q.NEARLY_SAME for c in changes]),
                "meta_share": Q.share([Q.is_meta(r["revision"]) for r in revised]),
            },
        },
        "judge": judge_report(rows),
        "sft_rows": len(sft) - len(dropped),
        "sft_helpful_rows": sum(r["drop"] is None for r in helpful),
        "sft_dropped": {reason: dropped.count(reason) for reason in sorted(set(dropped))},
        **({"checks": checks.summary(
            [(row["prompt_id"], r.get("checks") or {}) for row in rows for r in row["rounds"]]
            + [(h["prompt_id"], h.get("checks") or {}) for h in answered])} if checks else {}),
        "resumed_rows": resumed, "seconds": round(seconds, 3)}


def quality_line(stage: str, metrics: dict[str, Any]) -> str:
    """e.g. `critique_revision: 16 revisions, 50 % ended with EOS, 6 % (nearly) unchanged, ...`."""
    q = metrics["quality"]["revisions"]

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x * 100:.0f} %"

    dropped = ", ".join(f"{n} {why}" for why, n in metrics["sft_dropped"].items()) or "none"
    judge = metrics.get("judge")
    verdict = (f"; judge score of first answer {judge['mean_first']:.2f} → final "
               f"{judge['mean_final']:.2f} ({pct(judge['improved_share'])} improved, "
               f"{pct(judge['worse_share'])} worse)" if judge else "")
    return (f"{stage}: {q['count']} revisions, {pct(q['eos_share'])} ended with EOS, "
            f"{pct(q['nearly_unchanged_share'])} (nearly) unchanged, {pct(q['meta_share'])} "
            f"about the reply rather than a reply; {metrics['sft_rows']} SFT rows kept "
            f"(dropped: {dropped}){verdict}{checks_clause(metrics)}")


def checks_clause(metrics: dict[str, Any]) -> str:
    """e.g. `; 3 dropped by checks; checks passed: short 4/6, no_url 6/6` (empty without)."""
    figures = metrics.get("checks")
    if not figures:
        return ""
    by_checks = metrics["sft_dropped"].get(CHECK_DROP, 0)
    passed = ", ".join(f"{cid} {f['passed']}/{f['applied']}" for cid, f in figures.items())
    return f"; {by_checks} dropped by checks; checks passed: {passed}"


def judge_report(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Did revising help, by the judge: its mean score of the first answers and of the final
    replies, and the share of prompts whose final reply scores higher / lower than the first."""
    judged = [r for r in rows if r.get("initial_score") is not None]
    if not judged:
        return None
    first = [r["initial_score"] for r in judged]
    final = [r["rounds"][-1]["revision_score"] if r["rounds"] else r["initial_score"]
             for r in judged]
    return {"prompts": len(judged), "mean_first": round(sum(first) / len(first), 4),
            "mean_final": round(sum(final) / len(final), 4),
            "improved_share": Q.share([b > a for a, b in zip(first, final, strict=True)]),
            "worse_share": Q.share([b < a for a, b in zip(first, final, strict=True)])}


def show_changes(console: Console, rows: list[dict[str, Any]]) -> None:
    """Print a few prompts with the first answer and the final revision."""
    def clip(text: str, n: int = 240) -> str:
        text = " ".join(text.split())
        return text if len(text) <= n else text[: n - 1] + "…"

    for row in sorted(rows, key=lambda r: r["index"])[:SHOWN_EXAMPLES]:
        from rich.markup import escape  # rows are the user's and the model's text

        console.print(f"\n[bold]prompt {escape(str(row['prompt_id']))}[/]: "
                      f"{escape(clip(row['prompt']))}", markup=True, highlight=False)
        console.print(f"  [red]before[/]: {escape(clip(row['initial']))}", highlight=False)
        note = "  [dim](unchanged)[/]" if row["final"] == row["initial"] else ""
        console.print(f"  [green]after[/] : {escape(clip(row['final']))}{note}", highlight=False)
