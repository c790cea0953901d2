"""Check, stage level: references between stages, their order, programs and selections."""

from __future__ import annotations

from constlang import plan as P
from constlang.programs import STEPS
from constlang.semantics.check import Checked, Checker, _extra, fields_of
from constlang.syntax import ast


def check_stage_refs(c: Checker, stages: dict[str, Checked], kinds: dict[str, str]) -> None:
    for name, ch in stages.items():
        kind = kinds.get(name)
        for (k, setting), wanted in P.STAGE_REF_KINDS.items():
            target = ch.values.get(setting)
            if k != kind or target is None or target not in kinds:
                continue
            if kinds[target] not in wanted:
                c.diags.error("E108", f"`{setting}` of stage `{name}` must be a "
                              f"{' or '.join(wanted)} stage, but `{target}` is a "
                              f"{kinds[target]} stage", ch.spans[setting], None)
                ch.ok = False


SELECTIONS_REQUIRED = {"critique_revision": ("principles", "principle"),
                       "feedback": ("questions", "question")}


def check_selections(c: Checker, stages: dict[str, Checked]) -> None:
    """A stage that samples principles or questions needs at least one to sample."""
    for name, ch in stages.items():
        need = SELECTIONS_REQUIRED.get(ch.values.get("kind", ""))
        if need is None:
            continue
        setting, kind = need
        value = ch.values.get(setting, "all")
        chosen = list(c.scope[kind]) if value == "all" else value
        if not chosen:
            c.diags.error("E112", f"stage `{name}` has no {kind}s to sample",
                          ch.spans.get(setting, ch.symbol.node.name_span),
                          f"declare a {kind}, or import some (e.g. import \"std/helpful.const\")")
            ch.ok = False


def stage_deps(ch: Checked, stages: dict[str, Checked]) -> list[str]:
    kind = ch.values.get("kind")
    settings = P.SETTINGS_BY_KIND.get(kind or "")
    if settings is None:
        return []
    deps = []
    for fname, info in fields_of(settings).items():
        if "stage" in _extra(info).get("ref", "").split("|"):
            target = ch.values.get(fname)
            if isinstance(target, str) and target in stages and target not in deps:
                deps.append(target)
    return deps


def stage_order(c: Checker, stages: dict[str, Checked]) -> list[str]:
    """Topological order of stages by their references; ties keep declaration order."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            c.diags.error("E111", "stages depend on each other in a cycle: " + " → ".join(cycle),
                          stages[name].symbol.node.name_span, "break the cycle")
            return
        state[name] = 1
        for dep in stage_deps(stages[name], stages):
            visit(dep, path + [name])
        state[name] = 2
        order.append(name)

    for name in stages:
        visit(name, [])
    return order


def check_programs(c: Checker, stages: dict[str, Checked], questions: dict[str, Checked]) -> None:
    """Each template a stage step renders must only declare variables that step provides."""
    for name, ch in stages.items():
        kind = ch.values.get("kind")
        settings_cls = P.SETTINGS_BY_KIND.get(kind or "")
        if settings_cls is None:
            continue
        allowed = fields_of(settings_cls)
        for step in STEPS.get(kind or "", ()):
            tname = ch.values.get(step.template_setting, allowed[step.template_setting].default)
            sym = c.scope["template"].get(tname)
            if sym is None:
                if step.template_setting not in ch.spans:
                    c.diags.error("E101", f"stage `{name}` needs template `{tname}` for its "
                                  f"{step.name} step, but it was dropped",
                                  ch.symbol.node.name_span,
                                  f"set `{step.template_setting} = <template>`")
                continue
            tpl = sym.node
            assert isinstance(tpl, ast.Template)
            for p in tpl.params:
                if p.name not in step.provides:
                    c.diags.error("E303", f"template `{tpl.name}` declares `{p.name}`, but the "
                                  f"{step.name} step of stage `{name}` does not provide it",
                                  p.span, "that step provides: " + ", ".join(step.provides))
                    ch.ok = False
