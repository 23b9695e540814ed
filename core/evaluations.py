"""An evaluation's folder read through its typed files (the results, the request, the job's status),
and the list of a workspace's evaluations, where one that cannot be read is listed with its reason."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core import artifacts, jobs
from core.artifacts import Evaluation, EvaluationRequest, EvaluationStatus, UnreadableFile
from core.i18n import Text
from core.workspace import EvaluationPaths

COMMAND = "inference.evaluate"  # in the command line of an evaluation process
DIED = Text("The evaluation process ended unexpectedly (killed, or out of memory?). The models it finished "
            "are kept in evaluation.json; evaluate again for the rest.",
            "평가 프로세스가 예기치 않게 끝났습니다(강제 종료되었거나 메모리가 부족했나요?). 끝난 모델의 결과는 "
            "evaluation.json에 남아 있으니 나머지는 다시 평가하세요.")


@dataclass(frozen=True)
class EvaluationDir:
    path: Path

    @property
    def files(self) -> EvaluationPaths:
        return EvaluationPaths(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def results(self) -> Evaluation | None:
        """None until the first model is evaluated; UnreadableFile when it cannot be read."""
        return artifacts.read(self.files.results, Evaluation)

    def request(self) -> EvaluationRequest | None:
        return artifacts.read(self.files.request, EvaluationRequest)

    def status(self) -> EvaluationStatus | None:
        return jobs.read_status(self.files.status, EvaluationStatus, DIED, COMMAND, self.files.stop)

    def write_status(self, state: str, **fields) -> EvaluationStatus:
        return jobs.write_status(self.files.status, EvaluationStatus, state, **fields)

    def request_stop(self) -> None:
        jobs.request_stop(self.files.stop, self.status, COMMAND)


@dataclass(frozen=True)
class EvaluationEntry:
    evaluation: EvaluationDir
    results: Evaluation | None = None
    problem: UnreadableFile | None = None


def list_evaluations(root: Path) -> list[EvaluationEntry]:
    """Evaluations with results or a job, newest first; one that cannot be read is listed with its problem."""
    if not root.is_dir():
        return []
    entries = [entry for folder in root.iterdir() if (entry := evaluation_entry(folder)) is not None]
    return sorted(entries, key=lambda entry: changed(entry.evaluation), reverse=True)


def evaluation_entry(folder: Path) -> EvaluationEntry | None:
    """The evaluation in `folder`, None when there is none (no results, no job)."""
    found = EvaluationDir(folder)
    if not folder.is_dir() or not (found.files.results.exists() or found.files.status.exists()):
        return None
    try:
        return EvaluationEntry(found, found.results())
    except UnreadableFile as err:
        return EvaluationEntry(found, problem=err)


def changed(found: EvaluationDir) -> float:
    stamps = [path.stat().st_mtime for path in (found.files.results, found.files.status) if path.exists()]
    return max(stamps, default=0.0)
