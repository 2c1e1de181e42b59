"""qmail-dkimd: the resident worker (qmail-dkimd(8)).

One process with everything imported and warmed listens on a UNIX socket
(SOCK_SEQPACKET: one request is one packet, so it is read whole or refused).
For each connection it checks the peer's uid (SO_PEERCRED) against the allow
list and hands it to a worker -- a spare forked ahead, or one
forked now -- which

  1. makes itself a process-group leader (a kill of the group takes the queue
     program with it) and sends the hello "QDKIMD1 <pid>\\n";
  2. receives the request -- umask, cwd, argv, environment -- with exactly
     three fds (the client's 0, 1, 2) by SCM_RIGHTS, parses it strictly and
     refuses ("R <why>\\n") anything else before touching any fd;
  3. puts the fds on 0, 1, 2, takes the environment, argv, cwd and umask, and
     runs qmail_dkim.main.main() -- the very same per-message code as the
     in-process path -- with a SIGIO handler on the connection that, if the
     client goes away, logs it and kills the worker's process group;
  4. sends "E <exit status>\\n" and exits.

Keys: the worker tells the server (a pipe) which key files it read; the
server reads them too, so the next forks find them in privkey's cache,
keyed by the file's device, inode, size and mtime (a new key file is simply
a cache miss: rollover needs no restart).

See client.py for the other side and what happens when things fail.
"""
import errno
import fcntl
import gc
import os
import select
import signal
import socket
import struct
import sys

from qmail_dkim.daemon.client import MAGIC, MAX_REQUEST

REQUEST_WAIT = 10.0          # seconds a worker waits for the request after its hello
MAX_FDS_ROOM = 8             # room for more fds than expected, to see (and refuse) them
KEY_CACHE_MAX = 256
_UCRED = struct.Struct("3i")


def log(text):
    try:
        os.write(_server_log_fd, ("qmail-dkimd: %s\n" % text).encode("utf-8", "replace"))
    except OSError:
        pass


_server_log_fd = 2


class RequestError(ValueError):
    pass


def parse_request(data):
    """(umask, cwd, argv, env) from a request packet; RequestError if it is
    not exactly what client.encode_request makes."""
    if not data.endswith(b"\0"):
        raise RequestError("request not NUL-terminated")
    items = data[:-1].split(b"\0")
    if len(items) < 5 or items[0] != MAGIC:
        raise RequestError("not a qmail-dkimd request")
    umask_s, cwd, argc_s = items[1], items[2], items[3]
    if not (1 <= len(umask_s) <= 4 and all(48 <= c <= 55 for c in umask_s)):
        raise RequestError("bad umask")
    umask = int(umask_s, 8)
    if umask > 0o777:
        raise RequestError("bad umask")
    if not cwd.startswith(b"/"):
        raise RequestError("cwd is not absolute")
    if not (argc_s.isdigit() and len(argc_s) <= 5):
        raise RequestError("bad argc")
    argc = int(argc_s)
    if argc < 1 or 4 + argc >= len(items):
        raise RequestError("bad argc")
    argv = items[4:4 + argc]
    envc_s = items[4 + argc]
    if not (envc_s.isdigit() and len(envc_s) <= 5):
        raise RequestError("bad envc")
    envc = int(envc_s)
    env_items = items[5 + argc:]
    if len(env_items) != envc:
        raise RequestError("environment count does not match")
    env = {}
    for e in env_items:
        k, sep, v = e.partition(b"=")
        if not sep or not k:
            raise RequestError("bad environment entry")
        if k in env:
            raise RequestError("environment variable twice")
        env[k] = v
    if b"DKIMCUSTOMERROR" in env:
        # its reply goes to a descriptor other than 0, 1, 2 (the client runs
        # such messages in-process)
        raise RequestError("DKIMCUSTOMERROR is not served")
    return umask, cwd, argv, env


def _received_fds(ancdata, flags):
    fds = []
    for level, kind, data in ancdata:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            n = len(data) // 4
            fds.extend(struct.unpack("%di" % n, data[:4 * n]))
    bad = None
    if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC):
        bad = "request or its fds truncated (too large)"
    elif len(ancdata) != 1 or len(fds) != 3:
        bad = "expected exactly 3 fds, got %d" % len(fds)
    if bad:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
        raise RequestError(bad)
    for fd in fds:
        os.fstat(fd)             # really open (raises OSError otherwise)
    return fds


