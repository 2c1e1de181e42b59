"""qmail-dkimd for tests: the installed server, started and stopped by its pid.

    with Dkimd(workdir) as d:                 # -u nobody -a root when the tests run as root
        env = {"DKIMSOCKET": d.socket}
        home = d.home("h1")                   # a QMAILHOME the server's account can use

The server refuses to run as root: when the tests are root it is started as
root with ``-u nobody -a root`` (it drops to nobody and lets root's clients
in), otherwise as the test user. Its work directory is made outside pytest's
0700 tmp_path so that the account can reach QMAILHOME, $TMPDIR and the
queue double's spool.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .procs import Lifecycle, stop_group

QMAIL_DKIMD = shutil.which("qmail-dkimd", path=os.path.dirname(sys.executable)) or shutil.which("qmail-dkimd")
ROOT = os.getuid() == 0
ACCOUNT = "nobody" if ROOT else None


def account_ids() -> tuple[int, int]:
    if ACCOUNT:
        pw = pwd.getpwnam(ACCOUNT)
        return pw.pw_uid, pw.pw_gid
    return os.getuid(), os.getgid()


_QQ_PYTHON: list = []


def queue_double_python() -> str:
    """A Python the server's account can run, for the queue double it starts:
    the tests' own, unless that lives where the account cannot reach (a
    pyenv under /root), then the system's."""
    if not _QQ_PYTHON:
        for py in (sys.executable, "/usr/bin/python3"):
            kw = {}
            if ROOT:
                uid, gid = account_ids()
                kw = {"user": uid, "group": gid, "extra_groups": []}
            try:
                ok = subprocess.run([py, "-I", "-c", "import json, signal, time"], cwd="/",
                                    capture_output=True, timeout=30, **kw).returncode == 0
            except OSError:
                ok = False
            if ok:
                _QQ_PYTHON.append(py)
                break
        else:
            raise RuntimeError("no Python that %s can run for the queue double" % ACCOUNT)
    return _QQ_PYTHON[0]


def give(path: Path) -> None:
    """Hand a file or directory the test made to the server's account."""
    if ROOT:
        uid, gid = account_ids()
        os.chown(path, uid, gid)


class Dkimd(Lifecycle):
    def __init__(self, workdir: str | os.PathLike | None = None, args=(), env=None,
                 allow_root: bool = True) -> None:
        self.allow_root = allow_root
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="qmail-dkimd-test-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o755)
        self.socket = str(self.dir / "sock" / "dkimd")
        self.args = list(args)
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.log_path = self.dir / "dkimd.log"

    def argv(self) -> list[str]:
        if not QMAIL_DKIMD:
            raise RuntimeError("qmail-dkimd is not installed next to this Python")
        a = [QMAIL_DKIMD]
        if ROOT:
            a += ["-u", ACCOUNT] + (["-a", "root"] if self.allow_root else [])
        return a + self.args + [self.socket]

    def start(self) -> "Dkimd":
        sockdir = self.dir / "sock"
        if not ROOT:
            sockdir.mkdir(mode=0o700, exist_ok=True)
        self.log_path.write_bytes(b"")
        log = open(self.log_path, "ab")
        try:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env or {"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                                         start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if b"listening on" in self.log_path.read_bytes():
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        text = self.log()
        self.stop()
        raise RuntimeError("qmail-dkimd did not start:\n" + text)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None

    def home(self, name: str = "qmail") -> Path:
        """A QMAILHOME (control/, bin/, tmp/) the server's account can use."""
        h = self.dir / name
        for sub in ("control", "bin", "tmp"):
            (h / sub).mkdir(parents=True, exist_ok=True)
        for p in (h, h / "control", h / "bin"):
            os.chmod(p, 0o755)
        os.chmod(h / "tmp", 0o1777)
        return h


def busy_workers(server_pid: int) -> list[int]:
    """The server's children that are serving a message: a worker makes
    itself a process-group leader when it takes one; the spares waiting for
    one are still in the server's group."""
    out = []
    try:
        with open(f"/proc/{server_pid}/task/{server_pid}/children") as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        try:
            with open(f"/proc/{k}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == k and fields[0] != "Z":       # pgrp == pid: serving
            out.append(k)
    return out
