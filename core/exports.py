"""An export's folder read through its typed files (the manifest, the export job's status), and the
list of a workspace's exports, where one that cannot be read is listed with its reason."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core import artifacts, jobs
from core.artifacts import ExportManifest, ExportStatus, UnreadableFile
from core.i18n import Text
from core.workspace import ExportPaths

COMMAND = "inference.export"  # in the command line of an export process
DIED = Text("The export process ended unexpectedly (killed, or out of memory?). Files it finished are kept; "
            "export again to make the rest.",
            "내보내기 프로세스가 예기치 않게 끝났습니다(강제 종료되었거나 메모리가 부족했나요?). 끝난 파일은 "
            "남아 있으니 나머지를 만들려면 다시 내보내세요.")


@dataclass(frozen=True)
class ExportDir:
    path: Path

    @property
    def files(self) -> ExportPaths:
        return ExportPaths(self.path)

    @property
    def name(self) -> str:
        return self.path.name

    def manifest(self) -> ExportManifest | None:
        """None until an export has completed here; UnreadableFile when it cannot be read."""
        return artifacts.read(self.files.manifest, ExportManifest)

    def status(self) -> ExportStatus | None:
        """The export job's progress; None for an export made before jobs had a status (or never)."""
        return jobs.read_status(self.files.status, ExportStatus, DIED, COMMAND, self.files.stop)

    def write_status(self, state: str, **fields) -> ExportStatus:
        return jobs.write_status(self.files.status, ExportStatus, state, **fields)

    def request_stop(self) -> None:
        jobs.request_stop(self.files.stop, self.status, COMMAND)


@dataclass(frozen=True)
class ExportEntry:
    export: ExportDir
    manifest: ExportManifest | None = None
    problem: UnreadableFile | None = None


def list_exports(exports_root: Path) -> list[ExportEntry]:
    """Completed exports, newest first; one whose manifest cannot be read is listed with its problem."""
    if not exports_root.is_dir():
        return []
    entries = []
    for manifest_path in exports_root.glob("*/export.json"):
        export = ExportDir(manifest_path.parent)
        try:
            entries.append(ExportEntry(export, export.manifest()))
        except UnreadableFile as err:
            entries.append(ExportEntry(export, problem=err))
    return sorted(entries, key=lambda entry: entry.manifest.created_at if entry.manifest else 0.0, reverse=True)
