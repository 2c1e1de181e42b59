"""SmtpFront: a real SMTP server on 127.0.0.1 built from ucspi-tcp and mailfront.

    rules = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="/path/qmail-dkim",'
             'DKIMKEY="control/domainkeys/%/default"\\n:allow,QMAILQUEUE="..."\\n')
    with SmtpFront(rules, env={"QMAILHOME": str(home), "DKIMQUEUE": str(qd.path),
                               **qd.env()}) as front:
        code, text = front.send("a@example.com", ["b@example.org"], message_lf_bytes)

What runs:  tcprules rules.cdb rules.tmp  < rules text
            tcpserver -x rules.cdb -R -H -l localhost -D -c 20 127.0.0.1 <port> \\
                mailfront smtp qmail accept
mailfront's qmail backend runs $QMAILQUEUE (else $QMAILHOME/bin/qmail-queue) after a
chdir to $QMAILHOME (a relative QMAILQUEUE is relative to it; without a slash it is
looked up in PATH), passes the whole environment (tcpserver's TCPREMOTEIP, PROTO, ...,
the tcprules variables, our ``env``) and maps the exit code: 0 -> 250; 11-40 permanent
(31 -> "554 5.3.0 Message refused.", 35 -> "554 5.3.0 Message rejected by qmail-queue.")
else temporary (71 -> "451 4.3.0 Message refused by mail server.", 55 -> 451 "Unable to
read a configuration file", 81 -> 451 "Internal qmail-queue bug", 52 -> "451 4.3.0 Timeout.").
$QQERRMSG_<n> overrides the text. mailfront has no qmail-smtpd custom-error (exit 88,
ERROR_FD) support. The ``accept`` plugin accepts every sender and recipient (without
any plugin mailfront accepts none); pass ``plugins=`` to change that. mailfront accepts
bare LF or CRLF and stores LF, un-dot-stuffed; it adds no Received: header (no
add-received plugin loaded).
"""
from __future__ import annotations

import os
import smtplib
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping

from .nsd import free_port
from .tools import find_tool
from .procs import Lifecycle, stop_group


class SmtpFrontError(RuntimeError):
    pass


def compile_rules(rules_text: str, directory: str | os.PathLike, timeout: float = 10.0) -> Path:
    """tcprules <dir>/rules.cdb <dir>/rules.tmp < rules_text; returns the cdb path."""
    tcprules = find_tool("tcprules")
    if not tcprules:
        raise SmtpFrontError("tcprules not found (apt-get install ucspi-tcp)")
    d = Path(directory)
    text = rules_text if rules_text.endswith("\n") else rules_text + "\n"
    (d / "rules.txt").write_text(text)
    r = subprocess.run([tcprules, str(d / "rules.cdb"), str(d / "rules.tmp")], input=text.encode(),
                       capture_output=True, timeout=timeout)
    if r.returncode != 0:
        raise SmtpFrontError(f"tcprules failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return d / "rules.cdb"


def lf_to_smtp(message: bytes) -> bytes:
    """LF-form message -> SMTP DATA payload: every LF becomes CRLF (a CR already before an
    LF stays data: CR CR LF, which mailfront / qmail-smtpd store as CR LF), lines starting
    with '.' are dot-stuffed, a final LF is added if missing, then the '.' terminator."""
    if message and not message.endswith(b"\n"):
        message += b"\n"
    lines = message.split(b"\n")[:-1]
    out = []
    for line in lines:
        if line.startswith(b"."):
            line = b"." + line
        out.append(line + b"\r\n")
    return b"".join(out) + b".\r\n"


def crlf_to_smtp(message: bytes) -> bytes:
    """An already CRLF message -> DATA payload (dot-stuffing and terminator only)."""
    if message and not message.endswith(b"\r\n"):
        message += b"\r\n"
    lines = message.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines) + b".\r\n"