# ---------------------------------------------------------------- worker

def _watch_client(conn, state):
    """The client sends nothing after its request, so its socket becoming
    readable or hung up means the client went away: then log it and kill
    the worker's process group (the queue program with it). The socket
    raises SIGIO (O_ASYNC) when that happens, and the handler checks; a
    signal instead of a watcher thread saves the thread's start, ~0.3 ms
    of CPU per message (qmail-dkimd(8), SPEED)."""
    fd = conn.fileno()

    def gone():
        p = select.poll()
        p.register(fd, select.POLLIN | select.POLLHUP | select.POLLRDHUP)
        return bool(p.poll(0))

    def on_sigio(signum, frame):
        if state["done"] or not gone():
            return
        try:
            from qmail_dkim import logline
            fields = ([("result", "error")] if state["mode"] == "sign"
                      else [("status", "error"), ("action", "error")])
            fields += [("reason", "client went away"), ("exit", 81)]
            os.write(2, (logline.format_line(state["mode"], fields) + "\n").encode("utf-8", "replace"))
        except Exception:        # noqa: BLE001 - the kill below matters more than the line
            pass
        log("worker %d: client went away; killing its queue program" % os.getpid())
        os.killpg(0, signal.SIGKILL)

    signal.signal(signal.SIGIO, on_sigio)
    fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_ASYNC)
    on_sigio(signal.SIGIO, None)     # gone before O_ASYNC was set


def worker(conn, key_w):
    """In the forked child: one message. Never returns."""
    code = 0
    try:
        _worker(conn, key_w)
    except BaseException as e:   # noqa: BLE001 - a worker must end with _exit
        log("worker %d: %s: %s" % (os.getpid(), type(e).__name__, e))
        code = 1
    os._exit(code)


def _worker(conn, key_w):
    global _server_log_fd
    os.setpgid(0, 0)
    _server_log_fd = os.dup(2)   # the server's log (close-on-exec); fd 2 becomes the client's
    conn.settimeout(REQUEST_WAIT)
    try:
        conn.sendall(MAGIC + b" %d\n" % os.getpid())
        data, ancdata, flags, _ = conn.recvmsg(MAX_REQUEST + 1, socket.CMSG_SPACE(4 * MAX_FDS_ROOM))
    except OSError:
        return                   # the client gave up before the hand-over
    if not data and not ancdata:
        return
    try:
        fds = _received_fds(ancdata, flags)
        umask, cwd, argv, env = parse_request(data)
        os.chdir(cwd)
    except (RequestError, OSError) as e:
        log("worker %d: refused request: %s" % (os.getpid(), e))
        try:
            conn.sendall(b"R %s\n" % str(e).encode("ascii", "replace")[:200])
        except OSError:
            pass
        return
    # From here on the fds are ours to use: no refusal any more.
    os.umask(umask)
    os.environ.clear()
    for k, v in env.items():
        os.environb[k] = v
    sys.argv = [os.fsdecode(a) for a in argv]
    for i, fd in enumerate(fds):
        if fd != i:
            os.dup2(fd, i)
    for fd in set(fds):          # > 2: main() made sure 0, 1, 2 were open
        if fd > 2:
            os.close(fd)
    conn.settimeout(None)
    from qmail_dkim import mode as modes
    from qmail_dkim import main as qmain
    from qmail_dkim.dkim import privkey
    state = {"done": False, "mode": modes.select(os.environ)[0]}
    privkey.on_load = lambda path, st: _tell_server(key_w, path, st)
    _watch_client(conn, state)
    try:
        code = qmain.main(sys.argv[1:])
    except BaseException:        # noqa: BLE001 - main handles its own; never 0 here
        code = 81
    state["done"] = True
    # let go of the client's fds before it exits with our status
    null = os.open(os.devnull, os.O_RDWR)
    for i in (0, 1, 2):
        os.dup2(null, i)
    conn.sendall(b"E %d\n" % code)


