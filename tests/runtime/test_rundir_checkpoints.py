"""A run directory's checkpoints, logs and scratch folders under damage and planted links
(review of issue #17): a ppo checkpoint state or a trainer checkpoint that is not whole, a
metrics log read back with non-numbers, a link where a checkpoint is staged or a model is
published, and the plots evaluate reads from other stages. Each is one error or is passed over,
never a traceback, and nothing outside the run directory is read or written."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from constlang.runtime.hashing import RunDirError
from constlang.runtime.rundir import RunDir

from .helpers import complete_by_hand


@pytest.mark.parametrize("content", ['{"step": [1]}', "[]", "null", '{"step": 1e400}',
                                     '{"step": "3"}', '{"step": -1}', '{"step": true}',
                                     "{not json", "\xff"])
def test_a_damaged_ppo_checkpoint_state_is_one_error(tmp_path: Path, content: str) -> None:
    from constlang.runtime.ppo.state import STATE_FILE, checkpoint_step

    folder = tmp_path / "checkpoint"
    assert checkpoint_step(folder) is None
    folder.mkdir()
    (folder / STATE_FILE).write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(RunDirError, match="not a checkpoint this stage can continue from"):
        checkpoint_step(folder)
    (folder / STATE_FILE).write_text('{"step": 4}')
    assert checkpoint_step(folder) == 4
    (folder / STATE_FILE).unlink()
    (folder / STATE_FILE).symlink_to("/dev/zero")
    with pytest.raises(RunDirError, match="not a checkpoint"):
        checkpoint_step(folder)


def test_a_ppo_checkpoint_that_cannot_be_loaded_is_one_error(tmp_path: Path) -> None:
    from constlang.runtime.ppo.state import load_checkpoint

    class Accelerator:
        def load_state(self, folder: str) -> None:
            raise RuntimeError("Error(s) in loading state_dict:\n  size mismatch")

    with pytest.raises(RunDirError, match=r"\(Error\(s\) in loading state_dict: size "
                       r"mismatch\); remove the folder"):
        load_checkpoint(Accelerator(), tmp_path)


def test_a_link_planted_at_the_ppo_checkpoint_staging_name_is_not_written_through(
        tmp_path: Path) -> None:
    from constlang.runtime.ppo.state import STATE_FILE, save_checkpoint

    outside = tmp_path / "outside"
    outside.mkdir()
    stage_folder = tmp_path / "ppo"
    stage_folder.mkdir()
    (stage_folder / ".checkpoint.saving").symlink_to(outside, target_is_directory=True)

    class Accelerator:
        is_main_process = True

        def wait_for_everyone(self) -> None:
            pass

        def save_state(self, folder: str, safe_serialization: bool) -> None:
            os.makedirs(folder, exist_ok=True)  # as accelerate does
            Path(folder, "model.safetensors").write_bytes(b"weights")

    class State:
        def state_dict(self) -> dict[str, int]:
            return {"step": 2}

    save_checkpoint(Accelerator(), State(), stage_folder / "checkpoint")  # type: ignore[arg-type]
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in (stage_folder / "checkpoint").iterdir()) == [
        "model.safetensors", STATE_FILE]


def test_publish_dir_replaces_a_link_at_its_target_without_following_it(
        tmp_path: Path) -> None:
    from constlang.files import publish_dir, staging_dir

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("x")
    for target in (outside, tmp_path / "absent"):
        final = tmp_path / "run" / "model"
        final.parent.mkdir(exist_ok=True)
        final.unlink(missing_ok=True)
        final.symlink_to(target, target_is_directory=True)
        staging = staging_dir(final)
        (staging / "config.json").write_text("{}")
        publish_dir(staging, final)
        assert not final.is_symlink() and [p.name for p in final.iterdir()] == ["config.json"]
        shutil.rmtree(final)
    assert [p.name for p in outside.iterdir()] == ["keep"]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == []


def test_a_trainer_checkpoint_cut_short_while_saving_is_passed_over(tmp_path: Path) -> None:
    """transformers writes trainer_state.json last: without a whole one the checkpoint is
    incomplete, and the one before it is resumed (rather than a traceback in the trainer)."""
    from constlang.runtime.training import last_checkpoint

    folder = RunDir(tmp_path).stage("sft")
    assert last_checkpoint(folder) is None
    for step, state in ((2, '{"global_step": 2}'), (5, None), (7, '{"global_st'),
                        (9, '{"global_step": "9"}'), (11, "[]")):
        checkpoint = folder.trainer / f"checkpoint-{step}"
        checkpoint.mkdir(parents=True)
        (checkpoint / "model.safetensors").write_bytes(b"weights")
        if state is not None:
            (checkpoint / "trainer_state.json").write_text(state)
    (folder.trainer / "checkpoint-x").mkdir()
    (folder.trainer / "checkpoint-13").write_text("a file, not a folder")
    assert last_checkpoint(folder) == folder.trainer / "checkpoint-2"


@pytest.mark.parametrize("row", [
    {"event": "ppo", "step": 1},
    {"event": "ppo", "step": 1, "reward_mean": "0.5", "kl": 0.1},
    {"event": "ppo", "step": 1.5, "reward_mean": 0.5, "kl": 0.1},
    {"event": "ppo", "step": 1, "reward_mean": [0.5], "kl": 0.1},
    {"event": "ppo", "step": 1, "reward_mean": True, "kl": 0.1},
])
def test_metrics_read_back_from_a_damaged_log_are_one_error(tmp_path: Path,
                                                            row: dict[str, object]) -> None:
    """ppo's summary (read at the end of a resumed run) and grpo's: metrics.jsonl is a log,
    not a recorded output, so its rows are checked where they are read."""
    from constlang.runtime.stages._group import summary as group_summary
    from constlang.runtime.stages.ppo import summary as ppo_summary

    folder = RunDir(tmp_path).stage("ppo")
    folder.path.mkdir()
    folder.metrics.path.write_text(json.dumps(row) + "\n")
    with pytest.raises(RunDirError, match=r"metrics.jsonl: a `ppo` row whose `\w+` is"):
        ppo_summary(folder)
    folder.metrics.path.write_text(json.dumps({"event": "train", "reward": "high"}) + "\n")
    with pytest.raises(RunDirError, match=r"metrics.jsonl: a `train` row whose `reward`"):
        group_summary(folder)


def _plotting_context(run: RunDir) -> object:
    from types import SimpleNamespace

    stages = [SimpleNamespace(name="ppo", kind="ppo"),
              SimpleNamespace(name="feedback", kind="feedback")]
    return SimpleNamespace(plan=SimpleNamespace(stages=stages), run=run)


def test_evaluate_plots_only_completed_stages_and_only_reads_them(tmp_path: Path) -> None:
    """A ppo stage folder that is a link is refused, a feedback stage that failed is not
    plotted: neither is read, and a partial last line outside is not cut."""
    from constlang.runtime.preference_rows import PreferencesDir
    from constlang.runtime.stages.evaluate import figures

    def plotted(ctx: object) -> list[tuple[str, str, list[object]]]:
        return [(stage, figure.prefix, points) for stage, figure, points in figures(ctx)]

    run = RunDir(tmp_path / "runs")
    run.path.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metrics.jsonl").write_text('{"event": "ppo", "step": 1, "rew')
    run.stage("ppo").path.symlink_to(outside, target_is_directory=True)
    failed = run.stage("feedback")
    failed.path.mkdir()
    PreferencesDir.of(failed).preferences.write_text('{"index": 0, "p_chosen": "x"}\n')
    with pytest.raises(RunDirError, match="runs/ppo is a symbolic link"):
        plotted(_plotting_context(run))
    assert (outside / "metrics.jsonl").read_text() == '{"event": "ppo", "step": 1, "rew'
    run.stage("ppo").path.unlink()
    assert plotted(_plotting_context(run)) == []

    done = run.stage("ppo")
    done.path.mkdir()
    complete_by_hand(run, "ppo", "ppo")
    done.metrics.path.write_text(
        '{"event": "ppo", "step": 1, "reward_mean": 0.5, "kl": 0.1}\n{"event": "ppo", "st')
    assert plotted(_plotting_context(run)) == [("ppo", "ppo", [(1, 0.5, 0.1)])]
    assert done.metrics.path.read_text().endswith('"st')  # another stage's file: only read
    done.metrics.path.write_text('{"event": "ppo", "step": 1, "reward_mean": null}\n')
    with pytest.raises(RunDirError, match="ppo/metrics.jsonl: a `ppo` row whose"):
        plotted(_plotting_context(run))


@pytest.mark.parametrize("damage", [
    {"round": "1"}, {"round": 9}, {"round": -1}, {"initial": None}, {"initial": [{}, {}]},
    {"history": [[], []]}, {"history": [[{"round": 1}], [{"round": 1}]]},
    {"responses": [1, 2]}, {"responses": ["only one"]},
])
def test_a_saved_chunk_state_of_the_wrong_shape_is_not_resumed_from(
        tmp_path: Path, damage: dict[str, object]) -> None:
    """partial.json is a cache of the chunk in flight: one that is not what run_chunk wrote
    (for the same prompts) is set aside and the chunk starts again, never a traceback."""
    from constlang.runtime.rundir import StageDir
    from constlang.runtime.stages.critique_revision import CritiqueRevisionDir

    from .test_critique_revision import FakeEngine, make_job

    job, prompts = make_job(tmp_path, n=2)  # one chunk of 2 prompts, 2 rounds
    reference = CritiqueRevisionDir.of(StageDir(tmp_path, "reference"))
    job.run(FakeEngine(), prompts, reference)
    out = CritiqueRevisionDir.of(StageDir(tmp_path, "out"))
    out.path.mkdir()
    state = {"indices": [0, 1], "round": 1,
             "initial": [{"text": "a", "finish": "eos", "tokens": 1}] * 2,
             "history": [[{"round": 1, "critique": "c", "revision": "r", "skipped": False}]] * 2,
             "responses": ["r", "r"]}
    out.partial.write_text(json.dumps({**state, **damage}))
    engine = FakeEngine()
    job.run(engine, prompts, out)
    assert len(engine.calls) == 5  # respond + 2 rounds: from the beginning
    assert out.rows.read_text() == reference.rows.read_text()
