"""Runner, the end of a run: one table row per stage — status, time, headline metrics, and
where its artefacts are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.table import Table
from rich.text import Text

from constlang.runtime.rundir import RunDir


def _pct(x: Any) -> str:
    return f"{x * 100:.0f} %" if isinstance(x, int | float) else "-"


def _num(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if isinstance(x, int | float) else "-"


def _critique(m: dict[str, Any]) -> str:
    revisions = m["quality"]["revisions"]
    return (f"{revisions['count']} revisions, EOS {_pct(revisions.get('eos_share'))}, "
            f"{m.get('sft_rows', '-')} SFT rows kept")


def _training(m: dict[str, Any]) -> str:
    return f"{m.get('steps', '-')} steps, loss {_num(m.get('train_loss'))}"


def _feedback(m: dict[str, Any]) -> str:
    return (f"{m.get('kept_pairs', '-')} of {m.get('pairs', '-')} pairs kept, "
            f"position-consistent {_pct(m.get('position_consistency'))}")


def _pairs(m: dict[str, Any]) -> str:
    return f"{m.get('kept_pairs', '-')} of {m.get('pairs', '-')} pairs kept"


def _reward(m: dict[str, Any]) -> str:
    held = m.get("heldout") or {}
    return (f"{m.get('train_pairs', '-')} pairs, held-out accuracy {_pct(held.get('accuracy'))},"
            f" ECE {_num(held.get('calibration_error'), 2)}")


def _dpo(m: dict[str, Any]) -> str:
    logged = m.get("last_logged") or {}
    return (f"{m.get('train_pairs', '-')} pairs, {m.get('steps', '-')} steps, reward margin "
            f"{_num(logged.get('rewards/margins'))}")


def _rl(m: dict[str, Any]) -> str:
    first, last = m.get("reward_start"), m.get("reward_end")
    if first is None and last is None:
        return _generic(m)
    return f"{m.get('steps', '-')} steps, reward {_num(first)} → {_num(last)}, KL " \
        f"{_num(m.get('kl_end'))}"


def _evaluate(m: dict[str, Any]) -> str:
    return "refuses harmful / benign: " + ", ".join(
        f"{name} {_pct(r.get('harmful_refusal_rate'))} / {_pct(r.get('benign_refusal_rate'))}"
        for name, r in m["models"].items())


def _generic(m: dict[str, Any]) -> str:
    shown = [f"{k} {_num(v)}" for k, v in m.items()
             if isinstance(v, int | float) and not isinstance(v, bool)][:3]
    return ", ".join(shown) or "-"


HEADLINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "critique_revision": _critique, "sft": _training, "feedback": _feedback,
    "revision_pairs": _pairs, "reward_model": _reward, "dpo": _dpo, "ppo": _rl,
    "grpo": _rl, "rloo": _rl, "evaluate": _evaluate,
}


def headline(kind: str, metrics: dict[str, Any]) -> str:
    """The few numbers that say how a stage went (a kind without an entry: its first three)."""
    if not metrics:
        return "-"
    try:
        return HEADLINES.get(kind, _generic)(metrics)
    except (TypeError, ValueError, AttributeError, KeyError):  # an older manifest's shape
        return _generic(metrics)


def summary_table(run: RunDir, outcomes: list[Any]) -> Table:
    """The run's stages as a table: stage (and kind when the name is not it), status,
    seconds, headline, and the stage's folder inside the run directory (the title)."""
    # the run directory and stage names are the user's text: Text objects, never markup
    table = Table(title=Text(f"run {run.path}"), title_justify="left", show_edge=False)
    for column in ("stage", "status", "time", "key metrics", "folder"):
        table.add_column(column, overflow="fold")
    for o in outcomes:
        manifest = run.stage(o.name).read_manifest()
        seconds = (manifest.timings or {}).get("total_s") if manifest else None
        table.add_row(Text(o.name if o.name == o.kind else f"{o.name} ({o.kind})"),
                      o.status.replace("_", " "),
                      f"{seconds:.0f} s" if isinstance(seconds, int | float) else "-",
                      Text(headline(o.kind, o.metrics)), Text(f"{o.name}/"))
    return table
