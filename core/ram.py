"""The machine's RAM, for the stages that decide where a model fits (chat, export verification)."""
from __future__ import annotations

import os


def meminfo(key: str) -> int:
    """A /proc/meminfo figure in bytes (MemTotal, MemAvailable); total RAM where that file is missing."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