def _spare(chan, key_w):
    """A worker forked ahead: wait for a connection from the server, then
    serve it. EOF (the server stopped or died): exit. Never returns. (It
    does not rehearse: the server did, once, before any fork; a rehearsal
    per spare would take its copy-on-write faults off the message, ~1.5 ms,
    for ~2.5 ms more CPU per message.)"""
    fd = None
    try:
        chan.sendall(b"R")           # ready
        data, anc, _, _ = chan.recvmsg(1, socket.CMSG_SPACE(4))
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS and len(payload) >= 4:
                fd = struct.unpack("i", payload[:4])[0]
        chan.close()
    except OSError:
        os._exit(0)
    if not data or fd is None:
        os._exit(0)
    worker(socket.socket(fileno=fd), key_w)


def _tell_server(key_w, path, st):
    line = b"K %d %d %d %d %s\n" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                     os.fsencode(os.path.abspath(path)))
    if len(line) <= select.PIPE_BUF and b"\n" not in line[:-1]:
        try:
            os.write(key_w, line)
        except OSError:
            pass


# ---------------------------------------------------------------- rehearsal

REHEARSAL_MESSAGE = (b"From: Rehearsal <r@rehearsal.example>\nTo: r@rehearsal.example\n"
                     b"Subject: qmail-dkimd rehearsal\nDate: Sun, 22 Nov 2026 07:00:00 +0000\n"
                     b"Message-ID: <rehearsal@rehearsal.example>\n\n"
                     + b"A line of the rehearsal message body, with  two spaces.\n" * 30)


