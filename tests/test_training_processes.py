"""One training across two processes (`--processes 2`: torchrun, DDP over gloo on this CPU machine),
through the real command on the demo model, against the same training in one process."""
from __future__ import annotations

import json
import signal
import time

import psutil

from core.runs import RunDir
from tests.test_training import run_training, start_training, step_of, train_command, wait_for, write_config


def losses(run: RunDir, key: str) -> dict[int, float]:
    return {row.step: getattr(row, key) for row in run.metrics() if getattr(row, key) is not None}


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    return [process for process in processes
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE]


def test_two_processes_train_as_one_with_the_same_batch(workspace, demo_model_dir, sample_dataset, tmp_path):
    # auto batch size keeps batch × accumulation (8) over all processes: 8 × 1 alone, 4 × 1 in each of two
    config = write_config(tmp_path)
    one, two = RunDir(tmp_path / "one"), RunDir(tmp_path / "two")
    for run, processes in ((one, "1"), (two, "2")):
        result = run_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "8",
                                            "--processes", processes))
        assert result.returncode == 0, result.stderr[-3000:]
        assert run.status().state == "completed" and run.status().step == 8
    log = two.files.log.read_text()
    assert "torchrun --standalone --nproc_per_node 2" in log and "batch 4 × accumulation 1 × 2 processes" in log
    assert log.count("step 8/8 loss") == 1  # only the first process reports
    alone, together = losses(one, "loss"), losses(two, "loss")
    assert list(together) == [2, 4, 6, 8] == list(alone)
    # the same rows in every optimizer step, the loss over all of their tokens: equal up to float sums
    for step in alone:
        assert abs(together[step] - alone[step]) <= 1e-4 * alone[step], (step, alone[step], together[step])
    # validation is split between the processes, padded to equal shares: within 1 %
    for step, value in losses(one, "eval_loss").items():
        assert abs(losses(two, "eval_loss")[step] - value) <= 0.01 * value
    assert all(row.tokens_per_s > 0 for row in two.metrics() if row.loss is not None)
    assert (two.files.adapter / "adapter_model.safetensors").is_file()
    assert json.loads(two.files.config.read_text())["processes"] == 2


def test_stop_ends_both_processes_at_one_step_and_resume_restarts_both(workspace, demo_model_dir, sample_dataset,
                                                                        tmp_path):
    run = RunDir(tmp_path / "run")
    config = write_config(tmp_path)
    leader = start_training(train_command(workspace, sample_dataset, run.path, config, "--max-steps", "400",
                                          "--processes", "2"))
    try:
        wait_for(lambda: step_of(run) >= 3, what="step 3")
        launched = descendants(leader.pid)  # torchrun and its two training processes
        assert sorted(process.environ().get("RANK", "torchrun") for process in launched) == ["0", "1", "torchrun"]
        run.request_stop()  # the Train tab's Stop: the stop file and SIGTERM to the leader
        assert leader.wait(timeout=300) == 0
    finally:
        leader.kill()
    assert not still_running(launched)
    status = run.status()
    assert status.state == "stopped"
    checkpoint = run.last_checkpoint()
    assert checkpoint.name == f"checkpoint-{status.step}"
    state = json.loads((checkpoint / "trainer_state.json").read_text())
    assert state["global_step"] == status.step
    assert sorted(path.name for path in checkpoint.glob("rng_state_*.pth")) == ["rng_state_0.pth", "rng_state_1.pth"]

    resumed = run_training(train_command(workspace, sample_dataset, run.path, config, "--resume",
                                         "--max-steps", str(status.step + 4)))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = run.status()
    assert after.state == "completed" and after.step == status.step + 4 and after.resumed_from == checkpoint.name
    assert run.files.log.read_text().count("torchrun --standalone --nproc_per_node 2") == 2  # started, resumed
    steps = [row.step for row in run.metrics() if row.loss is not None]
    assert steps == sorted(set(steps)) and status.step < steps[-1] <= status.step + 4  # logged every 2 steps


def test_a_killed_process_fails_the_run_and_leaves_no_process_behind(workspace, demo_model_dir, sample_dataset,
                                                                    tmp_path):
    run = RunDir(tmp_path / "run")
    leader = start_training(train_command(workspace, sample_dataset, run.path, write_config(tmp_path),
                                          "--max-steps", "400", "--processes", "2"))
    try:
        wait_for(lambda: run.last_checkpoint() is not None, what="a checkpoint")
        everything = descendants(leader.pid)
        second = [process for process in everything if process.environ().get("RANK") == "1"]
        assert len(second) == 1
        second[0].send_signal(signal.SIGKILL)
        assert leader.wait(timeout=120) == 1
    finally:
        leader.kill()
    deadline = time.monotonic() + 30
    while still_running(everything) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not still_running(everything), [process.cmdline() for process in still_running(everything)]
    status = run.status()
    assert status.state == "failed"
    assert "Training process 2 of 2 was killed (SIGKILL)" in status.error
    assert "2개 중 2번이 강제로 끝났고(SIGKILL)" in status.error_ko
    assert run.last_checkpoint() is not None  # what was saved is kept for Resume


def test_a_killed_leader_takes_its_processes_with_it(workspace, demo_model_dir, sample_dataset, tmp_path):
    run = RunDir(tmp_path / "run")
    leader = start_training(train_command(workspace, sample_dataset, run.path, write_config(tmp_path),
                                          "--max-steps", "400", "--processes", "2"))
    try:
        wait_for(lambda: step_of(run) >= 3, what="step 3")
        launched = descendants(leader.pid)
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=60)
        deadline = time.monotonic() + 60
        while still_running(launched) and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        leader.kill()
    assert len(launched) == 3 and not still_running(launched)
    assert run.status().state == "failed" and "ended unexpectedly" in run.status().error


TORCHRUN_SUMMARY = """torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
tuning.train FAILED
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-03_21:29:27
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : 1 (pid: 12196)
  error_file: <N/A>
============================================================
"""


def test_a_process_other_than_the_first_fails_the_run_with_its_own_error(tmp_path, monkeypatch):
    from core.errors import UserError
    from tuning import distributed
    from tuning.process import _after_torchrun, fail

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_status("running", pid=1)
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    monkeypatch.setenv("RANK", "1")
    second = distributed.ReadOnlyRun(run.path)
    fail(second, UserError("The GPU ran out of memory.", ko="GPU 메모리가 부족합니다."), checkpoint_every_layer=True)
    monkeypatch.delenv("TORCHELASTIC_RUN_ID")
    assert run.status().state == "running"  # the second process never writes the run's status
    assert _after_torchrun(run, 2, 1, TORCHRUN_SUMMARY) == 1
    status = run.status()
    assert status.state == "failed" and status.checkpoint_every_layer  # so the retry checkpoints every layer
    assert status.error == "Training process 2 failed: The GPU ran out of memory."
    assert status.error_ko == "2번 학습 프로세스가 실패했습니다: GPU 메모리가 부족합니다."


def test_chosen_gpus_are_numbered_as_the_app_sees_them(monkeypatch):
    from tuning.distributed import visible_gpus

    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus([1, 3]) == "1,3"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    assert visible_gpus([1, 3]) == "5,7"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_gpus([0]) == ""  # no GPU given stays no GPU
