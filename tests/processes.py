"""Killing a process at a moment chosen by what it has done, not by the
clock, so a test means the same thing on a fast machine and a loaded one."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Callable

POLL_SECONDS = 0.002


def kill_when(process: subprocess.Popen, ready: Callable[[], bool]) -> bool:
    """SIGKILL `process` once `ready()` holds; False if it finished first."""
    while process.poll() is None:
        if ready():
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(POLL_SECONDS)  # polling: the process's own progress decides
    return False