class Rehearsal:
    """A message the server runs through main.main() once at start
    (run_in_server), so that what the per-message code computes on first
    use is done before any worker is forked. Sign mode, a key
    of its own (generated at start, cached like the others) in a scratch
    directory next to the socket, a queue program that does not exist (the
    run ends where the queue program would start), the log on /dev/null."""

    @staticmethod
    def make_key():
        """A fresh PEM key, made by `cryptography` in a child process (before
        root is given up: it imports), so that the server's image, which
        every worker is forked from, does not carry that library: fewer
        pages for each worker to copy (qmail-dkimd(8), SPEED)."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                os.close(r)
                from cryptography.hazmat.primitives import serialization
                from cryptography.hazmat.primitives.asymmetric import rsa
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                pem = key.private_bytes(serialization.Encoding.PEM,
                                        serialization.PrivateFormat.TraditionalOpenSSL,
                                        serialization.NoEncryption())
                while pem:
                    pem = pem[os.write(w, pem):]
                code = 0
            except BaseException as e:   # noqa: BLE001 - said below, by the parent
                os.write(w, b"\0" + str(e).encode("utf-8", "replace")[:200])
            os._exit(code)
        os.close(w)
        chunks = []
        try:
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(r)
            _, status = os.waitpid(pid, 0)
        data = b"".join(chunks)
        if status != 0 or not data.startswith(b"-----BEGIN"):
            raise RuntimeError("cannot make a key: %s" % data[1:].decode("utf-8", "replace")
                               if data[:1] == b"\0" else "cannot make a key")
        return data

    def __init__(self, scratch, pem):
        self.dir = scratch
        keydir = os.path.join(scratch, "control", "domainkeys", "rehearsal.example")
        os.makedirs(keydir, mode=0o700, exist_ok=True)
        keyfile = os.path.join(keydir, "default")
        self._write(keyfile, pem)
        self.message = os.path.join(scratch, "message")
        self._write(self.message, REHEARSAL_MESSAGE)
        self.envelope = os.path.join(scratch, "envelope")
        self._write(self.envelope, b"Fr@rehearsal.example\0Tr@rehearsal.example\0\0")
        self.env = {"PATH": "/usr/bin:/bin", "QMAILHOME": scratch, "TMPDIR": scratch,
                    "RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default",
                    "DKIMQUEUE": os.path.join(scratch, "no-queue-program")}
        st = os.stat(keyfile)
        _cache_key(b"K %d %d %d %d %s" % (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns,
                                          os.fsencode(keyfile)))
        # Its signature is really made (through OpenSSL, as the server's
        # keys are): OpenSSL's first signature in a process fetches and sets
        # up its RSA methods, ~2 ms that every worker would otherwise pay.
        # (Not a real key's first signature: that would also set up the
        # key's blinding, which every worker would then share.)

    @staticmethod
    def _write(path, data):
        fd = os.open(path + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
        os.rename(path + ".tmp", path)

    def run(self):
        from qmail_dkim import main as qmain
        saved = [os.dup(i) for i in (0, 1, 2)]
        try:
            for i, (path, flags) in enumerate(((self.message, os.O_RDONLY), (self.envelope, os.O_RDONLY),
                                               (os.devnull, os.O_WRONLY))):
                fd = os.open(path, flags)
                os.dup2(fd, i)
                os.close(fd)
            os.environ.clear()
            os.environ.update(self.env)
            sys.argv = ["qmail-dkim"]
            qmain.main([])
        except BaseException:        # noqa: BLE001 - a rehearsal never matters
            pass
        finally:
            for i, fd in enumerate(saved):
                os.dup2(fd, i)
                os.close(fd)


    def run_in_server(self):
        """The rehearsal once in the server itself, at start: whatever the
        per-message code computes on first use (compiled patterns, modules
        imported inside functions, caches) is then in the image every
        worker is forked from, instead of being redone in each. Everything
        main() changes in the process is put back: working directory,
        umask, environment, argv, the signals it sets and its alarm."""
        cwd, umask = os.open(".", os.O_RDONLY | os.O_DIRECTORY), os.umask(0o077)
        os.umask(umask)
        env, argv = dict(os.environ), sys.argv
        sigs = {n: signal.getsignal(n) for n in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGALRM)}
        try:
            self.run()
        finally:
            signal.alarm(0)
            for n, h in sigs.items():
                signal.signal(n, h)
            os.environ.clear()
            os.environ.update(env)
            sys.argv = argv
            os.umask(umask)
            os.fchdir(cwd)
            os.close(cwd)


rehearsal = None


# ---------------------------------------------------------------- server

class Server:
    def __init__(self, path, allow, max_workers=64, spares=2):
        self.path = path
        self.allow = set(allow)
        self.max_workers = max_workers
        self.spare_count = spares
        self.spares = {}         # pid -> our end of the socketpair a spare waits on
        self.ready = {}          # the spares that said they are ready: fd -> pid
        self.workers = set()     # every child: spares and workers
        self.sock = None
        self.stopping = False
        self.inode = None
        self.connections = 0     # workers started

    # -- set-up
    def bind(self):
        """Bind the socket; a stale socket file (nobody listening) is replaced,
        a live one is an error."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            s.bind(self.path)
        except OSError as e:
            if e.errno != errno.EADDRINUSE:
                raise
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            probe.settimeout(1.0)
            try:
                probe.connect(self.path)
            except OSError:
                os.unlink(self.path)         # stale: nobody listens
                s.bind(self.path)
            else:
                probe.close()
                raise SystemExit("qmail-dkimd: another server is listening on %s" % self.path)
            finally:
                probe.close()
        os.chmod(self.path, 0o660)
        s.listen(128)
        self.sock = s
        self.inode = os.stat(self.path).st_ino
        return s

    def serve(self):
        key_r, key_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        wake_r, wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        poller = select.poll()
        self.poller = poller
        self.chans = {}          # fd of a spare's socketpair -> pid
        poller.register(wake_r, select.POLLIN)
        poller.register(key_r, select.POLLIN)
        listening = False
        gc.collect()
        gc.freeze()              # what is here now is shared with every fork, never scanned
        key_buf = b""
        close_in_child = (key_r, wake_r, wake_w)
        while not self.stopping:
            if len(self.workers) == len(self.spares):
                # Idle (no message in a worker): fork spares now. Not while a
                # message runs: a spare's fork would take CPU from it
                # (qmail-dkimd(8), -p and SPEED).
                self._top_up(key_w, close_in_child)
            want = bool(self.ready) or len(self.workers) < self.max_workers  # else: the backlog waits
            if want and not listening:
                poller.register(self.sock.fileno(), select.POLLIN)
            elif listening and not want:
                poller.unregister(self.sock.fileno())
            listening = want
            try:
                events = poller.poll()
            except InterruptedError:
                events = []
            for fd, ev in events:
                if fd in self.chans:
                    self._spare_said(fd, poller)
                elif fd == wake_r:
                    try:
                        while os.read(wake_r, 512):
                            pass
                    except BlockingIOError:
                        pass
                elif fd == key_r:
                    key_buf = self._read_keys(key_r, key_buf)
                elif not self.stopping:
                    self._accept(key_w, close_in_child)
            self._reap()
        log("stopping after %d connections: not accepting any more; %d workers finish on their own"
            % (self.connections, len(self.workers) - len(self.spares)))
        self.sock.close()
        for pid in list(self.spares):
            self._forget_spare(pid).close()   # the spares see EOF and exit
        try:
            if os.stat(self.path).st_ino == self.inode:
                os.unlink(self.path)
        except OSError:
            pass

    def _on_signal(self, signum, frame):
        if signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.stopping = True

    def _accept(self, key_w, close_in_child):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        try:
            pid, uid, gid = _UCRED.unpack(conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size))
        except OSError:
            conn.close()
            return
        if uid not in self.allow:
            log("refused a connection from uid %d (pid %d): not in the allow list" % (uid, pid))
            conn.close()
            return
        while self.ready:            # a worker forked beforehand
            spare = self.ready.popitem()[1]
            chan = self._forget_spare(spare)
            try:
                chan.sendmsg([b"C"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("i", conn.fileno()))])
            except OSError:
                continue             # it died: the reaper counts it
            finally:
                chan.close()
            conn.close()
            self.connections += 1
            return
        child = self._fork(close_in_child)
        if child is None:
            conn.close()
            return
        if child == 0:
            worker(conn, key_w)
        conn.close()
        self.connections += 1

    def _fork(self, close_in_child):
        """fork(); in the child, the server's signals, sockets and pipes put
        away. None if fork failed."""
        try:
            child = os.fork()
        except OSError as e:
            log("cannot fork: %s" % e.strerror)
            return None
        if child == 0:
            try:
                signal.set_wakeup_fd(-1)
                for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    signal.signal(sig, signal.SIG_DFL)
                self.sock.close()
                for fd in close_in_child:
                    os.close(fd)
                for chan in self.spares.values():
                    chan.close()     # only the server may hold them: EOF when it is gone
                gc.disable()
            except BaseException:   # noqa: BLE001
                os._exit(1)
            return 0
        self.workers.add(child)
        return child

    def _top_up(self, key_w, close_in_child):
        """Keep spare_count workers forked ahead, each waiting for the server
        to hand it a connection (SCM_RIGHTS on its own socketpair)."""
        while len(self.spares) < self.spare_count and len(self.workers) < self.max_workers:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            child = self._fork(close_in_child)
            if child is None:
                ours.close()
                theirs.close()
                return
            if child == 0:
                ours.close()
                _spare(theirs, key_w)
            theirs.close()
            self.spares[child] = ours
            self.chans[ours.fileno()] = child
            self.poller.register(ours.fileno(), select.POLLIN)

    def _spare_said(self, fd, poller):
        """A spare wrote "R" (ready) or went away (EOF)."""
        try:
            said = os.read(fd, 1)
        except OSError:
            said = b""
        pid = self.chans[fd]
        if said == b"R":
            self.ready[fd] = pid
        else:
            self._forget_spare(pid).close()

    def _forget_spare(self, pid):
        """Stop watching a spare's socketpair; return it."""
        chan = self.spares.pop(pid)
        fd = chan.fileno()
        self.chans.pop(fd, None)
        self.ready.pop(fd, None)
        self.poller.unregister(fd)
        return chan

    def _reap(self):
        while self.workers:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.workers.clear()
                return
            if pid == 0:
                return
            self.workers.discard(pid)
            if pid in self.spares:
                self._forget_spare(pid).close()
            if os.WIFSIGNALED(status):
                # Its queue program may still be reading a message that will
                # never be whole: kill the worker's group (the client does too).
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    pass
                log("worker %d killed by signal %d" % (pid, os.WTERMSIG(status)))

    def _read_keys(self, fd, buf):
        try:
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
        except BlockingIOError:
            pass
        *lines, buf = buf.split(b"\n")
        for line in lines:
            _cache_key(line)
        return buf[-4096:]


