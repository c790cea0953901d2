"""Evaluate stage, the report: the figures built from replies and verdicts; report.md, the table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from constlang.runtime.evaluation.check_rates import check_reports
from constlang.runtime.evaluation.figures import (
    AXES,
    Axis,
    Interval,
    JudgeFigures,
    ModelFigures,
    Report,
    SetFigures,
    SetName,
    WinRate,
)
from constlang.runtime.evaluation.intervals import cannot_tell_apart, wilson
from constlang.runtime.evaluation.refusals import refusal_counts
from constlang.runtime.evaluation.winrates import accuracy_summary, win_rate

if TYPE_CHECKING:
    from constlang import plan as P
    from constlang.runtime.evaluation.job import Evaluation

Judged = Mapping[str, Sequence[Mapping[str, Any]]]  # set → each prompt's judgement row


def build_report(plan: P.Plan, job: Evaluation, names: Sequence[str],
                 replies: Sequence[Mapping[str, Any]], judged: Mapping[str, Judged],
                 rewards: Mapping[str, Mapping[str, float | None]],
                 check: Mapping[str, Any] | None, source: str) -> Report:
    """The report of one evaluation, without plots: every model's figures (`names`, the
    baseline first) from the replies, the judgements (model → set → rows) and the reward
    means (model → set), and the judge's from its check's report (`source`: where it is from)."""
    s = job.settings
    datasets = {"harmful": s.harmful, "benign": s.benign}
    return Report(
        constitution=plan.constitution.name, stage=job.stage.name, plan_hash=plan.hash,
        baseline=names[0],
        decoding=(f"greedy, at most {s.max_new_tokens} new tokens" if s.temperature == 0
                  else f"temperature {s.temperature}, at most {s.max_new_tokens} new tokens, "
                  f"seed {s.seed}"),
        sets={name: (len(job.sets[name]), f"dataset `{datasets[name]}`")
              for name in AXES if name in job.sets},
        models={name: model_figures([r for r in replies if r["model"] == name],
                                    judged.get(name, {}), rewards.get(name, {}),
                                    baseline=name == names[0]) for name in names},
        judge=judge_figures(job, check, source), plots=[],
        checks=check_reports(plan.checks, job.checks, names, replies))


def judge_figures(job: Evaluation, check: Mapping[str, Any] | None,
                  source: str) -> JudgeFigures:
    """The judge's figures: its check's accuracy on each axis's questions."""
    asked: dict[Axis, list[str]] = {"harmlessness": [q.id for q in job.harmless_questions],
                                    "helpfulness": [q.id for q in job.helpful_questions]}
    return JudgeFigures(model=job.settings.judge, source=source,
                        pairs=check.get("pairs") if check else None,
                        axes={axis: accuracy_summary(check, ids) for axis, ids in asked.items()},
                        questions=asked)


def set_figures(rows: Sequence[Mapping[str, Any]], reward: float | None) -> SetFigures:
    """One model's figures on one prompt set, from its replies (at least one), each rate with
    its 95 % Wilson interval over the replies."""
    c = refusal_counts(r["verdict"] for r in rows)
    eos = sum(r["finish"] == "eos" for r in rows)
    return SetFigures(**c.model_dump(), eos_rate=eos / len(rows),
                      mean_tokens=sum(int(r["tokens"]) for r in rows) / len(rows),
                      reward_mean=reward, refusal_rate_ci=wilson(c.refusal + c.redirect, c.n),
                      redirect_rate_ci=wilson(c.redirect, c.n),
                      bare_refusal_rate_ci=wilson(c.refusal, c.n), eos_rate_ci=wilson(eos, c.n))


def model_figures(replies: Sequence[Mapping[str, Any]], judged: Judged,
                  rewards: Mapping[str, float | None], baseline: bool) -> ModelFigures:
    """One model's figures: refusals per set, a win rate per axis (the baseline's own is None),
    and the reward model's mean score per set (None without a reward stage)."""
    def rows(name: SetName) -> list[Mapping[str, Any]]:
        return [r for r in replies if r["set"] == name]

    def wins(name: SetName) -> WinRate | None:
        return None if baseline else win_rate([j["p_better"] for j in judged.get(name, [])])

    benign = rows("benign")  # every model answers every prompt; harmful ones always exist
    return ModelFigures(baseline=baseline,
                        harmful=set_figures(rows("harmful"), rewards.get("harmful")),
                        harmlessness=wins("harmful"),
                        benign=set_figures(benign, rewards.get("benign")) if benign else None,
                        helpfulness=wins("benign") if benign else None)


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f} %"


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.3f}"


SAME = "≈"  # the baseline's figure lies inside the model's 95 % interval
SAME_NOTE = (f"{SAME}: the baseline's figure (its rate; 0.5 for a win rate) lies inside this "
             "model's 95 % interval, so these prompts cannot tell the two apart. Intervals: "
             "Wilson, 95 %, over the n prompts; a win rate counts each prompt once (one pair, "
             "judged in both orders and averaged), a tie as half a win.")


def _rate(x: float | None, ci: Interval | None, against: float | None = None) -> str:
    """A rate with its 95 % interval, "12 % (3–31 %)", marked when `against` (the baseline's
    figure) lies inside the interval; the rate alone without an interval (older reports)."""
    if x is None or ci is None:
        return _pct(x)
    mark = f" {SAME}" if cannot_tell_apart(ci, against) else ""
    return f"{_pct(x)} ({100 * ci[0]:.0f}–{_pct(ci[1])}){mark}"


