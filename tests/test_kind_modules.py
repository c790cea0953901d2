"""An in-tree stage kind is two modules and one line in each list: its language module (settings,
cost, record) in constlang/kinds/, its runner module (runner, artifacts, headline, figures) in
constlang/runtime/stages/, and nothing else in the package names it."""

from __future__ import annotations

import ast
import difflib
import importlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from constlang.kinds import BY_NAME, KINDS, StageKind
from constlang.runtime.rundir import Artifact, StageDir
from constlang.runtime.stages import StageRunner, runner_for

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "constlang"
NAMES = [k.name for k in KINDS]
# modules that declare artifacts besides the runner modules: the preference rows feedback and
# revision_pairs both write, which reward_model and dpo read (their data contract)
SHARED_LAYOUTS = {"constlang.runtime.preference_rows"}
# where a kind's name may be a string outside its two modules, and why ("*": any kind; a path
# ending in / is a folder). Records naming the kinds a setting may reference are allowed too.
ELSEWHERE: dict[tuple[str, str], str] = {
    ("constlang/lint/", "*"): "a lint rule checks the settings of the kind it is about (and the "
                              "CL4xx category is named feedback); a new kind needs no rule",
    ("constlang/cli/", "evaluate"): "`constlang eval` runs the constitution's evaluate stage",
    ("constlang/cli/", "feedback"): "`constlang judge-check` renders a feedback stage's templates",
    ("constlang/runtime/ppo/", "ppo"): "ppo's own algorithm package, which its runner drives",
    ("constlang/runtime/stages/_group.py", "reward_model"): "the `reward_source = reward_model` "
                                                            "value grpo and rloo share",
}


def strings(path: Path) -> list[str]:
    """The string constants of a module, its docstrings left out."""
    tree = ast.parse(path.read_text("utf-8"))
    docs = {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docs]


def kind_mentions(root: Path, names: list[str]) -> set[tuple[str, str]]:
    """(module path from the repository root, kind) for every string equal to a kind's name."""
    return {(path.relative_to(root.parent).as_posix(), s)
            for path in sorted(root.rglob("*.py")) for s in strings(path) if s in names}


def allowed(module: str, kind: str, records: tuple[StageKind, ...]) -> str | None:
    """Why `module` may name `kind`, or None."""
    if module in (f"constlang/kinds/{kind}.py", f"constlang/runtime/stages/{kind}.py"):
        return "its own module"
    for r in records:  # a record (or a shared module building it) names the kinds it references
        if any(kind in targets for targets in r.stage_refs.values()) and (
                module == f"constlang/kinds/{r.name}.py" or module.startswith("constlang/kinds/_")):
            return f"`{r.name}` may reference it"
    for (where, who), why in ELSEWHERE.items():
        if who in ("*", kind) and (module == where or where.endswith("/")
                                   and module.startswith(where)):
            return why
    return None


@pytest.mark.parametrize("name", NAMES)
def test_a_kinds_language_module_holds_its_settings_and_its_record(name: str) -> None:
    module = importlib.import_module(f"constlang.kinds.{name}")
    assert module.KIND is BY_NAME[name]
    assert BY_NAME[name].settings.__module__ == module.__name__
    assert module.__doc__ and module.__doc__.startswith(f"Stage kind {name}")


@pytest.mark.parametrize("name", NAMES)
def test_a_kinds_runner_module_words_its_headline(name: str) -> None:
    runner = runner_for(name)
    assert runner is not None and runner.__module__ == f"constlang.runtime.stages.{name}"
    # its own headline, or one its runner's shared base (stages/_group.py) gives it
    assert runner.headline is not StageRunner.headline, f"{name}: no headline of its own"


def layouts() -> list[type[StageDir]]:
    found, todo = [], [StageDir]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo += cls.__subclasses__()
    return [cls for cls in found if cls.__module__.startswith("constlang.")]


def test_artifacts_are_declared_by_the_module_that_writes_them() -> None:
    importlib.import_module("constlang.runtime.runner")  # every runner module is imported
    generic = {k for k, v in vars(StageDir).items() if isinstance(v, Artifact)}
    assert generic == {"model", "trainer"}  # what every training kind writes
    for cls in layouts():
        if cls is StageDir or not any(isinstance(v, Artifact) for v in vars(cls).values()):
            continue
        assert (cls.__module__.startswith("constlang.runtime.stages.")
                or cls.__module__ in SHARED_LAYOUTS), (cls, cls.__module__)


def test_an_artifacts_file_name_is_spelled_once() -> None:
    importlib.import_module("constlang.runtime.runner")
    declared = {v.name: cls.__module__ for cls in layouts() if cls is not StageDir
                for v in vars(cls).values() if isinstance(v, Artifact) and "." in v.name}
    assert {"sft.jsonl", "preferences.jsonl", "report.json"} <= set(declared)
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        for s in strings(path):
            assert declared.get(s, module) == module, f"{module} spells {s!r}, which " \
                f"{declared[s]} declares"


def test_no_module_names_a_kind_outside_its_two_modules() -> None:
    stray = {(m, k) for m, k in kind_mentions(PACKAGE, NAMES) if not allowed(m, k, KINDS)}
    assert not stray, f"kind names spelled outside their modules: {sorted(stray)}"
    mentions = kind_mentions(PACKAGE, NAMES)
    for where, who in ELSEWHERE:  # the list keeps no stale entry
        assert any(m.startswith(where) and who in ("*", k) for m, k in mentions), (where, who)


