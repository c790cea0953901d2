"""The typed training plan: the contract between the compiler and the runtime (pydantic v2).

The declarations it holds live in `declarations`; the stage classes are made here from the
registry of stage kinds (`constlang.kinds`), one module a kind with its settings class.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, create_model, field_validator, model_validator

from constlang.declarations import (  # noqa: F401  (re-exported: the plan's vocabulary)
    MAX_SEED,
    Check,
    ConstitutionInfo,
    Dataset,
    Example,
    Identifier,
    Model,
    Principle,
    Question,
    SourceLocation,
    Strict,
    ref,
    selection,
)
from constlang.kinds import KINDS, SETTINGS_BY_KIND, When  # noqa: F401
from constlang.plan_check import problems

FORMAT_VERSION = 1


class StageBase(Strict):
    """One stage of the plan; `settings` is the settings class of its kind."""

    name: Identifier = Field(description="The stage's name; also its folder in the run "
                             "directory.")
    kind: str
    depends_on: list[Identifier] = Field(default_factory=list,
                                         description="Stages that run before.")
    location: SourceLocation | None = None
    settings: Any


def _stage_class(kind: Any) -> type[StageBase]:
    literal: Any = Literal[kind.name]
    cls: type[StageBase] = create_model(
        kind.class_name, __base__=StageBase, __module__=__name__,
        kind=(literal, ...), settings=(kind.settings, ...))
    return cls


STAGE_CLASSES: dict[str, type[StageBase]] = {k.name: _stage_class(k) for k in KINDS}

if TYPE_CHECKING:
    Stage = StageBase
else:
    Stage = Annotated[Union[tuple(STAGE_CLASSES.values())], Field(discriminator="kind")]


# ---------------------------------------------------------------- prompt programs

class TemplateLocation(SourceLocation):
    """Where a step's template is declared, and where its text starts: run-time render errors
    name the .const line that failed (provenance: left out of the hash, like every location)."""

    text_line: int = Field(description="The line of the declaring file holding the first line "
                           "of the template's text.")


class ProgramStep(Strict):
    name: str = Field(description="What the step does: respond, critique, revise, compare, ...")
    template: str = Field(description="Name of the template rendered for the step.")
    source: str = Field(description="The template's Jinja source.")
    variables: list[str] = Field(description="The template's declared parameters.")
    model: str = Field(description="The model the step calls.")
    mode: Literal["generate", "score"] = Field(description="Generate text or score options.")
    repeat: int = Field(1, ge=1, description="How many times the step runs per prompt.")
    when: When = Field(When.ALWAYS, description="Condition under which the step runs.")
    location: TemplateLocation | None = None


class Program(Strict):
    stage: str
    steps: list[ProgramStep]


class SourceFile(Strict):
    path: str = Field(description="Relative to the project root; std/ files as std/NAME.")
    sha256: str


class Plan(Strict):
    format_version: int = FORMAT_VERSION
    constitution: ConstitutionInfo
    sources: list[SourceFile] = Field(default_factory=list)
    principles: list[Principle]
    checks: list[Check] = Field(default_factory=list, description="Rules a program verifies "
                                "on a reply (constlang.checks).")
    questions: list[Question]
    examples: list[Example]
    models: list[Model]
    datasets: list[Dataset]
    stages: list[Stage] = Field(description="In execution order.")
    programs: list[Program]
    hash: str = Field("", description="sha256 of the canonical JSON of everything else except "
                      "provenance (`sources` and `location`).")

    @field_validator("format_version")
    @classmethod
    def _known_format(cls, version: int) -> int:
        if version > FORMAT_VERSION:
            raise ValueError(f"plan format {version} was written by a newer constlang (this "
                             f"one reads format {FORMAT_VERSION}): upgrade constlang")
        if version < FORMAT_VERSION:
            raise ValueError(f"plan format {version} is older than this constlang reads "
                             f"({FORMAT_VERSION}): compile the constitution again")
        return version

    @model_validator(mode="after")
    def _integrity(self) -> Plan:
        found = list(problems(self))
        if found:
            more = (f" (and {len(found) - 1} more problem{'s' if len(found) > 2 else ''})"
                    if len(found) > 1 else "")
            raise ValueError(found[0] + more)
        return self

    # -- helpers the runtime uses ------------------------------------------------
    def stage(self, name: str) -> Any:
        """The stage called `name` (typed Any: its settings class depends on its kind)."""
        for s in self.stages:
            if s.name == name:
                return s
        raise KeyError(name)

    def model(self, name: str) -> Model:
        return next(m for m in self.models if m.id == name)

    def base_model(self, name: str) -> Model | None:
        """The model declaration behind `name`: a model, or the model a stage's weights start
        from (followed through training stages, e.g. ppo → sft → the sft's model); None when
        the chain ends in a stage without one or loops."""
        from constlang.kinds import BY_NAME

        seen: set[str] = set()
        while name not in seen:
            seen.add(name)
            model = next((m for m in self.models if m.id == name), None)
            if model is not None:
                return model
            stage = next((s for s in self.stages if s.name == name), None)
            if stage is None:
                return None
            record = BY_NAME[stage.kind]
            values = stage.settings.model_dump(by_alias=True)  # names as written: `from`
            following = values.get(record.base_model or "")
            if following is None and record.default_model is not None:
                # left out (a plan written by hand): the default the compiler would fill in
                upstream_setting, setting = record.default_model
                upstream = values.get(upstream_setting)
                if isinstance(upstream, list):  # several sources: the first one's
                    upstream = upstream[0] if upstream else None
                before = next((s for s in self.stages if s.name == upstream), None)
                following = getattr(before.settings, setting, None) if before else None
                if following is None and before is not None:
                    following = before.name  # e.g. revision pairs: the model that wrote them
            if not isinstance(following, str):
                return None
            name = following
        return None

    def dataset(self, name: str) -> Dataset:
        return next(d for d in self.datasets if d.id == name)

    def program(self, stage: str) -> Program:
        return next(p for p in self.programs if p.stage == stage)

    def content(self) -> dict[str, Any]:
        """The plan as plain JSON data, without the hash."""
        data = self.model_dump(mode="json", by_alias=True)
        data.pop("hash", None)
        return data

    def compute_hash(self) -> str:
        """sha256 of what the plan does: everything but provenance (`sources`, `location`).

        Reformatting a file, editing comments or moving a file therefore keeps the hash, while
        any change to a principle, question, template, model, dataset or stage changes it.
        """
        data = _without_provenance(self.content())
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def with_hash(self) -> Plan:
        return self.model_copy(update={"hash": self.compute_hash()})

    def to_json(self) -> str:
        data = self.content()
        data["hash"] = self.hash or self.compute_hash()
        return json.dumps(data, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.model_validate_json(text)


def _without_provenance(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_provenance(v) for k, v in value.items()
                if k not in ("location", "sources")}
    if isinstance(value, list):
        return [_without_provenance(v) for v in value]
    return value


def plan_schema() -> dict[str, Any]:
    """JSON Schema of the plan; a check's `args` follow its built-in checker's arguments."""
    from constlang.checks.registry import args_schemas

    schema = Plan.model_json_schema(by_alias=True)
    defs = schema.setdefault("$defs", {})
    rules = []
    for checker, (name, args) in args_schemas().items():
        defs.update(args.pop("$defs", {}))
        defs[name] = args
        rules.append({"if": {"properties": {"checker": {"const": checker}}},
                      "then": {"properties": {"args": {"$ref": f"#/$defs/{name}"}}}})
    defs["Check"]["allOf"] = rules
    return schema