def _refusal_cells(m: ModelFigures, base: ModelFigures | None) -> list[str]:
    """The harmful and benign refusal cells, marked against the baseline's rates."""
    def against(s: SetName) -> float | None:
        b = base.of_set(s) if base is not None and base is not m else None
        return b.refusal_rate if b is not None else None

    harm, ben = m.harmful, m.benign
    return [f"{_rate(harm.refusal_rate, harm.refusal_rate_ci, against('harmful'))}; "
            f"redirects {_rate(harm.redirect_rate, harm.redirect_rate_ci)}",
            "–" if ben is None else _rate(ben.refusal_rate, ben.refusal_rate_ci,
                                          against("benign"))]


def table_rows(report: Report) -> list[list[str]]:
    """The summary table: header, then one row per model; every rate with its 95 % interval,
    marked ≈ where it cannot be told apart from the baseline's."""
    n = {name: f" (n={count})" for name, (count, _) in report.sets.items()}
    head = ["model", f"harmful{n.get('harmful', '')}: refuses; of which redirects",
            f"benign{n.get('benign', '')}: refuses", "harmlessness win rate",
            "helpfulness win rate", "reward (harmful / benign)"]
    rows = [head]
    base = report.models.get(report.baseline)
    for name, m in report.models.items():
        wins = ["baseline" if m.baseline else
                "–" if (w := m.win(axis)) is None else
                f"{_rate(w.win_rate, w.win_rate_ci, 0.5)}, n={w.n}"
                for axis in ("harmlessness", "helpfulness")]
        reward = " / ".join("–" if s is None else _num(s.reward_mean)
                            for s in (m.harmful, m.benign))
        rows.append([name, *_refusal_cells(m, base), *wins, reward])
    return rows


def checks_rows(report: Report) -> list[list[str]]:
    """The checks table: header, then one row per check, a column per model; each pass rate
    with its n and 95 % interval, marked ≈ where it cannot be told apart from the baseline's.
    Empty without checks."""
    if not report.checks:
        return []
    rows = [["check", "applies to", *report.models]]
    for cid, c in report.checks.items():
        base = c.rate(report.baseline)
        cells = [f"{_rate(f.pass_rate, f.pass_rate_ci, None if name == report.baseline else base)}"
                 f", n={f.applied}" for name, f in c.models.items()]
        rows.append([f"{cid} ({c.checker})", ", ".join(c.applies_to) or "every reply", *cells])
    return rows


CHECKS_NOTE = ("Pass rate: the share of the replies a check applies to (n: replies to prompts "
               "carrying one of its tags; every row of `harmful` carries the tag `harmful`, "
               "every row of `benign` the tag `benign`) that pass it.")


def checks_text(report: Report) -> str:
    """The checks table as plain text for the console; empty without checks."""
    rows = checks_rows(report)
    return text_table(rows) if rows else ""


def judge_line(judge: JudgeFigures) -> str:
    """How far to trust the win rates: the judge check's accuracy, or that there was none."""
    if judge.source == "nothing to compare":
        return "No win rates: only one model was evaluated, so the judge was not asked."
    if not any(a.checked for a in judge.axes.values()):
        return (f"Judge `{judge.model}`: judge not checked (declare `judge_check` with "
                "labelled pairs to measure it); read the win rates with care.")
    parts = []
    for axis, a in judge.axes.items():
        if a.checked:
            parts.append(f"{axis} questions {_pct(a.accuracy)} right on average (lowest "
                         f"{_pct(a.min_accuracy)}; same slot in both orders "
                         f"{_pct(a.position_bias)})")
        else:
            parts.append(f"{axis} questions not checked")
    return (f"Judge `{judge.model}` on {judge.pairs} labelled pairs "
            f"({judge.source}): " + "; ".join(parts) + ".")


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


def samples_markdown(report: Report, replies: Sequence[Mapping[str, Any]], count: int) -> str:
    """The first `count` prompts of each set, every model's reply side by side."""
    by_key = {(r["model"], r["set"], r["index"]): r for r in replies}
    out: list[str] = []
    for set_name in AXES:
        indices = sorted({r["index"] for r in replies if r["set"] == set_name})[:count]
        for i in indices:
            first = next(r for r in replies if r["set"] == set_name and r["index"] == i)
            out += [f"### {set_name} · {first['prompt_id']}", "", f"> {_cell(first['prompt'])}",
                    "", "| model | verdict | reply |", "|---|---|---|"]
            for name in report.models:
                r = by_key.get((name, set_name, i))
                if r is not None:
                    out.append(f"| {name} | {r['verdict']} | {_cell(r['reply']) or '(empty)'} |")
            out.append("")
    return "\n".join(out)


def markdown(report: Report, replies: Sequence[Mapping[str, Any]], count: int) -> str:
    """report.md: the table, the judge's reliability, the checks' pass rates, the plots and
    sample replies."""
    sets = ", ".join(f"{name} {n} prompts ({src})" for name, (n, src) in report.sets.items())
    lines = [f"# Evaluation: {report.constitution} · stage `{report.stage}`", "",
             f"Baseline `{report.baseline}`; {sets}. Replies: {report.decoding}.", "",
             markdown_table(table_rows(report)), "",
             "Refuses: the share of replies that decline (the refusal detector, "
             "docs/runtime-evaluate.md), redirects counted in it; win rate: the judge prefers "
             "the model's reply to the baseline's (ties count half), both orders averaged.", "",
             SAME_NOTE, "",
             judge_line(report.judge), ""]
    if report.checks:
        lines += ["## Checks", "", markdown_table(checks_rows(report)), "", CHECKS_NOTE, ""]
    if report.plots:
        lines += ["## Plots", ""] + [f"![{p}]({p})" for p in report.plots] + [""]
    if count:
        lines += ["## Sample replies", "", samples_markdown(report, replies, count)]
    return "\n".join(lines).rstrip() + "\n"
