"""qmail-dkim as the client of qmail-dkimd (qmail-dkimd(8), CLIENT and PROTOCOL).

Runs before anything heavy is imported, so it imports only posix, sys and
_socket, all three built into the interpreter (socket.py would pull in enum
and selectors, ~15 ms; os alone costs ~1.5 ms of a ~13 ms client):

    code = delegate(posix.environ[b"DKIMSOCKET"])   # None: do the work in-process

bin/qmail-dkim loads this file by its path, before sys.path is set up
(load_by_path below), when DKIMSOCKET is set.

The hand-over is the sendmsg() that passes fds 0, 1 and 2. Before it, any
failure (no socket, stale socket, refusal, no hello within DKIMSOCKETTIMEOUT)
returns None and qmail-dkim runs in-process as without DKIMSOCKET. After it,
the only way back to in-process is an explicit refusal ("R"), which the
worker sends before it has touched any of the fds; anything else that is not
the exit status ("E") -- the worker killed, the server gone -- ends in a
temporary exit with a log line, and the worker's process group (the queue
program with it) is killed, so that nothing half-fed gets queued.
"""
import posix
import sys
import _socket

MAGIC = b"QDKIMD1"
MAX_REQUEST = 65536          # the server refuses anything larger (request size cap)
DEFAULT_WAIT = 1.0           # seconds for the connect + hello, DKIMSOCKETTIMEOUT
LOST_EXIT = 81               # temporary: qmail-queue's "internal bug" (EXIT CODES)


def _wait_bound(env):
    try:
        t = float(env.get(b"DKIMSOCKETTIMEOUT") or DEFAULT_WAIT)
    except ValueError:
        return DEFAULT_WAIT
    return t if 0 < t <= 60 else DEFAULT_WAIT


def encode_request(argv, envb, cwd, umask):
    """MAGIC NUL umask NUL cwd NUL argc NUL argv... envc NUL env... (each NUL-ended)."""
    items = [MAGIC, b"%o" % umask, cwd, b"%d" % len(argv)] + list(argv) + [b"%d" % len(envb)]
    items += [k + b"=" + v for k, v in envb.items()]
    if any(b"\0" in x for x in items):
        return None
    return b"\0".join(items) + b"\0"


def _fds_cmsg(fds):
    return b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)


def _fsencode(a):
    return a.encode(sys.getfilesystemencoding(), "surrogateescape")   # os.fsencode


def delegate(path, env=None):
    """Run this message in qmail-dkimd at `path` (bytes or str). `env`: the
    environment as bytes (posix.environ, the default). The exit status, or
    None when nothing was handed over (do it in-process)."""
    env = posix.environ if env is None else env
    if isinstance(path, str):
        path = _fsencode(path)
    if b"DKIMCUSTOMERROR" in env:
        # its reply text goes to a descriptor of its own (notqmail 6,
        # sagredo 4), which is not among the three handed over
        return None
    bound = _wait_bound(env)
    try:
        cwd = posix.getcwdb()
        umask = posix.umask(0o22)
        posix.umask(umask)
        req = encode_request([_fsencode(a) for a in sys.argv], env, cwd, umask)
    except (OSError, ValueError):
        return None
    if req is None or len(req) > MAX_REQUEST:
        return None
    try:
        s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
    except OSError:
        return None
    try:
        try:
            s.settimeout(bound)
            s.connect(path)
            hello = s.recv(64)
        except OSError:          # absent, stale, refused, full backlog, no hello in time
            return None
        pid = _parse_hello(hello)
        if pid is None or not _trusted_server(s, path):
            return None
        try:
            s.sendmsg([req], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, _fds_cmsg((0, 1, 2)))])
        except OSError:          # not sent: nothing handed over
            return None
        # Handed over. The worker ends within DEATH (it has the same alarm).
        try:
            death = int(env.get(b"DEATH") or 86400)
        except ValueError:
            death = 86400
        s.settimeout(max(death, 1) + 60)
        try:
            reply = s.recv(256)
        except OSError as e:
            reply = None
            why = "no answer from worker %d: %s" % (pid, e.strerror or e)
        else:
            why = "worker %d went away without an exit status" % pid
        if reply and reply[:2] == b"E " and reply[-1:] == b"\n" and reply[2:-1].isdigit():
            code = int(reply[2:-1])
            if code < 256:
                return code
        if reply and reply[:2] == b"R ":
            return None          # refused before any fd was used
        return _lost(pid, why, env)
    finally:
        s.close()


def _trusted_server(s, path):
    """Is the listener at `path` qmail-dkimd, not a local user squatting on a
    stale socket path? Before the descriptors go, the peer (SO_PEERCRED) must
    be root, our own uid, or the owner of the socket's directory when that
    directory is writable by nobody else (qmail-dkimd(8), CLIENT): only those
    can have made the socket. Anything else runs in-process."""
    try:
        cred = s.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 12)
        uid = int.from_bytes(cred[4:8], sys.byteorder)
        if uid == 0 or uid == posix.getuid():
            return True
        st = posix.stat(_directory_of(path))
    except (OSError, ValueError):
        return False
    return st.st_uid == uid and not st.st_mode & 0o022


def _directory_of(path):
    """os.path.dirname(os.path.abspath(path)) for bytes, without os."""
    if not path.startswith(b"/"):
        path = posix.getcwdb().rstrip(b"/") + b"/" + path
    parts = [p for p in path.split(b"/") if p and p != b"."]
    out = []
    for p in parts:
        if p == b"..":
            if out:
                out.pop()
        else:
            out.append(p)
    return b"/" + b"/".join(out[:-1])


def _parse_hello(hello):
    parts = hello.split(b" ")
    if len(parts) == 2 and parts[0] == MAGIC and parts[1][-1:] == b"\n" and parts[1][:-1].isdigit():
        pid = int(parts[1][:-1])
        if pid > 1:              # a process group we may kill (never 0: our own)
            return pid
    return None


def _lost(pid, why, env):
    """The worker is gone after the hand-over: kill its process group (the
    queue program may still be reading a message that will never be whole),
    log one line, temporary exit."""
    import _signal
    try:
        posix.killpg(pid, _signal.SIGKILL)
    except OSError:
        pass
    import os
    from qmail_dkim import logline, mode as modes
    mode = modes.select({os.fsdecode(k): os.fsdecode(v) for k, v in env.items()})[0]
    reason = "qmail-dkimd " + why
    fields = [("result", "error")] if mode == "sign" else [("status", "error"), ("action", "error")]
    fields += [("reason", reason), ("exit", LOST_EXIT)]
    _write(2, logline.format_line(mode, fields))
    return LOST_EXIT


def _write(fd, text):
    try:
        posix.write(fd, (text + "\n").encode("utf-8", "replace"))
    except OSError:
        pass
