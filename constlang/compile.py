"""Lower: checked declarations → the typed Plan with its prompt programs and content hash."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from constlang.declarations import names as decl_names
from constlang.errors import Diagnostic, Diagnostics, Severity
from constlang.gc_pause import gc_paused
from constlang.kinds import BY_NAME
from constlang.semantics.check import CheckResult, check_world
from constlang.semantics.check_declarations import DEFAULT_OPTIONS, Checked
from constlang.semantics.check_stages import stage_deps
from constlang.semantics.fields import fields_of
from constlang.semantics.resolve import Symbol, World, file_hash, resolve
from constlang.semantics.templates import file_line
from constlang.source import SourceText
from constlang.span import Span
from constlang.syntax import ast

if TYPE_CHECKING:  # the plan's classes are built only when a file is lowered (not by `check`)
    from constlang import plan as P


@dataclass
class CompileResult:
    plan: P.Plan | None
    diagnostics: list[Diagnostic]
    world: World | None = None
    checked: CheckResult | None = None
    sources: dict[str, SourceText] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the plan (datasets, local models) start from."""
        return self.world.root if self.world else Path.cwd()

    @property
    def ok(self) -> bool:
        return not any(d.severity is Severity.ERROR for d in self.diagnostics)


def compile_path(path: str | Path, *, allow_outside_root: bool = False,
                 text: str | None = None, root: Path | None = None,
                 lower: bool = True, overlay: Mapping[Path, str] | None = None
                 ) -> CompileResult:
    """Parse, resolve, check and (unless `lower` is false) lower one constitution; never
    raises for bad input. `check` does not lower: lowering finds no problem the checker has
    not reported, and building the plan's classes is most of a small file's cost.
    `overlay` maps resolved paths to text read instead of those files (unsaved buffers)."""
    with gc_paused():  # the trees are acyclic; collections would rescan them (see gc_pause)
        return _compile(Path(path), allow_outside_root, text, root, lower, overlay)


def _compile(entry: Path, allow_outside_root: bool, text: str | None, root: Path | None,
             lower: bool, overlay: Mapping[Path, str] | None = None) -> CompileResult:
    diags = Diagnostics()
    world = resolve(entry, diags, allow_outside_root=allow_outside_root, text=text, root=root,
                    overlay=overlay)
    sources = {name: m.source for name, m in world.modules.items()}
    if world.entry is None:
        return CompileResult(None, diags.sorted(), world, None, sources)
    checked = check_world(world, diags)
    plan = None
    if lower and not diags.has_errors:
        plan = _lower(world, checked, diags)
    return CompileResult(plan if not diags.has_errors else None, diags.sorted(), world, checked,
                         sources)


