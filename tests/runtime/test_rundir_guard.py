"""A run directory under hostile edits (issue #17, classes 3–5): a completed stage is skipped
only when its files are what it wrote, nothing is read or written through a link planted in a
stage folder, and damaged files give one located error, never a hang or an internal error.

The critique_revision runner is replaced by a fake that writes its two output files, so each
case costs milliseconds; the runner around it (skip, verify, resume, reset) is the real one."""

from __future__ import annotations

import io
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

from constlang.compile import compile_path
from constlang.errors import UserError
from constlang.runtime.hashing import RunDirError
from constlang.runtime.rundir import RunDir, process_in_chunks, recover_jsonl
from constlang.runtime.runner import RunError, run_plan
from constlang.runtime.stages.critique_revision import CritiqueRevisionDir, CritiqueRevisionRunner

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = "precious data outside the run directory\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """minimal.const in a project, with a fake critique_revision that counts its runs."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ROOT / "constitutions" / "minimal.const", folder)
    shutil.copytree(ROOT / "constitutions" / "data", folder / "data")
    (folder / "constlang.toml").write_text("")
    result = compile_path(folder / "minimal.const")
    assert result.plan is not None
    runs: list[int] = []

    def fake_run(self: CritiqueRevisionRunner) -> dict[str, object]:
        runs.append(1)
        out = CritiqueRevisionDir.of(self.ctx.folder)
        out.rows.write_text('{"index": 0, "final": "a revision"}\n')
        out.sft_data.write_text('{"index": 0, "last": true}\n')
        return {"rows": 1}

    monkeypatch.setattr(CritiqueRevisionRunner, "load", lambda self: None)
    monkeypatch.setattr(CritiqueRevisionRunner, "run", fake_run)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(OUTSIDE)
    return {"plan": result.plan, "base": result.base_dir, "runs": runs,
            "run": RunDir(folder / "runs"), "outside": outside}


def train(p: dict[str, object], stages: tuple[str, ...] = ("critique_revision",)) -> str:
    out = io.StringIO()
    run = p["run"]
    assert isinstance(run, RunDir)
    run_plan(p["plan"], base_dir=p["base"], run_dir=run.path,  # type: ignore[arg-type]
             stages=list(stages), device="cpu", console=Console(file=out, width=300))
    return out.getvalue()


def stage(p: dict[str, object]) -> CritiqueRevisionDir:
    run = p["run"]
    assert isinstance(run, RunDir)
    return CritiqueRevisionDir.of(run.stage("critique_revision"))


