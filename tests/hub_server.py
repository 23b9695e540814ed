"""A local stand-in for the Hugging Face Hub's model API, for the download tests (the real Hub is not
reachable here): the calls huggingface_hub's snapshot_download makes (revision info, the file tree,
HEAD and ranged GET of each file), gated repositories that answer 401 "GatedRepo" without the right
token, and an optional slow pace so that a download can be interrupted part-way. Serves on 127.0.0.1
only; point HF_ENDPOINT at `hub.url`."""
from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Hub:
    def __init__(self, repos: dict[str, Path], gated: set[str] = frozenset(), token: str | None = None,
                 bytes_per_second: int | None = None, slow_files: set[str] | None = None):
        """`bytes_per_second` paces every file, or only those named in `slow_files`."""
        self.repos, self.gated, self.token, self.pace = repos, set(gated), token, bytes_per_second
        self.slow_files = slow_files
        self.requests: list[dict] = []  # method, path, range, authorized: what the client asked for
        self._server = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> "Hub":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def files(self, repo: str) -> dict[str, Path]:
        folder = self.repos[repo]
        return {str(path.relative_to(folder)): path for path in sorted(folder.rglob("*")) if path.is_file()}

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_HEAD(self):
                self._answer(body=False)

            def do_GET(self):
                self._answer(body=True)

            def _answer(self, body: bool):
                path = unquote(urlsplit(self.path).path)
                authorized = self.headers.get("Authorization") == f"Bearer {hub.token}" if hub.token else False
                hub.requests.append({"method": self.command, "path": path, "range": self.headers.get("Range"),
                                     "authorized": authorized})
                if match := re.fullmatch(r"/api/models/(.+?)/(revision|tree)/[^/]+", path):
                    repo, kind = match[1], match[2]
                    if self._refused(repo, authorized):
                        return
                    return self._json(hub._info(repo) if kind == "revision" else hub._tree(repo))
                if match := re.fullmatch(r"/(.+?/[^/]+)/resolve/[^/]+/(.+)", path):
                    repo, name = match[1], match[2]
                    if self._refused(repo, authorized):
                        return
                    file = hub.files(repo).get(name)
                    if file is None:
                        return self._error(404, "EntryNotFound", f"{name} is not in {repo}")
                    return self._file(file, body)
                self._error(404, "RepoNotFound", "not found")

            def _refused(self, repo: str, authorized: bool) -> bool:
                if repo not in hub.repos:
                    self._error(404, "RepoNotFound", f"Repository Not Found for url: {repo}")
                    return True
                if repo in hub.gated and not authorized:
                    self._error(401, "GatedRepo", f"Access to model {repo} is restricted. You must have access to it "
                                                  "and be authenticated to access it.")
                    return True
                return False

            def _json(self, payload):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _error(self, status: int, code: str, message: str):
                data = json.dumps({"error": message}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            def _file(self, file: Path, body: bool):
                data = file.read_bytes()
                start = 0
                if ranged := re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or ""):
                    start = int(ranged[1])
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{_sha256(file)}"')
                self.send_header("Content-Length", str(len(data) - start))
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.end_headers()
                if not body:
                    return
                chunk = 64 * 1024
                pace = hub.pace if hub.slow_files is None or file.name in hub.slow_files else None
                for offset in range(start, len(data), chunk):
                    self.wfile.write(data[offset:offset + chunk])
                    if pace:
                        time.sleep(chunk / pace)

        return Handler

    def _info(self, repo: str) -> dict:
        return {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                "gated": "manual" if repo in self.gated else False,
                "siblings": [{"rfilename": name} for name in self.files(repo)]}

    def _tree(self, repo: str) -> list[dict]:
        entries = []
        for name, path in self.files(repo).items():
            entry = {"type": "file", "path": name, "size": path.stat().st_size, "oid": _git_oid(path)}
            if path.suffix == ".safetensors":  # stored with LFS on the Hub
                entry["lfs"] = {"oid": _sha256(path), "size": path.stat().st_size, "pointerSize": 134}
            entries.append(entry)
        return entries


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # a client killed mid-file (the tests do) is no error here
        pass


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _git_oid(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
