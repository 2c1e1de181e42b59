"""Running the installed qmail-dkim the way qmail-smtpd does, for tests.

fd 0 = the message (a pipe), fd 1 = the envelope (a file opened for reading),
fd 2 = the log. The queue program is the qmail-queue test double.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.realparts import keys
from tests.realparts.queue_double import QueueDouble, make_envelope

QMAIL_DKIM = shutil.which("qmail-dkim", path=os.path.dirname(sys.executable)) or shutil.which("qmail-dkim")

# The end of a `python -c` driver that then runs the script in argv[2] as
# the interpreter would (argv[0] the script, __name__ "__main__"); the
# driver's own argv[1] is its record file. Drivers: tests/test_imports_*.py,
# tests/test_daemon.py.
RUN_SCRIPT = r"""
script = sys.argv[2]
sys.argv = sys.argv[2:]
with open(script, "rb") as f:
    code = compile(f.read(), script, "exec")
exec(code, {"__name__": "__main__", "__file__": script, "__builtins__": __builtins__})
"""

SAMPLE = (b"From: Joe Sender <joe@example.com>\n"
          b"To: Bob <bob@example.net>\n"
          b"Subject: test message\n"
          b"Date: Sun, 22 Nov 2026 07:00:00 +0000\n"
          b"Message-ID: <1@example.com>\n"
          b"\n"
          b"Hello Bob,\n"
          b"\n"
          b"a line with  two spaces and a tab\there.\n")


def envelope_file(envelope=None):
    """An open file holding an envelope, for fd 1 of a qmail-dkim started by
    hand (qmail-dkim reads the envelope after the message: without one the
    input counts as truncated, exit 54)."""
    f = tempfile.TemporaryFile()
    f.write(envelope if envelope is not None else make_envelope("joe@example.com", ["bob@example.net"]))
    f.seek(0)
    return f


def spool_bytes(data, tmpdir):
    """The message `data` spooled as qmail-dkim spools fd 0 (Spool.from_fd,
    here on a file holding it), in `tmpdir`."""
    from qmail_dkim.spool import Spool
    fd, path = tempfile.mkstemp(dir=str(tmpdir))
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(data)
        os.lseek(fd, 0, os.SEEK_SET)
        return Spool.from_fd(fd, str(tmpdir))
    finally:
        os.close(fd)
        os.unlink(path)


def make_home(path) -> Path:
    """A QMAILHOME at path: control/, bin/, tmp/ and the signing key every sign
    test uses, control/domainkeys/example.com/default (rsa_key, PKCS#1, 0600).
    Tests add other keys with keys.install(home, key, "example.com", "ed")."""
    home = Path(path)
    for d in ("control", "bin", "tmp"):
        (home / d).mkdir(parents=True, exist_ok=True)
    keys.install(home, keys.cached_rsa_key(2048), "example.com", "default")
    return home


class Run:
    def __init__(self, proc, qd):
        self.rc = proc.returncode
        self.stderr = proc.stderr.decode("utf-8", "replace")
        self.qd = qd
        self.stored = qd.messages() if qd else []

    @property
    def log(self):
        lines = [l for l in self.stderr.splitlines() if l.startswith("qmail-dkim: mode=")]
        assert len(lines) == 1, self.stderr
        return lines[0]

    def field(self, key):
        from tests.logparse import fields
        return fields(self.log).get(key)

    @property
    def msg(self):
        assert len(self.stored) == 1, (self.rc, self.stderr)
        return self.stored[0].msg


def run(home, env, message=SAMPLE, envelope=None, args=(), qd_knobs=None, timeout=60,
        queue=True, command=None):
    """Run qmail-dkim with QMAILHOME=home and the double as DKIMQUEUE.
    `command`: the argv that starts qmail-dkim (default: [QMAIL_DKIM])."""
    home = Path(home)
    qd = QueueDouble(home / ("qq%d" % len(list(home.glob("qq*")))))
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": str(home),
            "TMPDIR": str(home / "tmp")}
    (home / "tmp").mkdir(exist_ok=True)
    if queue:
        full["DKIMQUEUE"] = str(qd.path)
    full.update(qd.env(**(qd_knobs or {})))
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    if envelope is None:
        envelope = make_envelope("joe@example.com", ["bob@example.net"])
    with tempfile.TemporaryFile() as envf:
        envf.write(envelope)
        envf.seek(0)
        proc = subprocess.run(list(command or [QMAIL_DKIM]) + list(args), input=message, stdout=envf,
                              stderr=subprocess.PIPE, env=full, timeout=timeout)
    return Run(proc, qd)
