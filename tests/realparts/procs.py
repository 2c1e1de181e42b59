"""Stopping a server we started: by its pid, never by name."""
from __future__ import annotations

import os
import shutil
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


class Lifecycle:
    """cleanup() and the context manager for a server class with start(),
    stop(), and dir / _own_dir (a work directory it made itself)."""

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()
