"""Running the queue program (qmail-dkim(8), DESCRIPTION).

`qmail-dkim [prog [args...]]` runs prog; otherwise $DKIMQUEUE, otherwise
$QUEUEPROG, otherwise bin/qmail-queue (relative to $QMAILHOME). Exec'd
directly -- never through a shell, values are never split or interpreted.
The child reads on fd 0 our new header lines followed by the message
(less the `drop` ranges); on fd 1 the envelope main.py has read (an unlinked
copy of exactly the same bytes), or fd 1 itself when `envelope` is None.
"""
import errno
import os
import _signal as signal  # the C module behind signal.py: same calls, no enum wrappers (start-up)
import sys

from qmail_dkim import exits
from qmail_dkim.exits import QmailDkimExit
from qmail_dkim.spool import write_all

DEFAULT_QUEUE = "bin/qmail-queue"
current_pid = None        # the running child, for the DEATH alarm


def queue_argv(args, env):
    if args:
        return list(args)
    for var in ("DKIMQUEUE", "QUEUEPROG"):
        if env.get(var):
            return [env[var]]
    return [DEFAULT_QUEUE]


def _which(prog, env):
    if "/" in prog:
        return prog
    for d in (env.get("PATH") or "/bin:/usr/bin").split(":"):
        cand = os.path.join(d or ".", prog)
        if os.access(cand, os.X_OK) and not os.path.isdir(cand):
            return cand
    return prog


def is_self(path, me=None):
    """Would this program be qmail-dkim itself (same file, after symlinks)?"""
    me = me or sys.argv[0]
    try:
        a = os.stat(path)
        b = os.stat(me)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def run(argv, env, prepend, spool, drop=(), envelope=None):
    """Run the queue program; return its exit status (or our own code, EXIT CODES)."""
    global current_pid
    prog = _which(argv[0], env)
    if is_self(prog):
        raise QmailDkimExit(exits.CANNOT_RUN_CHILD,
                            "queue program %s is qmail-dkim itself" % argv[0])
    # The envelope goes through a pipe after the message, as qmail-smtpd's
    # qmail.c sends it (the queue program reads fd 0 to its end, then fd 1).
    pipes = []
    try:
        for _ in range(1 if envelope is None else 2):
            pipes.append(os.pipe())
    except OSError as e:
        for a, b in pipes:
            os.close(a)
            os.close(b)
        raise QmailDkimExit(exits.NO_PIPE, "cannot create a pipe: %s" % e.strerror)
    r, w = pipes[0]
    # posix_spawn (vfork + exec in glibc): cheaper than forking this Python
    # process, and an exec failure comes back here as an OSError.
    actions = [(os.POSIX_SPAWN_DUP2, r, 0)]
    if envelope is not None:
        actions.append((os.POSIX_SPAWN_DUP2, pipes[1][0], 1))
    try:
        pid = os.posix_spawn(prog, [prog] + list(argv[1:]), env, file_actions=actions,
                             setsigdef=(signal.SIGPIPE, signal.SIGXFSZ, signal.SIGALRM,
                                        signal.SIGTERM))
    except OSError as e:
        for a, b in pipes:
            os.close(a)
            os.close(b)
        if e.errno in (errno.EAGAIN, errno.ENOMEM):
            raise QmailDkimExit(exits.NO_FORK, "cannot fork: %s" % e.strerror)
        raise QmailDkimExit(exits.CANNOT_RUN_CHILD, "cannot run queue program %s: %s"
                            % (argv[0], e.strerror or e))
    current_pid = pid
    for a, _ in pipes:
        os.close(a)
    broken = _feed(w, prepend, spool, drop)
    try:
        os.close(w)
    except OSError:
        pass
    if envelope is not None:
        ew = pipes[1][1]
        try:
            write_all(ew, envelope)
        except OSError:             # EPIPE: the child quit before reading it
            broken = True
        try:
            os.close(ew)
        except OSError:
            pass
    _, status = os.waitpid(pid, 0)
    current_pid = None
    if os.WIFSIGNALED(status):
        raise QmailDkimExit(exits.CHILD_CRASHED, "queue program %s killed by signal %d"
                            % (argv[0], os.WTERMSIG(status)))
    code = os.WEXITSTATUS(status)
    if broken and code == 0:
        # The child said "queued" without reading the whole message: we cannot
        # know what it queued. Temporary failure, so the sender retries.
        raise QmailDkimExit(exits.WRITE_ERROR, "queue program %s exited 0 before reading the whole message and envelope" % argv[0])
    return code


def _feed(w, prepend, spool, drop):
    """Write prepend + message (less drop ranges). True if the pipe broke."""
    try:
        if prepend:
            write_all(w, prepend)
        pos = 0
        for start, end in list(drop) + [(spool.size, spool.size)]:
            for chunk in spool.chunks(pos, start):
                write_all(w, chunk)
            pos = end
    except BrokenPipeError:
        return True
    except OSError as e:
        raise QmailDkimExit(exits.WRITE_ERROR, "cannot write to queue program: %s" % e.strerror)
    return False
