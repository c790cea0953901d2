"""CLI, plan input: `train` and `eval` take a compiled plan (plan.json) as well as a .const."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from constlang.errors import UserError

if TYPE_CHECKING:  # the plan's classes are built only when a plan file is read, not by `check`
    from constlang import plan as P

PLAN_LIMIT = 64 * 1024 * 1024  # bytes; a compiled plan of 50,000 principles is far below


@dataclass
class LoadedPlan:
    """A plan to run and the folder its relative paths (datasets, local models) start from."""

    plan: P.Plan
    base_dir: Path


def is_plan_file(path: str) -> bool:
    return path.endswith(".json")


def load_plan_file(path: str, allow_outside_root: bool = False) -> LoadedPlan:
    """A plan written by `constlang compile -o plan.json` (or by hand), validated.

    Its relative paths start from the project root above it (the nearest folder with
    constlang.toml, pyproject.toml or .git), as they did when it was compiled. A plan whose
    recorded hash does not match its content was edited after compiling: refused, since runs
    and model cards name the hash. A plan with no hash gets one. A plan is untrusted input:
    its names, references and format version are checked (`constlang.plan_check`), and its
    datasets must lie inside the project root, as a constitution's must (E205), unless
    `allow_outside_root`.
    """
    from pydantic import ValidationError

    from constlang import plan as P
    from constlang.files import FileTooLarge, read_bounded
    from constlang.semantics.paths import find_root

    p = Path(path)
    try:
        raw = read_bounded(p, PLAN_LIMIT)
    except FileTooLarge:
        raise UserError(f"{path}: larger than {PLAN_LIMIT // 2**20} MiB; not a plan") from None
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        plan = P.Plan.from_json(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text, so not a plan") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ()))
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise UserError(f"{path}: not a valid plan: {where + ': ' if where else ''}{message}"
                        f"{more}; write one with `constlang compile FILE.const -o plan.json`"
                        ) from None
    actual = plan.compute_hash()
    if plan.hash and plan.hash != actual:
        raise UserError(f"{path}: its hash {plan.hash} does not match its content ({actual}): "
                        "it was edited after compiling; compile the constitution again, or "
                        "remove the `hash` field to run it as written")
    root = find_root(p)
    if not allow_outside_root:
        for dataset in plan.datasets:
            outside_root(path, dataset, root)
    return LoadedPlan(plan.model_copy(update={"hash": actual}), root)


def outside_root(path: str, dataset: P.Dataset, root: Path) -> None:
    """A UserError when the dataset's file resolves outside the project root (after `..` and
    symbolic links), as E205 says for a constitution."""
    try:
        target = (root / Path(dataset.path)).resolve()
        target.relative_to(root.resolve())
    except ValueError:
        raise UserError(f"{path}: dataset `{dataset.id}` reads `{dataset.path[:200]}`, outside "
                        f"the project root `{root}` (E205); move the file into the project, or "
                        "pass --allow-outside-root if you trust the plan") from None
    except (OSError, RuntimeError) as exc:
        raise UserError(f"{path}: dataset `{dataset.id}`: cannot resolve "
                        f"`{dataset.path[:200]}`: {getattr(exc, 'strerror', None) or exc}"
                        ) from None