def untouched(p: dict[str, object]) -> None:
    outside = p["outside"]
    assert isinstance(outside, Path)
    assert sorted(x.name for x in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == OUTSIDE


# ---------------------------------------------------------------- class 4: skipped stages

def test_an_untouched_completed_stage_is_skipped_and_its_files_are_recorded(
        project: dict[str, object]) -> None:
    train(project)
    manifest = stage(project).read_manifest()
    assert manifest is not None and manifest.files is not None
    assert sorted(f.path for f in manifest.files) == ["rows.jsonl", "sft.jsonl"]
    assert "skipped" in train(project)
    assert project["runs"] == [1]


def _delete(folder: CritiqueRevisionDir) -> None:
    folder.rows.unlink()


def _edit_same_size(folder: CritiqueRevisionDir) -> None:
    text = folder.sft_data.read_text()
    folder.sft_data.write_text(text.replace("true", "True"))


def _edit_and_restore_times(folder: CritiqueRevisionDir) -> None:
    st = os.stat(folder.rows)
    folder.rows.write_text(folder.rows.read_text().replace("a revision", "a poisoned"))
    os.utime(folder.rows, ns=(st.st_atime_ns, st.st_mtime_ns))


def _append(folder: CritiqueRevisionDir) -> None:
    with folder.rows.open("a") as fh:
        fh.write('{"index": 1, "final": "planted"}\n')


def _add_file(folder: CritiqueRevisionDir) -> None:
    (folder.path / "extra.jsonl").write_text("{}\n")


def _forge_outputs_hash(folder: CritiqueRevisionDir) -> None:
    manifest = folder.read_manifest()
    assert manifest is not None
    folder.write_manifest(manifest.model_copy(update={"outputs_hash": "sha256:" + "0" * 64}))


def _replace_with_copy(folder: CritiqueRevisionDir) -> None:
    """Same bytes, new inode: not a change (the record is refreshed, nothing reruns)."""
    shutil.copy(folder.rows, folder.path / "copy")
    os.replace(folder.path / "copy", folder.rows)


@pytest.mark.parametrize("edit, what", [
    (_delete, "rows.jsonl was deleted"),
    (_edit_same_size, "sft.jsonl was changed"),
    (_edit_and_restore_times, "rows.jsonl was changed"),
    (_append, "rows.jsonl was changed"),
    (_add_file, "extra.jsonl was added"),
    (_forge_outputs_hash, "no longer match the outputs hash"),
])
def test_a_completed_stage_whose_files_changed_is_run_again_and_says_why(
        project: dict[str, object], edit: Callable[[CritiqueRevisionDir], None], what: str) -> None:
    train(project)
    edit(stage(project))
    out = train(project)
    assert what in out and "running it again" in out, out
    assert project["runs"] == [1, 1]
    assert "skipped" in train(project)  # and the new run is trusted again


def test_files_copied_with_the_same_bytes_are_verified_by_hash_and_the_record_refreshed(
        project: dict[str, object]) -> None:
    train(project)
    _replace_with_copy(stage(project))
    before = stage(project).read_manifest()
    assert "skipped" in train(project)
    after = stage(project).read_manifest()
    assert before is not None and after is not None and before.files != after.files
    assert project["runs"] == [1]


def test_a_manifest_without_file_records_is_verified_once_by_hash(
        project: dict[str, object]) -> None:
    """Run directories written before file records existed keep working."""
    train(project)
    folder = stage(project)
    manifest = folder.read_manifest()
    assert manifest is not None
    folder.write_manifest(manifest.model_copy(update={"files": None}))
    assert "skipped" in train(project)
    refreshed = folder.read_manifest()
    assert refreshed is not None and refreshed.files is not None
    folder.write_manifest(refreshed.model_copy(update={"files": None}))
    _edit_same_size(folder)
    assert "running it again" in train(project)


def test_a_downstream_stage_refuses_upstream_outputs_that_changed(
        project: dict[str, object]) -> None:
    train(project)
    _edit_same_size(stage(project))
    with pytest.raises(RunError, match=r"stage `sft` reads what stage `critique_revision` "
                       r"wrote, but since `critique_revision` completed sft.jsonl was changed"):
        train(project, ("sft",))


# ---------------------------------------------------------------- class 3: links

def _interrupted(project: dict[str, object]) -> CritiqueRevisionDir:
    """A stage left `interrupted` with the same inputs, so the next run resumes it."""
    train(project)
    folder = stage(project)
    manifest = folder.read_manifest()
    assert manifest is not None
    folder.write_manifest(manifest.model_copy(update={"status": "interrupted"}))
    return folder


@pytest.mark.parametrize("name", ["rows.jsonl", "sft.jsonl", "metrics.jsonl", "partial.json",
                                  "model", "checkpoint", "trainer/checkpoint-1"])
def test_a_resumed_stage_reads_and_writes_nothing_through_a_planted_link(
        project: dict[str, object], name: str) -> None:
    folder = _interrupted(project)
    target = folder.path / name
    if target.exists():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    outside = project["outside"]
    assert isinstance(outside, Path)
    target.symlink_to(outside / "secret.txt" if "." in name else outside)
    with pytest.raises(UserError, match="is a symbolic link to .*outside"):
        train(project)
    untouched(project)


@pytest.mark.parametrize("link_to", ["file", "folder", "dangling"])
def test_a_planted_manifest_link_is_neither_followed_nor_overwritten(
        project: dict[str, object], link_to: str) -> None:
    folder = _interrupted(project)
    outside = project["outside"]
    assert isinstance(outside, Path)
    folder.manifest_path.unlink()
    target = {"file": outside / "secret.txt", "folder": outside,
              "dangling": outside / "new.json"}[link_to]
    folder.manifest_path.symlink_to(target)
    with pytest.raises(UserError, match="manifest.json is a symbolic link"):
        train(project)
    untouched(project)


def test_a_stage_folder_that_is_a_link_is_neither_reset_nor_written(
        project: dict[str, object]) -> None:
    run = project["run"]
    outside = project["outside"]
    assert isinstance(run, RunDir) and isinstance(outside, Path)
    run.path.mkdir(parents=True)
    stage(project).path.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UserError, match="critique_revision is a symbolic link"):
        train(project)
    untouched(project)


