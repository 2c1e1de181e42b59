"""Python side of the qmail-queue test double (tests/realparts/qmail-queue-double).

    qd = QueueDouble(tmp_path / "qq")       # creates the directory and a wrapper
    qd.path                                  # executable to use as DKIMQUEUE / QMAILQUEUE / argv
    env = qd.env(exit=0)                     # {"QQ_DOUBLE_DIR": ..., "QQ_DOUBLE_EXIT": "0"}
    ...run something that pipes to qd.path...
    [m] = qd.messages()                      # StoredMessage(n, msg, env, info)
    m.msg, m.env, m.sender, m.recipients, m.info["argv"], m.info["environ"]
    qd.calls()                               # lines of calls.log (one+ per invocation)
    qd.run(message, envelope, **knobs)       # run the double directly -> returncode

``qd.path`` is a small /bin/sh wrapper that execs the double with the Python running
the tests (``sys.executable -I``), so it does not depend on a python3 in PATH; the
pid qmail-dkim sees is the double's own (exec).  Knobs (``env()`` keywords):
exit, read_nothing, read_limit, sleep, sleep_before, signal, store_always (see the
script's docstring).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent / "qmail-queue-double"


def make_envelope(sender: str, recipients: list[str]) -> bytes:
    """qmail-queue envelope: F<sender>\\0T<rcpt>\\0...\\0 then a final \\0."""
    out = b"F" + sender.encode() + b"\0"
    for r in recipients:
        out += b"T" + r.encode() + b"\0"
    return out + b"\0"


def parse_envelope(env: bytes) -> tuple[str | None, list[str]]:
    """(sender, [recipients]) from an envelope; sender None if there is no F field."""
    sender = None
    rcpts: list[str] = []
    for field_ in env.split(b"\0"):
        if not field_:
            continue
        if field_[:1] == b"F" and sender is None:
            sender = field_[1:].decode("utf-8", "surrogateescape")
        elif field_[:1] == b"T":
            rcpts.append(field_[1:].decode("utf-8", "surrogateescape"))
    return sender, rcpts


@dataclass
class StoredMessage:
    n: int
    msg: bytes
    env: bytes
    info: dict = field(default_factory=dict)

    @property
    def sender(self) -> str | None:
        return parse_envelope(self.env)[0]

    @property
    def recipients(self) -> list[str]:
        return parse_envelope(self.env)[1]

    @property
    def environ(self) -> dict:
        return self.info.get("environ", {})

    def header_block(self) -> bytes:
        """The message's header lines (up to the first empty line), LF form."""
        i = self.msg.find(b"\n\n")
        return self.msg if i < 0 else self.msg[:i + 1]


class QueueDouble:
    def __init__(self, directory: str | os.PathLike, python: str | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.python = python or sys.executable
        self.path = self.dir.parent / (self.dir.name + "-qmail-queue")
        self.path.write_text("#!/bin/sh\nexec %s -I %s \"$@\"\n"
                             % (shlex.quote(self.python), shlex.quote(str(SCRIPT))))
        self.path.chmod(0o755)

    @staticmethod
    def knobs(exit: int | None = None, read_nothing: bool = False, read_limit: int | None = None,
              sleep: float | None = None, sleep_before: float | None = None,
              signal: str | None = None, store_always: bool = False) -> dict[str, str]:
        env: dict[str, str] = {}
        if exit is not None:
            env["QQ_DOUBLE_EXIT"] = str(exit)
        if read_nothing:
            env["QQ_DOUBLE_READ_NOTHING"] = "1"
        if read_limit is not None:
            env["QQ_DOUBLE_READ_LIMIT"] = str(read_limit)
        if sleep is not None:
            env["QQ_DOUBLE_SLEEP"] = str(sleep)
        if sleep_before is not None:
            env["QQ_DOUBLE_SLEEP_BEFORE"] = str(sleep_before)
        if signal:
            env["QQ_DOUBLE_SIGNAL"] = signal
        if store_always:
            env["QQ_DOUBLE_STORE_ALWAYS"] = "1"
        return env

    def env(self, **knobs) -> dict[str, str]:
        """Environment for a process that will run the double."""
        e = {"QQ_DOUBLE_DIR": str(self.dir)}
        e.update(self.knobs(**knobs))
        return e

    # -- reading what was stored
    def numbers(self) -> list[int]:
        out = []
        for p in self.dir.glob("*.env"):
            try:
                out.append(int(p.stem))
            except ValueError:
                pass
        return sorted(out)

    def get(self, n: int) -> StoredMessage:
        info_p = self.dir / f"{n}.json"
        info = json.loads(info_p.read_text()) if info_p.exists() else {}
        return StoredMessage(n, (self.dir / f"{n}.msg").read_bytes(),
                             (self.dir / f"{n}.env").read_bytes(), info)

    def messages(self) -> list[StoredMessage]:
        return [self.get(n) for n in self.numbers()]

    def count(self) -> int:
        return len(self.numbers())

    def last(self) -> StoredMessage:
        nums = self.numbers()
        if not nums:
            raise AssertionError(f"the queue double stored nothing in {self.dir}; calls: {self.calls()}")
        return self.get(nums[-1])

    def only(self) -> StoredMessage:
        msgs = self.messages()
        if len(msgs) != 1:
            raise AssertionError(f"expected exactly 1 stored message, found {len(msgs)}; calls: {self.calls()}")
        return msgs[0]

    def calls(self) -> list[str]:
        p = self.dir / "calls.log"
        return p.read_text().splitlines() if p.exists() else []

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[StoredMessage]:
        deadline = time.monotonic() + timeout
        while self.count() < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages()

    def clear(self) -> None:
        for p in self.dir.iterdir():
            if p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()

    # -- running it directly (tests of the double itself)
    def run(self, message: bytes, envelope: bytes, timeout: float = 20.0, **knobs) -> subprocess.CompletedProcess:
        """Run the double with message on fd 0 and envelope on fd 1 (a pipe), like qmail-queue."""
        env = dict(os.environ)
        env.update(self.env(**knobs))
        r_env, w_env = os.pipe()
        try:
            proc = subprocess.Popen([str(self.path)], stdin=subprocess.PIPE, stdout=r_env,
                                    stderr=subprocess.PIPE, env=env)
        finally:
            os.close(r_env)
        try:
            try:
                # the envelope is small (< pipe buffer): write it fully first
                os.write(w_env, envelope)
            except BrokenPipeError:
                pass
            finally:
                os.close(w_env)
            try:
                _, err = proc.communicate(message, timeout=timeout)
            except BrokenPipeError:
                _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        return subprocess.CompletedProcess([str(self.path)], proc.returncode, b"", err)
