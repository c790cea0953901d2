"""Check, stage level: references between stages, their order, programs and selections."""

from __future__ import annotations

from constlang.kinds import BY_NAME
from constlang.semantics.check_declarations import Checked, DeclChecker
from constlang.semantics.fields import field_extra, fields_of
from constlang.syntax import ast


def check_stage_refs(c: DeclChecker, stages: dict[str, Checked], kinds: dict[str, str]) -> None:
    """A setting that names a stage must name one of the kinds its stage kind allows."""
    for name, ch in stages.items():
        record = BY_NAME.get(kinds.get(name, ""))
        if record is None:
            continue
        for setting, wanted in record.stage_refs.items():
            value = ch.values.get(setting)
            for target in value if isinstance(value, list) else [value]:
                if target is None or target not in kinds:
                    continue
                if kinds[target] not in wanted:
                    c.diags.error("E108", f"`{setting}` of stage `{name}` must be a "
                                  f"{' or '.join(wanted)} stage, but `{target}` is a "
                                  f"{kinds[target]} stage", ch.spans[setting], None)
                    ch.ok = False


def check_selections(c: DeclChecker, stages: dict[str, Checked]) -> None:
    """A stage that samples principles or questions needs at least one to sample."""
    for name, ch in stages.items():
        record = BY_NAME.get(ch.values.get("kind", ""))
        if record is None or record.samples is None:
            continue
        setting, kind = record.samples
        value = ch.values.get(setting, "all")
        chosen = list(c.scope[kind]) if value == "all" else value
        if not chosen:
            c.diags.error("E112", f"stage `{name}` has no {kind}s to sample",
                          ch.spans.get(setting, ch.symbol.node.name_span),
                          f"declare a {kind}, or import some (e.g. import \"std/helpful.const\")")
            ch.ok = False


def stage_deps(ch: Checked, stages: dict[str, Checked]) -> list[str]:
    record = BY_NAME.get(ch.values.get("kind") or "")
    if record is None:
        return []
    deps = []
    for fname, info in fields_of(record.settings).items():
        if "stage" in field_extra(info).get("ref", "").split("|"):
            value = ch.values.get(fname)
            for target in value if isinstance(value, list) else [value]:
                if isinstance(target, str) and target in stages and target not in deps:
                    deps.append(target)
    return deps


def stage_order(c: DeclChecker, stages: dict[str, Checked]) -> list[str]:
    """Topological order of stages by their references; ties keep declaration order.

    A depth-first walk with its own stack (a chain of thousands of stages is valid, and must
    not reach Python's recursion limit); a reference back onto the walk's path is a cycle.
    """
    order: list[str] = []
    done: set[str] = set()
    for root in stages:
        if root in done:
            continue
        path = [root]  # the stages being visited, each waiting on the next
        on_path = {root: 0}
        waiting = [iter(stage_deps(stages[root], stages))]
        while waiting:
            dep = next(waiting[-1], None)
            if dep is None:  # every dependency placed: the stage itself goes next
                waiting.pop()
                name = path.pop()
                del on_path[name]
                done.add(name)
                order.append(name)
            elif dep in on_path:
                cycle = path[on_path[dep]:] + [dep]
                if len(cycle) > 12:  # a long one: its ends, and how many stages it has
                    cycle = cycle[:5] + [f"… ({len(cycle) - 1:,} stages) …"] + cycle[-3:]
                c.diags.error("E111", "stages depend on each other in a cycle: " +
                              " → ".join(cycle), stages[dep].symbol.node.name_span,
                              "break the cycle")
            elif dep not in done:
                on_path[dep] = len(path)
                path.append(dep)
                waiting.append(iter(stage_deps(stages[dep], stages)))
    return order


def check_programs(c: DeclChecker, stages: dict[str, Checked],
                   questions: dict[str, Checked]) -> None:
    """Each template a stage step renders must only declare variables that step provides."""
    for name, ch in stages.items():
        record = BY_NAME.get(ch.values.get("kind") or "")
        if record is None:
            continue
        allowed = fields_of(record.settings)
        for step in record.steps:
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