def test_a_reset_removes_links_inside_the_stage_folder_without_following_them(
        project: dict[str, object]) -> None:
    """Inputs changed: the stage starts over, and a link in its folder goes, not its target."""
    train(project)
    folder = stage(project)
    outside = project["outside"]
    assert isinstance(outside, Path)
    (folder.path / "model").symlink_to(outside, target_is_directory=True)
    manifest = folder.read_manifest()
    assert manifest is not None
    folder.write_manifest(manifest.model_copy(update={"inputs_hash": "sha256:old inputs"}))
    assert "inputs changed" in train(project)
    assert not (folder.path / "model").exists()
    untouched(project)


# ---------------------------------------------------------------- class 5: damaged files

def test_a_manifest_that_is_a_fifo_or_a_device_is_an_error_not_a_hang(
        project: dict[str, object]) -> None:
    folder = _interrupted(project)
    folder.manifest_path.unlink()
    os.mkfifo(folder.manifest_path)
    with pytest.raises(UserError, match="manifest.json is a FIFO"):
        train(project)
    folder.manifest_path.unlink()
    folder.manifest_path.symlink_to("/dev/zero")
    with pytest.raises(UserError, match="manifest.json is a symbolic link"):
        train(project)


@pytest.mark.parametrize("content, what", [
    ("{not json\n", "not a row this run wrote"),
    ('["a list"]\n', "a JSON list, not an object"),
    ("\xff\xfe\n", "not a row this run wrote"),
    ('{"index": "7"}\n', "without a whole-number `index`"),
    ('{"final": "no index"}\n', "without a whole-number `index`"),
    ('{"index": 1.5}\n', "without a whole-number `index`"),
    ("[" * 100_000 + "\n", "not a row this run wrote"),
])
def test_a_damaged_row_file_is_a_located_error(tmp_path: Path, content: str,
                                               what: str) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_bytes(b'{"index": 0}\n' + content.encode("utf-8", "surrogateescape"))

    class Item:
        index = 0

    with pytest.raises(RunDirError, match=rf"rows.jsonl(:2)?: .*{what}"):
        process_in_chunks(path, [Item()], 1, lambda todo: [])


def test_a_partial_last_line_is_cut_and_complete_rows_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text('{"index": 0}\n{"index": 1}\n{"ind')
    assert recover_jsonl(path) == [{"index": 0}, {"index": 1}]
    assert path.read_text() == '{"index": 0}\n{"index": 1}\n'


def test_a_manifest_that_is_not_a_manifest_is_an_error_naming_it(
        project: dict[str, object]) -> None:
    folder = _interrupted(project)
    for text in ("", "{}", "[1, 2]", json.dumps({"stage": 1}), "\x00" * 100):
        folder.manifest_path.write_text(text)
        with pytest.raises(UserError, match="manifest.json: not a manifest"):
            train(project)


@pytest.mark.parametrize("name", ["../escape", "/abs", "a/b", ".", "..", "", "a\x00b", "é"])
def test_a_stage_name_that_is_not_one_plain_folder_name_is_refused(tmp_path: Path,
                                                                    name: str) -> None:
    with pytest.raises(RunDirError, match="cannot name a folder"):
        RunDir(tmp_path).stage(name)


# ---------------------------------------------------------------- property: any damage

DAMAGE = ["delete", "overwrite", "truncate", "append", "add", "link", "fifo", "manifest"]


@settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "250")) // 5, deadline=None,
          derandomize=not os.environ.get("FUZZ_EXPLORE"),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_any_damage_to_a_completed_stage_reruns_it_or_is_one_error(
        project: dict[str, object], data: st.DataObject) -> None:
    """Whatever is done to a completed stage's folder, the next run skips it only if its
    files are as written, else runs it again or stops with one UserError; nothing outside the
    run directory is read or written."""
    folder = stage(project)
    if folder.path.exists():
        shutil.rmtree(folder.path)
    runs = project["runs"]
    assert isinstance(runs, list)
    runs.clear()
    train(project)
    outside = project["outside"]
    assert isinstance(outside, Path)
    names = ["rows.jsonl", "sft.jsonl", "manifest.json", "metrics.jsonl"]
    changed = False
    for _ in range(data.draw(st.integers(1, 3))):
        how = data.draw(st.sampled_from(DAMAGE))
        path = folder.path / data.draw(st.sampled_from(names))
        blob = data.draw(st.binary(max_size=40))
        if path.is_symlink() or (path.exists() and not path.is_file()):
            path.unlink()
        if how == "delete":
            path.unlink(missing_ok=True)
        elif how == "overwrite":
            path.write_bytes(blob)
        elif how == "truncate" and path.exists():
            os.truncate(path, data.draw(st.integers(0, path.stat().st_size)))
        elif how == "append":
            with path.open("ab") as fh:
                fh.write(blob)
        elif how == "add":
            (folder.path / "added").write_bytes(blob)
        elif how == "link":
            path.unlink(missing_ok=True)
            path.symlink_to(outside / "secret.txt")
        elif how == "fifo":
            path.unlink(missing_ok=True)
            os.mkfifo(path)
        elif how == "manifest":
            manifest = json.loads(folder.manifest_path.read_text()) \
                if folder.manifest_path.is_file() else {}
            manifest[data.draw(st.sampled_from(["outputs_hash", "files", "status",
                                                "inputs_hash"]))] = data.draw(
                st.none() | st.text(max_size=8) | st.integers())
            folder.manifest_path.write_text(json.dumps(manifest))
        changed = True
    try:
        out = train(project)
    except UserError as exc:
        assert "\n" not in str(exc)
    else:
        if "skipped" in out:
            manifest = folder.read_manifest()
            assert manifest is not None and manifest.files is not None
            for f in manifest.files:
                assert (folder.path / f.path).read_bytes() is not None
            assert not changed or runs == [1]
    untouched(project)


# ---------------------------------------------------------------- review of issue #17

def test_a_resumed_stage_is_scanned_before_its_runner_reads_anything(
        project: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    """load() and resume_note() (which lists trainer/ for a checkpoint) run only after the
    scan: a link planted in the folder is refused before either looks through it."""
    folder = _interrupted(project)
    outside = project["outside"]
    assert isinstance(outside, Path)
    (folder.path / "trainer").symlink_to(outside, target_is_directory=True)
    calls: list[str] = []
    monkeypatch.setattr(CritiqueRevisionRunner, "load", lambda self: calls.append("load"))
    monkeypatch.setattr(CritiqueRevisionRunner, "resume_note",
                        lambda self: calls.append("resume_note"))
    with pytest.raises(UserError, match="stage `critique_revision`: .*trainer is a symbolic"):
        train(project)
    assert calls == []
    untouched(project)


def test_a_stage_folder_that_is_a_link_is_not_read_for_its_manifest(
        project: dict[str, object]) -> None:
    """Not even the manifest is read through it (--dry-run shows what needs attention)."""
    run = project["run"]
    outside = project["outside"]
    assert isinstance(run, RunDir) and isinstance(outside, Path)
    train(project)
    shutil.move(stage(project).path, outside / "planted")
    stage(project).path.symlink_to(outside / "planted", target_is_directory=True)
    with pytest.raises(RunDirError, match="critique_revision is a symbolic link"):
        stage(project).read_manifest()
    out = io.StringIO()
    run_plan(project["plan"], base_dir=project["base"], run_dir=run.path,  # type: ignore[arg-type]
             stages=["critique_revision"], dry_run=True, console=Console(file=out, width=300))
    assert "needs attention" in out.getvalue() and "last run completed" not in out.getvalue()


def test_a_manifest_without_file_records_is_scanned_before_its_outputs_are_hashed(
        project: dict[str, object]) -> None:
    train(project)
    folder = stage(project)
    manifest = folder.read_manifest()
    assert manifest is not None
    folder.write_manifest(manifest.model_copy(update={"files": None}))
    outside = project["outside"]
    assert isinstance(outside, Path)
    folder.rows.unlink()
    folder.rows.symlink_to(outside / "secret.txt")
    with pytest.raises(UserError, match="rows.jsonl is a symbolic link"):
        train(project)
    untouched(project)