ECHO_KIND = '''
"""Stage kind echo: its settings, its cost estimate and its record."""

from __future__ import annotations

from pydantic import Field

from constlang.declarations import Strict, ref
from constlang.kinds.record import Cost, CostInputs, StageKind


class EchoSettings(Strict):
    prompts: str = ref("dataset", "Prompts to copy.")
    copies: int = Field(1, ge=1, le=10, description="Copies of each prompt.")


def cost(s: EchoSettings, inputs: CostInputs) -> Cost:
    return Cost(inputs.rows(s.prompts), 0, 0, f"{s.copies} copies a prompt")


KIND = StageKind("echo", EchoSettings, "Copies prompts.", "runtime-echo.md", cost)
'''

ECHO_RUNNER = '''
"""Echo stage: every prompt, copied."""

from __future__ import annotations

import json
from typing import Any

from constlang.runtime.data import read_prompts
from constlang.runtime.rundir import Artifact, StageDir, sha256_file
from constlang.runtime.stages.base import StageRunner


class EchoDir(StageDir):
    copies = Artifact("echo.jsonl", "Every prompt, copied (JSONL).")


class EchoRunner(StageRunner):
    kind = "echo"

    @staticmethod
    def headline(metrics: dict[str, Any]) -> str:
        return f"{metrics['rows']} copies"

    def load(self) -> None:
        s = self.ctx.settings
        self.prompts = read_prompts(self.ctx.plan.dataset(s.prompts), self.ctx.base_dir)

    def run(self) -> dict[str, Any]:
        n = self.ctx.settings.copies
        EchoDir.of(self.ctx.folder).copies.write_text("".join(
            json.dumps({"prompt": r.prompt}) + "\\n" for r in self.prompts for _ in range(n)))
        return {"rows": len(self.prompts) * n}

    def outputs(self) -> str:
        return sha256_file(EchoDir.of(self.ctx.folder).copies)
'''

ECHO_RUN = '''
import json, sys
from pathlib import Path

from rich.console import Console

import constlang
from constlang import plan as P
from constlang.compile import compile_path
from constlang.preview import stage_costs
from constlang.runtime.runner import run_plan
from constlang.runtime.summary import headline

root = Path(sys.argv[1])
assert Path(constlang.__file__).is_relative_to(root), constlang.__file__
result = compile_path(root / "echo.const")
assert result.plan is not None, [d.message for d in result.diagnostics]
done = run_plan(result.plan, base_dir=root, run_dir=root / "runs", device="cpu",
                console=Console(stderr=True))
print(json.dumps({
    "class": P.STAGE_CLASSES["echo"].__name__,
    "notes": [c.note for c in stage_costs(result.plan, root)],
    "stages": [(s.name, s.status, headline(s.kind, s.metrics)) for s in done.stages],
    "schema": "EchoSettings" in json.dumps(P.Plan.model_json_schema())}))
'''


def add_line(path: Path, after: str, line: str) -> None:
    text = path.read_text("utf-8")
    assert text.count(after) == 1, (path, after)
    path.write_text(text.replace(after, after + line), "utf-8")


def test_an_in_tree_kind_is_two_modules_and_one_line_in_each_list(tmp_path: Path) -> None:
    copy = tmp_path / "constlang"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "grammar", tmp_path / "grammar")  # the syntax, beside the package
    (copy / "kinds" / "echo.py").write_text(ECHO_KIND.lstrip(), "utf-8")
    (copy / "runtime" / "stages" / "echo.py").write_text(ECHO_RUNNER.lstrip(), "utf-8")
    add_line(copy / "kinds" / "__init__.py", "    dpo,\n", "    echo,\n")
    add_line(copy / "kinds" / "__init__.py", "    evaluate.KIND,\n", "    echo.KIND,\n")
    stages = copy / "runtime" / "stages" / "__init__.py"
    add_line(stages, "import DPORunner\n", "from constlang.runtime.stages.echo import EchoRunner\n")
    add_line(stages, "    EvaluateRunner,\n", "    EchoRunner,\n")

    changed = {p.relative_to(copy).as_posix() for p in copy.rglob("*.py")
               if not (PACKAGE / p.relative_to(copy)).is_file()
               or (PACKAGE / p.relative_to(copy)).read_bytes() != p.read_bytes()}
    assert changed == {"kinds/echo.py", "runtime/stages/echo.py", "kinds/__init__.py",
                       "runtime/stages/__init__.py"}
    for listing in ("kinds/__init__.py", "runtime/stages/__init__.py"):
        diff = list(difflib.unified_diff((PACKAGE / listing).read_text().splitlines(),
                                         (copy / listing).read_text().splitlines(), n=0))
        assert [d[0] for d in diff[2:] if d[0] in "+-"] == ["+", "+"], diff  # import + entry
    names = [*NAMES, "echo"]
    assert {m for m, k in kind_mentions(copy, names) if k == "echo"} == {
        "constlang/kinds/echo.py", "constlang/runtime/stages/echo.py"}

    (tmp_path / "p.jsonl").write_text('{"prompt": "a"}\n{"prompt": "b"}\n')
    (tmp_path / "echo.const").write_text(textwrap.dedent("""\
        constlang 1
        constitution "echo" {}
        dataset d { path = "p.jsonl" }
        stage echo { prompts = d  copies = 3 }
        """))
    (tmp_path / "run.py").write_text(ECHO_RUN)
    out = subprocess.run([sys.executable, str(tmp_path / "run.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[-1])
    assert found == {"class": "EchoStage", "notes": ["3 copies a prompt"],
                     "stages": [["echo", "completed", "6 copies"]], "schema": True}
    written = (tmp_path / "runs" / "echo" / "echo.jsonl").read_text().splitlines()
    assert [json.loads(line)["prompt"] for line in written] == ["a"] * 3 + ["b"] * 3
