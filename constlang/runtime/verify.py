"""Runner, verification: a completed stage is skipped, and its outputs read by later stages,
only while its folder holds what it wrote (checked against its manifest's file records)."""

from __future__ import annotations

from constlang.runtime.hashing import changed_outputs, record_outputs, scan
from constlang.runtime.processes import is_main
from constlang.runtime.rundir import Manifest
from constlang.runtime.stages import StageContext, runner_for


def verify_completed(ctx: StageContext, name: str, done: Manifest) -> str | None:
    """What changed in a completed stage's folder since its manifest was written, in words
    (None: nothing). A stage is skipped, and its outputs are read, only when nothing did.

    Files whose identity (inode, size, times) is the recorded one keep their recorded hash,
    so the check costs a scan, not a rehash; the stage's outputs hash is then recomputed from
    the files and compared, so a manifest edited to match other files is caught too. When the
    files were copied or moved with the same bytes (or the manifest predates file records),
    the record is refreshed.
    """
    if done.status != "completed":
        return None
    folder = ctx.run.stage(name)
    if done.files is not None:
        problem, stale = changed_outputs(folder.path, done.files)
        if problem:
            return problem
    else:  # a manifest from before file records: hashed below, after the same scan
        scan(folder.path)
        stale = True
    stage = ctx.plan.stage(name)
    runner = runner_for(stage.kind)
    if runner is None:
        return None
    try:
        actual = runner(StageContext(ctx.plan, stage, ctx.base_dir, ctx.run, ctx.console,
                                     ctx.device)).outputs()
    except OSError:
        return "its outputs cannot be read"
    if actual != done.outputs_hash:
        return "its files no longer match the outputs hash in its manifest.json"
    if stale and is_main():
        folder.write_manifest(done.model_copy(update={"files": record_outputs(folder.path)}))
    return None
