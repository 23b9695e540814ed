"""Builds and runs the project's Dockerfile on this machine with no container registry: rootful podman
from Debian's packages, and a Debian base image made with mmdebstrap from the machine's own apt
mirror, passed to the build as `--build-arg BASE=…`. The quirks of these machines: cgroups in hybrid
mode (runc with cgroupfs, not crun), no CAP_SYS_RESOURCE (capped rlimits), HTTPS through a proxy
whose certificate authority the host trusts (copied into the base)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

BASE_IMAGE = "localhost/debian-base"
PACKAGES = ["podman", "runc", "conmon", "catatonit", "containernetworking-plugins", "mmdebstrap"]
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def podman_env(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    (work / "containers.conf").write_text(
        '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n'
        '[engine]\nruntime = "runc"\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n')
    (work / "storage.conf").write_text(
        f'[storage]\ndriver = "overlay"\ngraphroot = "{work}/storage"\nrunroot = "{work}/run"\n')
    return {**os.environ, "CONTAINERS_CONF": str(work / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(work / "storage.conf"), "DEBIAN_FRONTEND": "noninteractive"}


def available() -> str | None:
    """Why podman cannot be used here (None when it can): it needs root and apt to install it."""
    if os.geteuid() != 0:
        return "building images with podman needs root"
    if not shutil.which("podman") and not shutil.which("apt-get"):
        return "no podman and no apt-get to install it"
    return None


def install() -> None:
    if shutil.which("podman") and shutil.which("mmdebstrap") and Path("/usr/libexec/podman/catatonit").exists():
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES], check=True,
                   capture_output=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})


def podman(env: dict, *args: str, timeout: int = 600, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args[:2])} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def ensure_base(env: dict, work: Path) -> str:
    """Debian from the mirror and suite this machine's apt uses, with the host's extra CA certificates."""
    if podman(env, "image", "exists", BASE_IMAGE, check=False).returncode == 0:
        return BASE_IMAGE
    mirror, suite = _apt_source()
    tarball = work / "base.tar"
    hook = ('cp /usr/local/share/ca-certificates/*.crt "$1/usr/local/share/ca-certificates/" 2>/dev/null; '
            'chroot "$1" update-ca-certificates')
    subprocess.run(["mmdebstrap", "--variant=minbase", "--include=apt,ca-certificates", f"--customize-hook={hook}",
                    suite, str(tarball), f"deb {mirror} {suite} main", f"deb {mirror} {suite}-updates main"],
                   check=True, capture_output=True, timeout=900)
    podman(env, "import", "--change", 'CMD ["/bin/bash"]', "--change", f"ENV SSL_CERT_FILE={CA_BUNDLE}",
           "--change", f"ENV PIP_CERT={CA_BUNDLE}", "--change", f"ENV REQUESTS_CA_BUNDLE={CA_BUNDLE}",
           str(tarball), BASE_IMAGE)
    tarball.unlink()
    return BASE_IMAGE


def _apt_source() -> tuple[str, str]:
    sources = "".join(path.read_text() for path in Path("/etc/apt/sources.list.d").glob("*.sources"))
    mirror = re.search(r"^URIs: *(\S*/debian)$", sources, re.M)
    suite = re.search(r"^Suites: *([a-z]+)", sources, re.M)
    if mirror and suite:
        return mirror[1], suite[1]
    listed = re.search(r"^deb (\S*/debian) ([a-z]+) ", Path("/etc/apt/sources.list").read_text(), re.M)
    return listed[1], listed[2]


@contextmanager
def running(env: dict, image: str, port: int, volume: str, name: str, timeout_s: int = 300):
    """The image started as a user would (`run -p PORT:7860 -v VOLUME:/data`), until it answers on the port."""
    podman(env, "rm", "-f", "-t", "0", name, check=False)
    podman(env, "run", "-d", "--init", "--name", name, "-p", f"{port}:7860", "-v", f"{volume}:/data", image)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                urllib.request.urlopen(url, timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    logs = podman(env, "logs", name, check=False)
                    raise RuntimeError(f"the image did not answer on {port}:\n{logs.stdout[-3000:]}{logs.stderr[-3000:]}")
                time.sleep(2)
        yield url
    finally:
        podman(env, "rm", "-f", "-t", "2", name, check=False)
        podman(env, "volume", "rm", "-f", volume, check=False)