def _cache_key(line):
    from qmail_dkim.dkim import privkey
    parts = line.split(b" ", 5)
    if len(parts) != 6 or parts[0] != b"K" or not all(p.isdigit() for p in parts[1:5]):
        return
    ident = tuple(int(p) for p in parts[1:5])
    path = os.fsdecode(parts[5])
    if ident in privkey.cache:
        return
    if len(privkey.cache) >= KEY_CACHE_MAX:
        privkey.cache.clear()
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != ident:
                return           # changed since the worker read it: the next one will tell
            data = f.read(1 << 20)
        key = privkey.parse_private_key(data, path, st.st_mode)
    except (OSError, privkey.KeyFileError):
        return
    if key.kind == "rsa":
        key.fast = openssl_signer(key)
    privkey.cache[ident] = key


def openssl_signer(key):
    """sign(hashobj) for an RSA PrivateKey through OpenSSL (dkim/ossl.py,
    the key parsed once here and inherited by every worker): ~1 ms instead
    of ~8 ms in pure Python, and the same octets (PKCS#1 v1.5 is
    deterministic). None if OpenSSL cannot be used; a signature it fails
    to make is None too, and PrivateKey.sign_rsa then signs as without it."""
    from qmail_dkim.dkim import ossl, privkey
    k = ossl.Key(privkey.pkcs1_der(key._rsa), (key.bits + 7) // 8)
    if not k.prepare("sha256"):      # here, once, not in every worker
        return None
    return lambda hashobj: k.sign(hashobj.name.lower(), hashobj.digest())


# ---------------------------------------------------------------- start-up

def warm():
    """Import everything the per-message path may use, once."""
    from qmail_dkim import main, config, envelope, spool, child, logline, mode  # noqa: F401
    from qmail_dkim.sign import run as _s, options, keypath, headers  # noqa: F401
    from qmail_dkim.verify import run as _v, status, practice, authresults, keys  # noqa: F401
    from qmail_dkim.dkim import bodyhash, signer, verifier, privkey, lib, keyrecord  # noqa: F401
    from qmail_dkim.dns import txt, client  # noqa: F401
    from qmail_dkim.verify import dmarcverify  # noqa: F401 - DMARCVERIFY
    from qmail_dkim.dmarc import evaluate, walk, record  # noqa: F401
    from qmail_dkim.spf import check, message  # noqa: F401
    from qmail_dkim.arc import chain, aar  # noqa: F401 - ARC fields
    from qmail_dkim.verify import arcsealers  # noqa: F401 - control/arcsealers
    import encodings.idna  # noqa: F401 - IDNA From: domains
    try:
        import _hashlib  # noqa: F401 - OpenSSL hashes: bodyhash uses them once loaded (big bodies)
    except ImportError:
        pass
    openssl = None
    try:                         # RSA keys before the cache has them, Ed25519 keys
        from qmail_dkim.dkim import ossl
        openssl = ossl.library()
    except Exception:            # noqa: BLE001 - then privkey signs in Python / PyNaCl
        pass
    if openssl is None:
        try:                     # Ed25519 without OpenSSL (~2 MB; at start, so that RSS stays flat)
            lib.nacl()
        except ImportError:
            pass
    privkey.cache = {}


def _uid_of(name):
    import pwd
    if name.isdigit():
        return int(name)
    return pwd.getpwnam(name).pw_uid


USAGE = "usage: qmail-dkimd [-u account] [-a user[,user...]] [-n maxworkers] [-p spares] socket"
HELP = USAGE + """
       qmail-dkimd --help | --version
  -u account  run as this account (qmaild), started as root
  -a users    also serve these users' connections (names or uids)
  -n max      at most this many messages at once (default 64)
  -p spares   workers forked ahead (default 2)
qmail-dkim hands it the message when DKIMSOCKET=socket is set.
See qmail-dkimd(8): man 8 qmail-dkimd
"""


def parse_args(argv):
    opts = {"user": None, "allow": [], "max": 64, "spares": 2, "path": None}
    args = list(argv)
    if args in (["--help"], ["--version"]):
        # every command answers --help and --version (README, step 1)
        from qmail_dkim import __version__
        sys.stdout.write(HELP if args[0] == "--help" else
                         "qmail-dkimd (qmail-dkim) %s\n" % __version__)
        raise SystemExit(0)
    while args:
        a = args.pop(0)
        if a in ("-u", "-a", "-n", "-p") and args:
            v = args.pop(0)
            if a == "-u":
                opts["user"] = v
            elif a == "-a":
                opts["allow"] += [x for x in v.split(",") if x]
            elif a == "-p":
                if not v.isdigit():
                    raise SystemExit(USAGE)
                opts["spares"] = int(v)
            else:
                if not v.isdigit() or int(v) < 1:
                    raise SystemExit(USAGE)
                opts["max"] = int(v)
        elif a.startswith("-") or opts["path"]:
            raise SystemExit(USAGE)
        else:
            opts["path"] = a
    if not opts["path"]:
        raise SystemExit(USAGE)
    return opts


def prepare_dir(d, uid, gid, as_root):
    """The socket's directory: only the account (and its group) may enter.
    Root makes it when it is missing; one that exists is checked, never changed."""
    if as_root and not os.path.lexists(d):
        os.mkdir(d, 0o700)
        os.chown(d, uid, gid)
        os.chmod(d, 0o750)
    try:
        st = os.stat(d)
    except OSError as e:
        raise SystemExit("qmail-dkimd: socket directory %s: %s" % (d, e.strerror))
    if st.st_uid != uid or st.st_mode & 0o027:
        raise SystemExit("qmail-dkimd: socket directory %s must be owned by uid %d and not "
                         "writable by its group nor open to others (mode 0750 or 0700); "
                         "it is uid %d mode %04o" % (d, uid, st.st_uid, st.st_mode & 0o7777))


def main(argv=None):
    opts = parse_args(sys.argv[1:] if argv is None else argv)
    for fd in (0, 1, 2):         # so that received fds never land on 0, 1, 2
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)
    path = os.path.abspath(opts["path"])
    as_root = os.getuid() == 0 or os.geteuid() == 0
    if as_root:
        if not opts["user"]:
            raise SystemExit("qmail-dkimd: will not run as root; name the account with -u "
                             "(the one qmail-smtpd runs as, e.g. -u qmaild)")
        import pwd
        try:
            pw = pwd.getpwnam(opts["user"])
        except KeyError:
            raise SystemExit("qmail-dkimd: no account %r" % opts["user"])
        if pw.pw_uid == 0:
            raise SystemExit("qmail-dkimd: will not run as root (-u %s is uid 0)" % opts["user"])
        uid, gid = pw.pw_uid, pw.pw_gid
    else:
        uid, gid = os.getuid(), os.getgid()
        if opts["user"]:
            import pwd
            try:
                if pwd.getpwnam(opts["user"]).pw_uid != uid:
                    raise SystemExit("qmail-dkimd: -u %s needs root to switch account" % opts["user"])
            except KeyError:
                raise SystemExit("qmail-dkimd: no account %r" % opts["user"])
    try:
        allow = {uid} | {_uid_of(a) for a in opts["allow"]}
    except KeyError as e:
        raise SystemExit("qmail-dkimd: -a: no account %s" % e)
    prepare_dir(os.path.dirname(path), uid, gid, as_root)
    srv = Server(path, allow, opts["max"], min(opts["spares"], opts["max"]))
    old = os.umask(0o077)
    srv.bind()
    os.umask(old)
    # Everything imported before root is given up: the account may not be
    # able to read the interpreter's library (and never needs to).
    warm()
    pem = None
    try:
        pem = Rehearsal.make_key()
    except Exception as e:       # noqa: BLE001 - then nothing rehearses
        log("no rehearsal: %s" % e)
    if as_root:
        os.chown(path, uid, gid)
        os.initgroups(opts["user"], gid)
        os.setgid(gid)
        os.setuid(uid)
        if os.getuid() == 0 or os.geteuid() == 0:
            raise SystemExit("qmail-dkimd: could not give up root")
    global rehearsal
    if pem:
        try:
            rehearsal = Rehearsal(os.path.join(os.path.dirname(path), "rehearsal"), pem)
        except OSError as e:
            log("no rehearsal: %s" % e)
        else:
            rehearsal.run_in_server()
    log("listening on %s pid=%d uid=%d gid=%d allow=%s workers<=%d spares=%d" % (
        path, os.getpid(), os.getuid(), os.getgid(), ",".join(str(u) for u in sorted(allow)),
        opts["max"], min(opts["spares"], opts["max"])))
    srv.serve()
    return 0
