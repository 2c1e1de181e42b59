"""qmail.c of the three living qmail families, as test readers.

qmail-smtpd runs $QMAILQUEUE through qmail_open() / qmail_close() of its
own qmail.c, and answers the DATA command with the string qmail_close()
returns: "" -> 250, "D..." -> "554 " + rest, else "451 " + rest, then CR LF.
The families differ only in where the custom-error text is read from and
which exit code makes it count (read from their sources):

  notqmail  (1.09; the qmail-queue-custom-error-v2 patch of netqmail):
            a pipe on fd 6; at most 255 bytes read until EOF; used when the
            exit code is 82 and more than 2 bytes came.
  sagredo   a pipe on $ERROR_FD, else CUSTOM_ERR_FD (4); at most 255 bytes;
            used for exit 82 or 88 with more than 2 bytes, else 88 falls
            through to "Zunable to exec qq".
  indimail  a pipe on $ERROR_FD, else CUSTOM_ERR_FD (2: the queue program's
            stderr *is* the pipe); ERROR_FD=-1: no pipe; at most 1023 bytes;
            used for exit 88 with more than 2 bytes, else "Zqq temporary
            problem"; 82 is "Zqq unable to exec qq".

Every family turns "exit 0, but writing the message or envelope failed"
into the read-error reply (54). Only the codes qmail-dkim and the queue
double can produce are spelled out in the tables; the rest take the
families' default branch (11-40 permanent, else temporary).
"""
from __future__ import annotations

import os
import subprocess
import threading

FAMILIES = {
    "notqmail": {"fd": 6, "env_fd": False, "limit": 255, "custom": (82,)},
    "sagredo": {"fd": 4, "env_fd": True, "limit": 255, "custom": (82, 88)},
    "indimail": {"fd": 2, "env_fd": True, "limit": 1023, "custom": (88,)},
}

_COMMON = {
    11: "Denvelope address too long for qq (#5.1.3)",
    31: "Dmail server permanently rejected message (#5.3.0)",
    51: "Zqq out of memory (#4.3.0)",
    52: "Zqq timeout (#4.3.0)",
    53: "Zqq write error or disk full (#4.3.0)",
    54: "Zqq read error (#4.3.0)",
    55: "Zqq unable to read configuration (#4.3.0)",
    61: "Zqq trouble in home directory (#4.3.0)",
    71: "Zmail server temporarily rejected message (#4.3.0)",
    81: "Zqq internal bug (#4.3.0)",
    120: "Zunable to exec qq (#4.3.0)",
}
_TABLES = {
    "notqmail": dict(_COMMON),
    "sagredo": {**_COMMON, **{32: "DPrivate key file does not exist (#5.3.5)",
                                58: "Zqq trouble creating child (#4.3.0)",
                                59: "Zqq trouble creating pipes (#4.3.0)"}},
    "indimail": {**_COMMON, **{31: "Dqq mail server permanently rejected message (#5.3.0)",
                                 35: "Dqq private key file does not exist (#5.3.5)",
                                 71: "Zqq mail server temporarily rejected message (#4.3.0)",
                                 82: "Zqq unable to exec qq (#4.3.0)",
                                 120: "Zqq unable to exec qq (#4.3.0)"}},
}


class Result:
    def __init__(self, exitcode, errstr, qqx, log):
        self.exitcode = exitcode      # the queue program's (qmail-dkim's) exit code
        self.errstr = errstr          # bytes read from the custom-error pipe
        self.qqx = qqx                # what qmail_close() returns
        self.log = log                # what reached qmail-smtpd's own fd 2

    @property
    def reply(self) -> bytes:
        """qmail-smtpd's answer to the end of DATA."""
        if not self.qqx:
            return b"250 ok\r\n"
        return (b"554 " if self.qqx[:1] == b"D" else b"451 ") + self.qqx[1:] + b"\r\n"


def _errfd(family, env):
    spec = FAMILIES[family]
    if spec["env_fd"] and env.get("ERROR_FD") is not None:
        try:
            return int(env["ERROR_FD"])
        except ValueError:
            return 0                  # scan_int of garbage
    return spec["fd"]


def qmail_close(family, exitcode, flagerr, errstr, has_pipe=True):
    """The string qmail_close() of `family` returns."""
    spec = FAMILIES[family]
    if exitcode == 0 and not flagerr:
        return b""
    if exitcode == 0:
        exitcode = 54                 # "case 0: if (!flagerr) ...; fall through" to 54
    if exitcode in spec["custom"] and has_pipe and len(errstr) > 2:
        return errstr
    table = _TABLES[family]
    if family == "indimail" and exitcode == 88:
        return b"Zqq temporary problem (#4.3.0)"
    if family == "sagredo" and exitcode in (82, 88):
        return table[120].encode()    # the fall-through of its switch
    if exitcode in table:
        return table[exitcode].encode()
    if exitcode == 115 or 11 <= exitcode <= 40:
        return b"Dqq permanent problem (#5.3.0)"
    return b"Zqq temporary problem (#4.3.0)"


def run(family, argv, env, message, envelope, cwd, timeout=60):
    """qmail_open / qmail_put / qmail_from+to / qmail_close of `family` around
    `argv` (normally qmail-dkim). Returns a Result."""
    spec = FAMILIES[family]
    errfd = _errfd(family, env)
    has_pipe = errfd != -1
    pim_r, pim_w = os.pipe()
    pie_r, pie_w = os.pipe()
    perr_r, perr_w = os.pipe() if has_pipe else (None, None)
    log_r, log_w = os.pipe()

    def child_setup():
        if has_pipe:
            os.dup2(perr_w, errfd)
            os.set_inheritable(errfd, True)

    proc = subprocess.Popen(argv, stdin=pim_r, stdout=pie_r, stderr=log_w, cwd=cwd, env=env,
                            close_fds=False, preexec_fn=child_setup)
    for fd in (pim_r, pie_r, log_w) + ((perr_w,) if has_pipe else ()):
        os.close(fd)
    logbuf = []
    reader = threading.Thread(target=lambda: logbuf.append(_drain(log_r)))
    reader.start()
    flagerr = False
    for fd, data in ((pim_w, message), (pie_w, envelope)):
        if not flagerr:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            except OSError:
                flagerr = True
        os.close(fd)
    errstr = b""
    if has_pipe:
        while len(errstr) < spec["limit"]:
            chunk = os.read(perr_r, spec["limit"] - len(errstr))
            if not chunk:
                break
            errstr += chunk
        os.close(perr_r)
    code = proc.wait(timeout=timeout)
    reader.join(timeout)
    os.close(log_r)
    if code < 0:
        return Result(code, errstr, b"Zqq crashed (#4.3.0)", logbuf[0] if logbuf else b"")
    return Result(code, errstr, qmail_close(family, code, flagerr, errstr, has_pipe),
                  logbuf[0] if logbuf else b"")


def _drain(fd):
    out = bytearray()
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            return bytes(out)
        out += chunk
