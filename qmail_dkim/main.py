"""qmail-dkim: the thin shell around the pure core (see qmail-dkim(8)).

fd 0 message, fd 1 envelope, fd 2 log; exit codes are the interface
(exits.py). Order of work: DEATH alarm, chdir $QMAILHOME, choose the mode,
spool the message to $TMPDIR, sign or verify, run the queue program, log one
line, exit with the child's status or our own code (EXIT CODES).
"""
import os
import _signal as signal  # the C module behind signal.py: same calls, no enum wrappers (start-up)
import sys

from qmail_dkim import child, config, exits, logline, mode as modes
from qmail_dkim.exits import QmailDkimExit


class _Death(BaseException):
    pass


def _on_alarm(signum, frame):
    raise _Death()


def _kill_child():
    pid = child.current_pid
    if pid:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except OSError:
            pass
        child.current_pid = None


def _emit(fd, text):
    try:
        os.write(fd, (text + "\n").encode("utf-8", "replace"))
    except OSError:
        pass


def _where(exc):
    tb = exc.__traceback__
    while tb and tb.tb_next:
        tb = tb.tb_next
    if tb is None:
        return "?"
    return "%s:%d" % (os.path.basename(tb.tb_frame.f_code.co_filename), tb.tb_lineno)


class _Run:
    """What the shell knows about this run so far (for the log line)."""

    def __init__(self):
        self.mode = "sign"
        self.log = []
        self.spool = None
        self.error_text = None      # DKIMCUSTOMERROR text; None: the code's own
        self.enhanced = None        # its enhanced status code; None: the code's own
        self.from_child = False     # the code is the queue program's: passed on as is


def _arm_death(env):
    """Signals, and the DEATH alarm; -> the seconds armed (for the log)."""
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        death = int(env.get("DEATH") or 86400)
    except ValueError:
        death = 86400
    signal.alarm(max(death, 1))
    return death


def _process(run, argv, env):
    """chdir $QMAILHOME, choose the mode, spool, sign or verify, run the
    queue program. -> exit code."""
    home = config.qmailhome(env)
    try:
        os.chdir(home)
    except OSError as e:
        raise QmailDkimExit(exits.NO_CHDIR, "cannot change to QMAILHOME %s: %s"
                            % (home, e.strerror))
    run.mode, arg = modes.select(env)
    tmpdir = env.get("TMPDIR") or "/tmp"
    from qmail_dkim.spool import Spool
    run.spool = Spool.from_fd(0, tmpdir)
    # The envelope follows the message on fd 1 (qmail-smtpd writes it once
    # the message is complete). Read it now: an empty or incomplete one
    # means the input was cut off (the client or qmail-smtpd went away
    # during DATA), and that, not the message, is what the log must name.
    # The queue program gets the same bytes.
    from qmail_dkim import envelope as rcpts
    envelope = rcpts.read_envelope(1)

    def read_envelope():
        return envelope
    if run.mode == "sign":
        from qmail_dkim.sign import run as sign
        settings = config.SignSettings(env)
        signed = run.spool
        if settings.stored_crlf:
            # SIGNING, Stored CR LF: hash what such a qmail-remote sends;
            # the queue program still gets the message as it came.
            signed = run.spool.stored_crlf_as_line_end(tmpdir)
        try:
            outcome = sign.run(settings, signed, arg, read_envelope)
        finally:
            if signed is not run.spool:
                signed.close()
    else:
        from qmail_dkim.verify import run as verify
        outcome = verify.run(config.VerifySettings(env), run.spool, read_envelope=read_envelope)
    run.log = list(outcome.log)
    if outcome.exit_code is not None:
        run.error_text = outcome.error_text
        run.enhanced = outcome.enhanced
        return outcome.exit_code
    code = child.run(child.queue_argv(argv, env), env, outcome.prepend, run.spool,
                     outcome.drop, envelope)
    run.from_child = True
    return code


