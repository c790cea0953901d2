"""Plan vocabulary: the typed declarations of a constitution, as checker and plan see them."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

from constlang.served import SERVED_FIELDS, plan_model_problem

MAX_SEED = 2**31 - 1  # seeds must fit every RNG the runtime seeds

# A declaration's name, as the grammar's NAME spells it; a stage's name is also its folder in
# the run directory, so a plan file (which no parser read) is held to the same rule.
IDENTIFIER = r"^[A-Za-z_][A-Za-z0-9_]*$"
Identifier = Annotated[str, StringConstraints(pattern=IDENTIFIER)]

# The constitution's name names its run directory (runs/<name>/): one plain path component.
FOLDER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def folder_name_problem(name: str) -> str | None:
    """Why `name` cannot be a folder of its own under runs/ (None when it can)."""
    if FOLDER_NAME.fullmatch(name):
        return None
    if not name:
        return "it is empty"
    if len(name) > 100:
        return f"it is {len(name):,} characters long (at most 100)"
    if "/" in name or "\\" in name:
        return "it holds a path separator"
    if name[0] in "._-":
        return f"it starts with `{name[0]}`"
    return "it holds characters other than letters, digits, `.`, `_` and `-`"


def _folder_name(name: str) -> str:
    problem = folder_name_problem(name)
    if problem:
        raise ValueError(f"the constitution's name {name[:60]!r} cannot name its run "
                         f"directory: {problem}")
    return name


FolderName = Annotated[str, AfterValidator(_folder_name)]


def ref(kind: str, help: str, **kw: Any) -> Any:
    """A field whose value names another declaration of ``kind`` (``a|b`` for either)."""
    return Field(json_schema_extra={"ref": kind}, description=help, **kw)


def refs(kind: str, help: str, **kw: Any) -> Any:
    """A field naming one declaration of ``kind``, or a list of them (``[a, b]``)."""
    return Field(json_schema_extra={"ref": kind, "many": True}, description=help, **kw)


# A `refs` setting that the plan always holds as a list: one name is a list of one.
NameList = Annotated[list[str], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]


def names(value: str | list[str]) -> list[str]:
    """The names a `refs` field holds, as a list."""
    return [value] if isinstance(value, str) else list(value)


def selection(kind: str, help: str) -> Any:
    """A field that selects declarations: ``all`` or a list of names; the plan holds the list."""
    return Field(
        default_factory=lambda: ["all"], json_schema_extra={"ref": kind, "selection": True},
        description=help,
    )


class Strict(BaseModel):
    # the schema is built at first validation, not at import: `check` reads the fields only
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


class SourceLocation(Strict):
    file: str = Field(description="Path of the declaring file, relative to the project root.")
    line: int
    column: int


# ---------------------------------------------------------------- declarations

class ConstitutionInfo(Strict):
    name: FolderName = Field(description="Names the run directory, runs/<name>/: letters, "
                             "digits, `.`, `_` and `-`, starting with a letter or digit.")
    version: str = Field("0.0.0", description="Version of this constitution.")
    description: str = Field("", description="What this constitution is for.")
    authors: list[str] = Field(default_factory=list, description="Who maintains it.")
    license: str = Field("", description="SPDX licence identifier.")


def checks_field(what: str) -> Any:
    """The `checks` field of a principle or question: the checks that stand for it."""
    return Field(default_factory=list, json_schema_extra={"ref": "check", "many": True},
                 description=f"Checks a reply must pass to satisfy this {what}.")


class Check(Strict):
    id: Identifier
    checker: str = Field(description="The checker that decides: refusal, regex, phrases, "
                         "length, json, or an installed checker's name.")
    applies_to: list[str] = Field(
        default_factory=list, description="Prompt tags the check applies to: a reply is "
        "checked when its prompt carries any of them; empty: every reply.")
    weight: float = Field(1.0, ge=0.0, le=1000.0, description="Reward for passing (and "
                          "penalty for failing) where a stage adds check rewards.")
    description: str = Field("", description="What the check stands for, in a sentence.")
    args: dict[str, Any] = Field(default_factory=dict, description="The checker's own "
                                 "arguments (written as fields of the check).")
    location: SourceLocation | None = None


class Principle(Strict):
    id: Identifier
    critique: str = Field(description="The critique request: what to look for in a reply.")
    revision: str = Field(description="The revision request: how to rewrite the reply.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    weight: float = Field(1.0, ge=0.0, le=1000.0, description="Relative sampling weight.")
    checks: list[Identifier] = checks_field("principle")
    location: SourceLocation | None = None


class Question(Strict):
    id: Identifier
    text: str = Field(description="The question the judge answers.")
    kind: Literal["pairwise", "pointwise"] = Field(
        "pairwise", description="pairwise: choose between two replies; pointwise: judge one."
    )
    options: list[str] = Field(
        default_factory=list,
        description="Answer options; default (A)/(B) for pairwise, Yes/No for pointwise.",
    )
    good_answer: str | None = Field(
        None, description="Pointwise only: the option a good reply earns (e.g. No to "
        "'is it harmful?')."
    )
    weight: float = Field(1.0, ge=0.0, le=1000.0, description="Relative sampling weight.")
    tags: list[str] = Field(default_factory=list, description="Free-form labels.")
    checks: list[Identifier] = checks_field("question")
    location: SourceLocation | None = None


class Example(Strict):
    id: Identifier
    prompt: str = Field(description="The user's request.")
    response: str = Field(description="The assistant's first reply.")
    critique_request: str = Field("", description="The critique request the example answers.")
    critique: str = Field("", description="A critique of that reply.")
    revision_request: str = Field("", description="The revision request the example answers.")
    revision: str = Field("", description="The revised reply.")
    worse: str = Field("", description="A worse reply to the same prompt: the example then "
                       "also teaches a judge, which is shown both and answers for `response`.")
    location: SourceLocation | None = None


class Model(Strict):
    id: Identifier
    source: str | None = Field(
        None, description="Hugging Face id, local directory, path to a .gguf file, or "
        "embedded:smollm2-135m-instruct: weights loaded in-process (or set `endpoint`)."
    )
    endpoint: str | None = Field(
        None, description="Base URL of an OpenAI-compatible server that serves the model "
        "(e.g. http://127.0.0.1:8000/v1), instead of `source`: only stages that generate or "
        "score may use it.")
    served_model: str | None = Field(
        None, description="Served models: the model name sent in requests; default: the only "
        "model the server lists.")
    api_key_env: str | None = Field(
        None, description="Served models: the name of the environment variable that holds "
        "the API key (never the key itself); default: no key.")
    timeout: float = Field(120.0, ge=1.0, le=3600.0, description="Served models: seconds "
                           "a request may take.")
    concurrency: int = Field(8, ge=1, le=1024, description="Served models: requests in "
                             "flight at most.")
    retries: int = Field(4, ge=0, le=20, description="Served models: retries of a request "
                         "after a timeout, a 429 or 5xx answer or a lost connection.")
    without_logprobs: Literal["stop", "parse"] = Field(
        "stop", description="Served models: what judging does when the server returns no "
        "log-probabilities: stop with an error, or parse the answer from the generated text "
        "(recorded in the manifest).")
    gguf_file: str | None = Field(None, description="GGUF file name inside a directory source.")
    max_new_tokens: int = Field(128, ge=1, le=32768, description="Tokens generated per call.")
    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Sampling temperature; 0 = greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    repetition_penalty: float = Field(
        1.0, ge=1.0, le=2.0, description="Penalty on repeating tokens; 1 = none."
    )
    context_length: int | None = Field(
        None, ge=16, le=10_000_000, description="Context window in tokens (for length checks)."
    )
    overflow: Literal["truncate_left", "skip"] = Field(
        "truncate_left", description="A prompt too long for the context (with max_new_tokens): "
        "cut its oldest tokens, or skip the row (counted).")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = Field(
        "auto", description="Weights dtype."
    )
    trust_remote_code: bool = Field(False, description="Run code from the model repository.")
    location: SourceLocation | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Model:
        """A plan file's model holds to the checker's rules (served.model_problems)."""
        problem = plan_model_problem(self)
        if problem:
            raise ValueError(problem)
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A local model's entry leaves the served-only settings out: plans (and their hashes)
        of constitutions without served models read as before these settings existed."""
        data: dict[str, Any] = handler(self)
        if self.endpoint is None:
            for key in SERVED_FIELDS:
                data.pop(key, None)
        return data

    @property
    def served(self) -> bool:
        """Whether the model is called over HTTP (an `endpoint`) rather than loaded."""
        return self.endpoint is not None


class Dataset(Strict):
    id: Identifier
    path: str = Field(description="JSONL file, relative to the declaring .const file.")
    field: str = Field("prompt", description="The JSON key that holds the prompt text.")
    limit: int | None = Field(None, ge=1, le=100_000_000, description="Use at most this many rows.")
    tags: list[str] = Field(default_factory=list, description="Tags every prompt of the file "
                            "carries (checks apply by tag); a row's own `tags` list adds more.")
    location: SourceLocation | None = None
