"""Runner, overrides: `--set STAGE.KEY=VALUE` applied to a plan, each value validated."""

from __future__ import annotations

from typing import Any

from constlang import plan as P
from constlang.errors import UsageError, suggest_then_list
from constlang.kinds import BY_NAME


class OverrideError(UsageError):
    """A `--set` or `--stages` value names an unknown stage or setting, or has a bad value
    (a usage error: exit status 2)."""


def apply_overrides(plan: P.Plan, overrides: dict[str, dict[str, Any]]) -> P.Plan:
    """The plan with stage settings replaced, each value validated by the settings model."""
    if not overrides:
        return plan
    stages = {s.name: s for s in plan.stages}
    programs = {p.stage: p for p in plan.programs}
    for name, changes in overrides.items():
        if name not in stages:
            raise OverrideError(suggest_then_list(f"--set: no stage `{name}`", name,
                                                  list(stages), "stages"))
        stage = stages[name]
        model = BY_NAME[stage.kind].settings
        fields = {info.alias or key: info for key, info in model.model_fields.items()}
        refs = {k for k, info in fields.items()
                if isinstance(info.json_schema_extra, dict) and "ref" in info.json_schema_extra}
        for key in changes:
            if key in refs:
                raise OverrideError(f"--set: `{name}.{key}` names another declaration; "
                                    "change it in the constitution")
            if key not in fields:
                valid = [k for k in fields if k not in refs]
                raise OverrideError(suggest_then_list(
                    f"--set: stage `{name}` ({stage.kind}) has no setting `{key}`", key, valid,
                    "settings"))
        data = {**stage.settings.model_dump(by_alias=True), **changes}
        try:
            settings = model.model_validate(data)
        except ValueError as exc:
            errors: list[Any] = getattr(exc, "errors", lambda: [])()
            first = errors[0] if errors else {"loc": (), "msg": str(exc)}
            where = ".".join(str(x) for x in first["loc"])
            info = fields.get(str(first["loc"][0])) if first["loc"] else None
            message = first["msg"]
            if info is not None and str(first.get("type", "")).startswith(("greater", "less")):
                from constlang.semantics.fields import range_words

                message = f"must be {range_words(info)}, got {data[where]}"
            raise OverrideError(f"--set: `{name}.{where}`: {message}") from None
        stages[name] = stage.model_copy(update={"settings": settings})
        if name in programs:
            repeats = {spec.name: getattr(settings, spec.repeat_setting)
                       for spec in BY_NAME[stage.kind].steps if spec.repeat_setting}
            steps = [st.model_copy(update={"repeat": repeats.get(st.name, st.repeat)})
                     for st in programs[name].steps]
            programs[name] = programs[name].model_copy(update={"steps": steps})
    return plan.model_copy(update={
        "stages": [stages[s.name] for s in plan.stages],
        "programs": [programs[p.stage] for p in plan.programs],
    }).with_hash()