class _Lowering:
    def __init__(self, world: World, checked: CheckResult):
        self.world = world
        self.checked = checked
        self.rel = {name: m.rel for name, m in world.modules.items()}

    def location(self, span: Span) -> P.SourceLocation:
        from constlang import plan as P

        return P.SourceLocation(file=self.rel.get(span.file, span.file), line=span.line,
                                column=span.column)

    def values(self, kind: str) -> list[tuple[str, Checked]]:
        return list(self.checked.decls.get(kind, {}).items())

    def names(self, kind: str) -> list[str]:
        return [n for n, _ in self.values(kind)]

    def local_path(self, sym: Symbol, raw: str) -> str:
        """A path written relative to its declaring file, made relative to the project root."""
        if raw.startswith(("/", "~")) or "://" in raw:
            return raw
        mod = self.world.modules.get(sym.module)
        if mod is None or mod.path is None:
            return raw
        target = (mod.path.parent / raw).resolve()
        try:
            return target.relative_to(self.world.root).as_posix()
        except ValueError:
            import os

            return Path(os.path.relpath(target, self.world.root)).as_posix()

    def decls(self, kind: str, cls: Any) -> list[Any]:
        out = []
        for name, ch in self.values(kind):
            data = dict(ch.values)
            node = ch.symbol.node
            if kind == "question":
                qkind = data.get("kind", "pairwise")
                data["options"] = data.get("options") or list(DEFAULT_OPTIONS[qkind])
            if "checks" in data:  # one name or a list: the plan holds a list
                data["checks"] = decl_names(data["checks"])
            if "tags" in data:  # a set: a repeated tag means nothing, so the plan has it once
                data["tags"] = list(dict.fromkeys(data["tags"]))
            if kind == "check":  # the plan spells out every argument, defaults included
                from constlang.checks.registry import checker_args

                data["args"] = checker_args(data["checker"], data["args"])
            if kind == "dataset":
                data["path"] = self.local_path(ch.symbol, data["path"])
            if kind == "model" and data.get("source") is not None:
                src = data["source"]
                if src.startswith(("./", "../")) or src.endswith(".gguf"):
                    data["source"] = self.local_path(ch.symbol, src)
            out.append(cls(id=name, location=self.location(node.name_span), **data))
        return out

    def selection(self, value: Any, kind: str) -> list[str]:
        return self.names(kind) if value == "all" else list(value)

    def stage(self, name: str, ch: Checked) -> Any:
        from constlang import plan as P

        kind = ch.values["kind"]
        record = BY_NAME[kind]
        data = {k: v for k, v in ch.values.items() if k != "kind"}
        settings_fields = fields_of(record.settings)
        for fname, info in settings_fields.items():
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            if extra.get("selection"):
                factory = cast(Any, info.default_factory)
                value = data.get(fname, factory() if factory else [])
                value = "all" if value == ["all"] else value
                data[fname] = self.selection(value, str(extra["ref"]))
        stages = self.checked.decls["stage"]
        if record.default_model is not None and data.get("model") is None:
            upstream, setting = record.default_model
            first = data[upstream] if isinstance(data[upstream], str) else data[upstream][0]
            data["model"] = stages[first].values.get(setting)
        settings = record.settings.model_validate(data)
        return P.STAGE_CLASSES[kind](
            name=name, kind=kind, settings=settings, depends_on=stage_deps(ch, stages),
            location=self.location(ch.symbol.node.name_span))

    def program(self, stage: Any, questions: dict[str, P.Question]) -> P.Program | None:
        from constlang import plan as P

        steps = BY_NAME[stage.kind].steps
        if not steps:
            return None
        s = stage.settings
        asked = {questions[q].kind for q in getattr(s, "questions", [])}
        out = []
        for spec in steps:
            if not spec.when.in_program(s, asked):
                continue
            tname = getattr(s, spec.template_setting)
            tpl = self.world.scope["template"][tname].node
            assert isinstance(tpl, ast.Template)
            repeat = getattr(s, spec.repeat_setting) if spec.repeat_setting else 1
            out.append(P.ProgramStep(
                name=spec.name, template=tname, source=tpl.body.value,
                variables=[p.name for p in tpl.params], model=getattr(s, spec.model_setting),
                mode=spec.mode, repeat=repeat, when=spec.when,
                location=P.TemplateLocation(**self.location(tpl.name_span).model_dump(),
                                            text_line=file_line(tpl.body, 1))))
        return P.Program(stage=stage.name, steps=out)


def _lower(world: World, checked: CheckResult, diags: Diagnostics) -> P.Plan | None:
    from constlang import plan as P

    low = _Lowering(world, checked)
    try:
        info = dict(checked.constitution)
        if "name" not in info:
            assert world.entry is not None
            info["name"] = Path(world.entry.source.path).stem
        questions = low.decls("question", P.Question)
        by_id = {q.id: q for q in questions}
        stages = [low.stage(n, checked.decls["stage"][n]) for n in checked.stage_order]
        programs = [p for s in stages if (p := low.program(s, by_id)) is not None]
        sources = sorted((P.SourceFile(path=m.rel, sha256=file_hash(m.source))
                          for m in world.modules.values()), key=lambda s: s.path)
        plan = P.Plan(
            constitution=P.ConstitutionInfo(**info), sources=sources,
            principles=low.decls("principle", P.Principle), questions=questions,
            checks=low.decls("check", P.Check),
            examples=low.decls("example", P.Example), models=low.decls("model", P.Model),
            datasets=low.decls("dataset", P.Dataset), stages=stages, programs=programs,
        )
    except ValidationError as exc:  # the checker should have caught it: say so plainly
        first = exc.errors()[0]
        diags.error("E900", "internal error while building the plan: "
                    f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}", None,
                    "please report this with the input file")
        return None
    return plan.with_hash()


def compile_text(text: str, path: str = "inline.const", root: Path | None = None) -> CompileResult:
    """Compile source held in memory (tests, editors); imports resolve against `root`."""
    return compile_path(Path(path), text=text, root=root or Path.cwd())
