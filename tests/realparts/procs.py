"""Stopping a server we started: by its pid, never by name."""
from __future__ import annotations

import os
import signal
import subprocess


def stop_group(p: subprocess.Popen | None, timeout: float = 5.0) -> None:
    """SIGTERM the process, wait (SIGKILL after `timeout`), then SIGKILL its
    process group (pgid == its pid: it was started with start_new_session /
    process_group=0) so that children it left behind (NSD's server and xfrd,
    tcpserver's connection children) do not survive it."""
    if p is None:
        return
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=timeout)
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