def _failure(exc, death):
    """An exception that ended the run -> (exit code, reason for the log,
    extra log fields). The reply text (DKIMCUSTOMERROR) is then the code's
    short text: the log's reason (paths, uids) is for the administrator,
    not the SMTP client."""
    if isinstance(exc, QmailDkimExit):
        return exc.code, exc.reason, exc.fields
    if isinstance(exc, _Death):
        return exits.TIMEOUT, "timeout after DEATH=%d seconds" % death, {}
    if isinstance(exc, MemoryError):
        return exits.NO_MEMORY, "out of memory", {}
    # a bug of ours: temporary, never 0
    return exits.INTERNAL_BUG, ("internal bug: %s: %s at %s"
                                % (type(exc).__name__, str(exc)[:200], _where(exc))), {}


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ
    death = _arm_death(env)
    run = _Run()
    try:
        code = _process(run, argv, env)
    except (_Death, Exception) as e:
        _kill_child()
        code, reason, fields = _failure(e, death)
        run.from_child = False
        run.log = _error_fields(run.mode, run.log, reason, fields)
    finally:
        signal.alarm(0)
        if run.spool is not None:
            run.spool.close()
    return _finish(run, code, env)


def _finish(run, code, env):
    """The log line, and the custom-error reply when DKIMCUSTOMERROR asks;
    -> the exit code."""
    log, mode = run.log, run.mode
    proto = None
    if not run.from_child and code in exits.TEXTS:
        proto = exits.custom_protocol(env.get("DKIMCUSTOMERROR"), env.get("ERROR_FD", ""))
    if isinstance(proto, str):
        log = _warn(log, proto)
    elif proto is not None:
        # DKIMCUSTOMERROR (EXIT CODES): the reply text on the family's fd, then
        # the family's exit code. When that fd is the log's (indimail: its
        # qmail.c reads our fd 2 up to EOF as the reply), the text goes there
        # alone and the log line is not written.
        custom_code, fd = proto
        failed = _write_text(fd, exits.custom_error_text(code, run.error_text, run.enhanced))
        if failed is None:
            if fd == 2:
                return custom_code
            log.append(("exit", custom_code))
            _emit(2, logline.format_line(mode, log))
            return custom_code
        # No custom-error pipe there: the plain code still answers the client.
        log = _warn(log, "DKIMCUSTOMERROR: cannot write to fd %d: %s" % (fd, failed))
    log.append(("exit", code))
    _emit(2, logline.format_line(mode, log))
    return code


def _warn(log, text):
    """Add `text` to the log's one warning= field."""
    for i, (k, v) in enumerate(log):
        if k == "warning":
            return log[:i] + [(k, "%s; %s" % (v, text))] + log[i + 1:]
    return log + [("warning", text)]


def _write_text(fd, data):
    """Write all of `data` to fd; None, or the error text."""
    from qmail_dkim.spool import write_all
    try:
        write_all(fd, data)
    except OSError as e:
        return e.strerror or str(e)
    return None


def _error_fields(mode, log, reason, fields):
    """The log fields of a run that ended in an error. Fields a mode already
    decided stay (d=, s=, status=, ...), but the message was not queued:
    result= (sign) / action= (verify) say "error", and the error is reason=
    (or error= when reason= already explains the mode's own decision)."""
    out = []
    seen = set()
    for k, v in log:
        if (mode == "sign" and k == "result") or (mode == "verify" and k == "action"):
            v = "error"
        out.append((k, v))
        seen.add(k)
    if mode == "sign" and "result" not in seen:
        out.insert(0, ("result", "error"))
    if mode == "verify" and "status" not in seen:
        out.insert(0, ("status", "error"))
    if mode == "verify" and "action" not in seen:
        out.append(("action", "error"))
    out.append(("error" if "reason" in seen else "reason", reason))
    for k, v in fields.items():
        out.append((k, v))
    return out
