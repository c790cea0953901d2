"""Evaluation report: per-model figures from replies and verdicts, as JSON, Markdown and a table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from constlang.runtime.evaluation.refusals import refusal_counts
from constlang.runtime.evaluation.winrates import win_rate

AXES = {"harmful": "harmlessness", "benign": "helpfulness"}  # the win rate each set measures


def model_figures(replies: Sequence[dict[str, Any]], judged: dict[str, list[dict[str, Any]]],
                  rewards: dict[str, float | None], baseline: bool) -> dict[str, Any]:
    """One model's figures: refusals per set, a win rate per axis (the baseline's own is None),
    and the reward model's mean score per set (None without a reward stage)."""
    out: dict[str, Any] = {"baseline": baseline}
    for set_name, axis in AXES.items():
        rows = [r for r in replies if r["set"] == set_name]
        if not rows:
            continue
        out[set_name] = {**refusal_counts(r["verdict"] for r in rows),
                         "eos_rate": sum(r["finish"] == "eos" for r in rows) / len(rows),
                         "mean_tokens": sum(int(r["tokens"]) for r in rows) / len(rows),
                         "reward_mean": rewards.get(set_name)}
        out[axis] = None if baseline else win_rate([j["p_better"] for j in
                                                    judged.get(set_name, [])])
    return out


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    """The summary table: header, then one row per model."""
    head = ["model", "harmful: refuses (of which redirects)", "benign: refuses",
            "harmlessness win rate", "helpfulness win rate", "reward (harmful / benign)"]
    rows = [head]
    for name, m in report["models"].items():
        harm, ben = m.get("harmful"), m.get("benign")
        refuse = "–" if harm is None else (f"{_pct(harm['refusal_rate'])} "
                                           f"({_pct(harm['redirect_rate'])})")
        wins = ["baseline" if m["baseline"] else
                ("–" if m.get(axis) is None else f"{_pct(m[axis]['win_rate'])} "
                 f"(n={m[axis]['n']})") for axis in ("harmlessness", "helpfulness")]
        reward = " / ".join(_num(s.get("reward_mean")) if s else "–" for s in (harm, ben))
        rows.append([name, refuse, "–" if ben is None else _pct(ben["refusal_rate"]), *wins,
                     reward])
    return rows


def judge_line(judge: dict[str, Any]) -> str:
    """How far to trust the win rates: the judge check's accuracy, or that there was none."""
    if judge["source"] == "nothing to compare":
        return "No win rates: only one model was evaluated, so the judge was not asked."
    if not any(a["checked"] for a in judge["axes"].values()):
        return (f"Judge `{judge['model']}`: judge not checked (declare `judge_check` with "
                "labelled pairs to measure it); read the win rates with care.")
    parts = []
    for axis, a in judge["axes"].items():
        if a["checked"]:
            parts.append(f"{axis} questions {_pct(a['accuracy'])} right on average (lowest "
                         f"{_pct(a['min_accuracy'])}; same slot in both orders "
                         f"{_pct(a['position_bias'])})")
        else:
            parts.append(f"{axis} questions not checked")
    return (f"Judge `{judge['model']}` on {judge.get('pairs')} labelled pairs "
            f"({judge['source']}): " + "; ".join(parts) + ".")


def markdown_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(out)


def text_table(rows: list[list[str]]) -> str:
    """The table as aligned plain text (the CLI's output)."""
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(text: str, limit: int = 400) -> str:
    """A reply as one Markdown table cell: one line, pipes escaped, cut at `limit`."""
    one = " ".join(text.split()).replace("|", "\\|")
    return one if len(one) <= limit else one[:limit - 1] + "…"


def samples_markdown(report: dict[str, Any], replies: Sequence[dict[str, Any]],
                     count: int) -> str:
    """The first `count` prompts of each set, every model's reply side by side."""
    by_key = {(r["model"], r["set"], r["index"]): r for r in replies}
    out: list[str] = []
    for set_name in AXES:
        indices = sorted({r["index"] for r in replies if r["set"] == set_name})[:count]
        for i in indices:
            first = next(r for r in replies if r["set"] == set_name and r["index"] == i)
            out += [f"### {set_name} · {first['prompt_id']}", "", f"> {_cell(first['prompt'])}",
                    "", "| model | verdict | reply |", "|---|---|---|"]
            for name in report["models"]:
                r = by_key.get((name, set_name, i))
                if r is not None:
                    out.append(f"| {name} | {r['verdict']} | {_cell(r['reply']) or '(empty)'} |")
            out.append("")
    return "\n".join(out)


def markdown(report: dict[str, Any], replies: Sequence[dict[str, Any]], count: int) -> str:
    """report.md: the table, the judge's reliability, the plots and sample replies."""
    sets = ", ".join(f"{name} {n} prompts ({src})" for name, (n, src) in report["sets"].items())
    lines = [f"# Evaluation: {report['constitution']} · stage `{report['stage']}`", "",
             f"Baseline `{report['baseline']}`; {sets}. Replies: {report['decoding']}.", "",
             markdown_table(table_rows(report)), "",
             "Refuses: the share of replies that decline (the refusal detector, "
             "docs/runtime-evaluate.md), redirects counted in it; win rate: the judge prefers "
             "the model's reply to the baseline's (ties count half), both orders averaged.", "",
             judge_line(report["judge"]), ""]
    if report["plots"]:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in report["plots"]] + [""]
    if count:
        lines += ["## Sample replies", "", samples_markdown(report, replies, count)]
    return "\n".join(lines).rstrip() + "\n"
