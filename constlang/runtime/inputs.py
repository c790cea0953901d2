"""Runner, inputs hash: everything a stage reads, hashed, so a stage with the same inputs is
skipped and one whose inputs changed starts over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from constlang import plan as P
from constlang.kinds import BY_NAME
from constlang.runtime.data import dataset_path
from constlang.runtime.rundir import sha256_file, sha256_json
from constlang.runtime.sampling import select
from constlang.served import TRANSPORT_FIELDS


def model_fingerprint(model: P.Model, base_dir: Path) -> dict[str, Any]:
    """The model's declaration, plus file names, sizes and times when it is a local path.

    A served model's endpoint, name and sampling settings count; how requests are sent
    (timeout, concurrency, retries, the key's variable) does not change the answers, so
    changing it reruns nothing."""
    data = model.model_dump(mode="json", exclude={"location", *TRANSPORT_FIELDS})
    if model.source is None:
        return data
    path = Path(model.source) if Path(model.source).is_absolute() else base_dir / model.source
    if not model.source.startswith("embedded:") and path.exists():
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        data["files"] = [(str(p.relative_to(path)) if p != path else p.name,
                          p.stat().st_size, p.stat().st_mtime_ns) for p in files]
    return data


def dataset_fingerprint(ds: P.Dataset, base_dir: Path) -> dict[str, Any]:
    """The dataset's declaration and the hash of its file (None when it is missing)."""
    path = dataset_path(ds, base_dir)
    return {**ds.model_dump(mode="json", exclude={"location"}),
            "sha256": sha256_file(path) if path.is_file() else None}


def _checks(plan: P.Plan, ids: list[str]) -> list[dict[str, Any]]:
    """The named checks' definitions (checker and arguments), each once, in plan order."""
    return [c.model_dump(mode="json", exclude={"location"}) for c in plan.checks if c.id in ids]


def inputs_hash(plan: P.Plan, stage: Any, base_dir: Path, upstream: dict[str, str],
                extra: dict[str, Any] | None = None) -> str:
    """Hash of everything the stage reads: settings, program, what each reference names, and
    what its runner adds (`extra`).

    `upstream` maps stage names to the outputs hash of their completed manifests.
    """
    s = stage.settings
    refs: dict[str, Any] = {}
    for key, info in type(s).model_fields.items():
        schema = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        value = getattr(s, key)
        kinds = str(schema.get("ref", "")).split("|")
        if not schema.get("ref") or value is None:
            continue
        if schema.get("selection"):
            pools: dict[str, list[Any]] = {"principle": plan.principles,
                                           "example": plan.examples, "question": plan.questions,
                                           "check": plan.checks}
            pool = pools[kinds[0]]
            chosen = select(pool, value)
            refs[key] = [d.model_dump(mode="json", exclude={"location"}) for d in chosen]
            declared = [c for d in chosen for c in getattr(d, "checks", [])]
            if declared:  # a principle's or question's checks: their definitions, not names
                refs[f"{key}.checks"] = _checks(plan, declared)
        elif "check" in kinds:
            refs[key] = _checks(plan, value)
        elif "stage" in kinds and isinstance(value, list):
            refs[key] = [{"stage": v, "outputs": upstream.get(v)} for v in value]
        elif "stage" in kinds and value in upstream:
            refs[key] = {"stage": value, "outputs": upstream[value]}
        elif "model" in kinds and any(m.id == value for m in plan.models):
            refs[key] = model_fingerprint(plan.model(value), base_dir)
        elif "dataset" in kinds and isinstance(value, list):
            refs[key] = [dataset_fingerprint(plan.dataset(v), base_dir) for v in value]
        elif "dataset" in kinds:
            refs[key] = dataset_fingerprint(plan.dataset(value), base_dir)
    default = BY_NAME[stage.kind].default_model
    if default is not None and getattr(s, "model", "") is None:  # a plan written by hand
        base = plan.base_model(stage.name)
        if base is not None:
            refs["model"] = model_fingerprint(base, base_dir)
    refs.update(extra or {})
    program = next((p for p in plan.programs if p.stage == stage.name), None)
    return sha256_json({"kind": stage.kind, "settings": s.model_dump(mode="json", by_alias=True),
                        "program": program.model_dump(mode="json") if program else None,
                        "refs": refs})