def smtp_send(host: str, port: int, mail_from: str, rcpts: Iterable[str], message: bytes, *,
              lf_form: bool = True, helo: str = "client.example.net", timeout: float = 30.0,
              source: str | None = None, early_refusal_ok: bool = True,
              ) -> tuple[int, str]:
    """One SMTP transaction. Returns the reply that decided it: the first failing
    MAIL/RCPT reply (all RCPTs are tried; if none is accepted, the last refusal), the
    DATA (354) refusal, or the final reply after the message. Never raises for SMTP
    replies; raises OSError/smtplib.SMTPServerDisconnected for connection trouble.
    ``source``: the loopback address to connect from (127.0.0.2 is 'the Internet' in
    tcprules files). ``early_refusal_ok=False``: a refusal before the message (connect,
    HELO, MAIL, any RCPT, DATA) is an AssertionError: the verdict must come after it."""
    def early(code, msg):
        assert early_refusal_ok, ("refused before the message", code, msg)
        return code, msg.decode(errors="replace") if isinstance(msg, bytes) else msg

    s = smtplib.SMTP(timeout=timeout, source_address=(source, 0) if source else None)
    try:
        code, msg = s.connect(host, port)
        if code != 220:
            return early(code, msg)
        code, msg = s.ehlo(helo)
        if code != 250:
            code, msg = s.helo(helo)
            if code != 250:
                return early(code, msg)
        code, msg = s.mail(mail_from)
        if code != 250:
            return early(code, msg)
        accepted = 0
        last_refusal = None
        for r in rcpts:
            code, msg = s.rcpt(r)
            if code in (250, 251):
                accepted += 1
            else:
                early(code, msg)
                last_refusal = (code, msg.decode(errors="replace"))
        if not accepted:
            return last_refusal or (503, "no recipients given")
        s.putcmd("data")
        code, msg = s.getreply()
        if code != 354:
            return early(code, msg)
        payload = lf_to_smtp(message) if lf_form else crlf_to_smtp(message)
        s.send(payload)
        code, msg = s.getreply()
        return code, msg.decode(errors="replace")
    finally:
        try:
            s.quit()
        except (smtplib.SMTPException, OSError):
            s.close()


class SmtpFront(Lifecycle):
    address = "127.0.0.1"

    def __init__(self, rules: str, env: Mapping[str, str] | None = None, *,
                 plugins: Iterable[str] = ("accept",), workdir: str | os.PathLike | None = None,
                 port: int | None = None, start_timeout: float = 10.0, inherit_env: bool = True,
                 ) -> None:
        self.rules = rules
        self.plugins = list(plugins)
        self.extra_env = dict(env or {})
        self.inherit_env = inherit_env
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="smtpfront-"))
        self._fixed_port = port
        self.port = port or 0
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        for t in ("tcpserver", "tcprules", "mailfront"):
            if not find_tool(t):
                raise SmtpFrontError(f"{t} not found (apt-get install ucspi-tcp mailfront)")

    @property
    def log_path(self) -> Path:
        """tcpserver's and mailfront's (and thus qmail-dkim's) stderr."""
        return self.dir / "smtp.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def environment(self) -> dict[str, str]:
        env = dict(os.environ) if self.inherit_env else {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # keep the tcprules variables decisive: drop same-named inherited ones
        for k in ("RELAYCLIENT", "AUTHINFO", "QMAILQUEUE", "DKIMSIGN", "DKIMKEY", "DKIMVERIFY",
                  "RELAYCLIENT_NODKIMVERIFY"):
            if k not in self.extra_env:
                env.pop(k, None)
        env.setdefault("QMAILHOME", str(self.dir))
        env.update(self.extra_env)
        return env

    def start(self) -> "SmtpFront":
        if self.proc is not None:
            return self
        cdb = compile_rules(self.rules, self.dir)
        tcpserver = find_tool("tcpserver")
        mailfront = find_tool("mailfront")
        last = ""
        for attempt in range(5):
            if not self._fixed_port:
                self.port = free_port(socket.SOCK_STREAM)
            argv = [tcpserver, "-x", str(cdb), "-R", "-H", "-l", "localhost", "-D", "-c", "20",
                    self.address, str(self.port), mailfront, "smtp", "qmail", *self.plugins]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=self.environment(), cwd=str(self.dir),
                                             start_new_session=True)
            deadline = time.monotonic() + self.start_timeout
            exited = False
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    exited = True
                    break
                try:
                    with socket.create_connection((self.address, self.port), timeout=0.5) as c:
                        c.settimeout(2)
                        if c.recv(4).startswith(b"220"):
                            return self
                except OSError:
                    pass
                time.sleep(0.02)
            last = self.log()
            self._kill()
            if self._fixed_port or not exited:
                break
        raise SmtpFrontError(f"tcpserver/mailfront did not start on port {self.port}:\n{last[-3000:]}")

    def _kill(self) -> None:
        stop_group(self.proc, timeout=5)
        self.proc = None

    def stop(self) -> None:
        self._kill()


    def send(self, mail_from: str, rcpts: Iterable[str], message: bytes, **kw) -> tuple[int, str]:
        """See smtp_send(). ``message`` is LF form (what qmail-queue should receive);
        pass lf_form=False for a message that is already CRLF."""
        return smtp_send(self.address, self.port, mail_from, list(rcpts), message, **kw)
