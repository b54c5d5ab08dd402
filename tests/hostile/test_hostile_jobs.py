"""Hostile job situations: concurrent runs, dying workers, dying parents, mixed shards, settings changes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import photo, tree_hash
from typer.testing import CliRunner

from blurkit.cli import app
from blurkit.synth import make_dataset, read_manifest
from blurkit.synth.items import plan_items
from blurkit.synth.job import Job, WorkerDied
from blurkit.synth.lock import LOCK_FILE, JobLock, JobLocked
from blurkit.synth.options import JobOptions
from blurkit.synth.runner import run_job
from blurkit.synth.shards import merge_shards

runner = CliRunner()
SMALL = {"length": (3.0, 6.0)}
POSIX = pytest.mark.skipif(not hasattr(signal, "SIGKILL") or sys.platform == "win32", reason="POSIX signals")


def _make(src, out, **kw):
    kw.setdefault("overrides", SMALL)
    return make_dataset(src, out, progress=False, **kw)


def _cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2]) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# -- B5 / W3: one job per output folder at a time ----------------------------------------------------


def test_b5_second_run_on_a_locked_folder_is_refused(src, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with JobLock(out):
        with pytest.raises(JobLocked, match=f"PID {os.getpid()}"):
            _make(src, out, seed=1)
        r = runner.invoke(app, ["make", "--src", str(src), "--out", str(out), "--seed", "0", "--quiet"])
        assert r.exit_code == 2 and "another blurkit job" in r.output and r.output.count("\n") == 1
    assert not list((out / "meta").glob("*")) if (out / "meta").exists() else True
    res = _make(src, out, seed=1)  # the lock is gone with its holder
    assert res.ok and res.written == 3 and not (out / LOCK_FILE).exists()


def test_b5_sequential_run_with_other_settings_never_replaces_pairs(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out, seed=0)
    before = tree_hash(out)
    with pytest.raises((FileExistsError, ValueError)):
        _make(src, out, seed=1)
    other = tmp_path / "other"
    photo(other / "p9.png", seed=9)  # no pair of this source exists, but the folder holds another job
    with pytest.raises(ValueError, match="other settings"):
        _make(other, out, seed=1)
    assert tree_hash(out) == before


@POSIX
def test_o25_stale_lock_of_a_dead_process_is_taken_over(src, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from blurkit.synth.lock import JobLock;"
         " JobLock(Path(sys.argv[1])).acquire(); print('locked', flush=True); time.sleep(60)", str(out)],
        stdout=subprocess.PIPE, env=_cli_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(JobLocked, match=f"PID {holder.pid}"):
            _make(src, out)
    finally:
        holder.kill()
        holder.wait()
    assert (out / LOCK_FILE).read_text().strip() == str(holder.pid)  # left behind by the dead process
    assert _make(src, out).ok


def test_o26_shards_share_a_folder_but_one_shard_runs_once(src, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    with JobLock(out, (0, 2)):
        res = _make(src, out, shard="1/2")  # another shard may run meanwhile
        assert res.ok
        with pytest.raises(JobLocked):
            _make(src, out, shard="0/2")
        with pytest.raises(JobLocked):
            _make(src, out)  # an unsharded run may not
    assert _make(src, out, shard="0/2").ok
    assert merge_shards(out).ok


# -- B6: merge refuses shards of different settings -------------------------------------------------


def test_b6_merge_refuses_shards_made_with_different_seeds(src, tmp_path):
    a, b, joined = tmp_path / "a", tmp_path / "b", tmp_path / "joined"
    _make(src, a, seed=0, shard="0/2")
    _make(src, b, seed=1, shard="1/2")
    import shutil

    shutil.copytree(a, joined)
    shutil.copytree(b, joined, dirs_exist_ok=True)
    with pytest.raises(ValueError, match="other settings.*seed"):
        merge_shards(joined)
    r = runner.invoke(app, ["merge", str(joined)])
    assert r.exit_code == 2 and r.output.startswith("error:") and "seed" in r.output
    assert not (joined / "manifest.csv").exists()


def test_b6_second_shard_with_another_seed_in_one_folder_is_refused_at_make(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out, seed=0, shard="0/2")
    with pytest.raises(ValueError, match="other settings"):
        _make(src, out, seed=1, shard="1/2")
    assert json.loads((out / "blurkit.json").read_text())["seed"] == 0


# -- B4 / W1 / W2: workers ---------------------------------------------------------------------------


def _die_on_second(item, marker):
    """Stand-in for a pair function: the worker holding the second item is killed (OOM killer)."""
    if item.rel == marker:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.2)
    return {"key": item.key}


@POSIX
def test_b4_a_worker_killed_by_a_signal_stops_the_run_cleanly(src, tmp_path):
    cloudpickle = pytest.importorskip("cloudpickle")

    cloudpickle.register_pickle_by_value(sys.modules[__name__])
    try:
        items = plan_items(src, 0)
        from blurkit.synth.job import bind_item

        with pytest.raises(WorkerDied, match="worker process died.*--resume"):
            run_job(Job(out=tmp_path / "o", items=items, settings={"seed": 0}, fn=bind_item(_die_on_second, "p1.png"),
                        kernel=True), JobOptions(workers=2, progress=False))
    finally:
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])
    assert not list((tmp_path / "o").rglob("*.tmp")) and not (tmp_path / "o" / LOCK_FILE).exists()


def test_b4_worker_death_is_one_cli_line_with_exit_1(src, tmp_path, monkeypatch):
    import blurkit.synth.make as make

    def dies(*a, **k):
        raise WorkerDied("a worker process died (SIGKILL): the run stopped ... run again with --resume")

    monkeypatch.setattr(make, "make_dataset", dies)
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code == 1 and r.output.count("\n") == 1 and "--resume" in r.output and r.exception is not None
    assert isinstance(r.exception, SystemExit)


def test_w2_workers_are_capped_at_the_work_and_the_cores_with_a_note(src, tmp_path):
    notes: list[str] = []
    res = make_dataset(src, tmp_path / "o", overrides=SMALL, workers=64, progress=False, on_note=notes.append)
    assert res.ok and res.written == 3
    assert len(notes) == 1 and "of the 64 asked for" in notes[0] and "3 pair(s)" in notes[0]


@pytest.mark.parametrize("flag,value", [("--workers", str(2**70)), ("--workers", "0"), ("--variants", str(10**9)),
                                        ("--batch", str(10**9)), ("--seed", "-1"), ("--max-pixels", "-1"),
                                        ("--shard", "5/2"), ("--layout", "nope"), ("--format", "gif")])
def test_b8_huge_or_bad_counts_are_refused_before_anything_is_written(src, tmp_path, flag, value):
    out = tmp_path / "o"
    r = runner.invoke(app, ["make", "--src", str(src), "--out", str(out), flag, value, "--quiet"])
    assert r.exit_code == 2 and r.output.startswith("error:"), r.output
    assert not isinstance(r.exception, Exception) or isinstance(r.exception, SystemExit)
    assert not out.exists()


@POSIX
def test_w1_workers_die_with_their_parent(tmp_path):
    src = tmp_path / "many"
    for i in range(40):
        photo(src / f"{i:02d}.png", 160, 200, seed=i)
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "blurkit.cli", "make", "--src", str(src), "--out", str(out), "--workers", "2",
           "--quiet", "--length", "20,40"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_cli_env())
    children_file = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    if not children_file.exists():
        proc.kill()
        pytest.skip("needs /proc/<pid>/task/<pid>/children")
    workers: set[int] = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        kids = {int(p) for p in children_file.read_text().split()} if children_file.exists() else set()
        done = len(list((out / "meta").glob("*.json"))) if (out / "meta").is_dir() else 0
        workers |= kids
        if done >= 1 and len(kids) >= 2:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the run ended before it could be killed")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 15
    alive = set(workers)
    while alive and time.monotonic() < deadline:
        alive = {pid for pid in alive if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)}
        time.sleep(0.2)
    assert not alive, f"workers {sorted(alive)} outlived their parent"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "Z"


@POSIX
def test_o30_sigterm_stops_a_run_with_one_line_and_resume_finishes(tmp_path):
    src = tmp_path / "many"
    for i in range(30):
        photo(src / f"{i:02d}.png", 120, 160, seed=i)
    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "blurkit.cli", "make", "--src", str(src), "--out", str(out), "--quiet",
           "--length", "20,40"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_cli_env())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if (out / "meta").is_dir() and len(list((out / "meta").glob("*.json"))) >= 2:
            proc.send_signal(signal.SIGTERM)
            break
        time.sleep(0.01)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run ended before it could be stopped")
    text = err.decode()
    assert proc.returncode == 130 and "Traceback" not in text and "interrupted" in text, text
    assert not list(out.rglob("*.tmp")) and not (out / LOCK_FILE).exists()
    res = make_dataset(src, out, overrides={"length": (20.0, 40.0)}, resume=True, progress=False)
    assert res.ok and res.skipped + res.written == 30


# -- the layouts keep every guarantee ------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["gopro", "basicsr"])
def test_o31_layouts_resume_and_verify_and_write_the_same_images(src, tmp_path, layout):
    photo(src / "sceneA/x.png", seed=7)
    ref, out = tmp_path / "ref", tmp_path / layout
    _make(src, ref, seed=3)
    _make(src, out, seed=3, layout=layout, limit=2)
    res = _make(src, out, seed=3, layout=layout, resume=True)
    assert res.skipped == 2 and res.written == 2
    from blurkit.synth.inspection import verify_pairs

    assert verify_pairs(out) == []
    a, b = read_manifest(ref).set_index("key"), read_manifest(out).set_index("key")
    for key in a.index:
        assert (ref / a.loc[key, "blur"]).read_bytes() == (out / b.loc[key, "blur"]).read_bytes()
    with pytest.raises(ValueError, match="layout"):
        _make(src, out, seed=3, resume=True)  # another layout is another job


def test_o27_merge_while_a_shard_is_still_running_is_refused(src, tmp_path):
    out = tmp_path / "o"
    _make(src, out, shard="0/2")
    _make(src, out, shard="1/2")
    with JobLock(out, (1, 2)):
        with pytest.raises(JobLocked):
            merge_shards(out)
        r = runner.invoke(app, ["merge", str(out)])
        assert r.exit_code == 2 and "another blurkit job" in r.output
    assert merge_shards(out).ok and not (out / LOCK_FILE).exists()


def test_o28_lock_file_planted_as_a_symlink_to_a_photo_is_not_followed(src, tmp_path):
    out = tmp_path / "o"
    out.mkdir()
    before = tree_hash(src)
    os.symlink(src / "p0.png", out / LOCK_FILE)
    with pytest.raises(ValueError, match="symbolic link"):
        _make(src, out)
    assert tree_hash(src) == before
