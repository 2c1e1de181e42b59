#!/usr/bin/env python3
"""Whole-process benchmark: qmail-dkim against opendkim-testmsg (see bench/README).

    python bench/bench.py [--runs N] [--big-runs M] [--sizes 2k,10m]
                          [--mode sign|verify|startup|all] [--body text|mime]

Prints a table of medians (ms), the ratio qmail-dkim / opendkim-testmsg and
qmail-dkim's peak RSS, then the targets and whether they were met. Exit 0
whenever the benchmark itself ran (a missed target is reported, not an error);
exit 2 when something it needs is missing or a check before timing failed.

Everything it starts it stops by pid; the only network traffic is DNS on
127.0.0.1 to the NSD it started itself (verify mode).
"""
import argparse
import base64
import os
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

DOMAIN = "example.com"
SELECTOR = "default"
VERIFY_LETTERS = "FGHIKLMNOQRTUVWjp"
TIME = "/usr/bin/time"
# The queue program, given on qmail-dkim's command line: like qmail-queue it
# reads all of fd 0 (the message) and then all of fd 1 (the envelope copy
# qmail-dkim hands it, read-only; qmail-dkim checks both were read), and
# keeps nothing.
QUEUE_ARGV = ["/bin/sh", "-c", "cat >/dev/null && exec cat <&1 >/dev/null"]
QUEUE_CHILD = "/bin/cat"
ENVELOPE = b"Fsomeone@example.com\0Tbob@example.net\0\0"   # fd 1 of every qmail-dkim run
DMARC_TARGET = 1.5                 # verify with SPF+DMARC / DKIM-only verify, per process
TARGETS = {("sign", "small"): 7.0, ("sign", "big"): 2.5, ("verify", "small"): 12.0}
NOSITE = "qmail-dkim -S (regular layout)"
REGULAR = "qmail-dkim (regular layout)"
SERVED = "qmail-dkim + qmail-dkimd"
# issue 13: the per-process path with its cheap wins, and through the server
VARIANT_TARGETS = {
    NOSITE: {("sign", "small"): 5.0, ("sign", "big"): 2.5, ("verify", "small"): 5.5},
    SERVED: {("sign", "small"): 2.5, ("sign", "big"): 2.5, ("verify", "small"): 3.0},
}
TP_FACTOR = 2.0                    # msgs/s with the server >= 2 x today's per-process program
RSS_LIMIT_KB = 60 * 1024           # qmail-dkim peak RSS on the 10 MB message
BIG = 1 << 20                      # sizes from 1 MiB up use --big-runs


class BenchError(Exception):
    pass


# ------------------------------------------------------------------ setup

def parse_size(text):
    m = re.fullmatch(r"\s*(\d+)\s*([kKmM]?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError("bad size %r (e.g. 2k, 10m)" % text)
    return int(m.group(1)) * {"": 1, "k": 1024, "m": 1 << 20}[m.group(2).lower()]


def size_label(n):
    if n % (1 << 20) == 0:
        return "%d MB" % (n >> 20)
    if n % 1024 == 0:
        return "%d KB" % (n >> 10)
    return "%d B" % n


HEADER = ("From: Someone <someone@example.com>\n"
          "To: Bob <bob@example.net>\n"
          "Subject: qmail-dkim benchmark message\n"
          "Date: Sun, 22 Nov 2026 07:00:00 +0000\n"
          "Message-ID: <bench.%d@example.com>\n"
          "MIME-Version: 1.0\n")

WORDS = ("the of and to in is that for it as was with be by on not he this are or "
         "his from at which but have an they you were her she there been one all "
         "message queue signature header body domain selector relaxed canonical key "
         "server mail delivery remote local qmail envelope recipient sender").split()


def _prose(rnd, size):
    """Plain text lines (LF), single spaces, sometimes two after a full stop,
    now and then trailing white space and an empty line: what relaxed body
    canonicalization has to work on in ordinary mail."""
    out = []
    n = 0
    while n < size:
        words = []
        width = 0
        target = rnd.randint(50, 72)
        while width < target:
            w = rnd.choice(WORDS)
            if rnd.random() < 0.08:
                w += ". "           # two spaces after a sentence
            words.append(w)
            width += len(w) + 1
        line = " ".join(words)
        if rnd.random() < 0.05:
            line += " \t"
        if rnd.random() < 0.05:
            line += "\n"
        line += "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode("ascii")


def make_message(size, body="text", seq=1):
    """A message of exactly `size` octets, LF line ends (as qmail stores it)."""
    rnd = random.Random(size * 7 + seq)
    head = (HEADER % seq).encode()
    if body == "mime" and size > 8192:
        head += (b'Content-Type: multipart/mixed; boundary="b1"\n\n'
                 b"--b1\nContent-Type: text/plain; charset=us-ascii\n\n")
        text = _prose(rnd, 1500)
        tail = b"\n--b1--\n"
        att_head = (b"\n--b1\nContent-Type: application/octet-stream\n"
                    b"Content-Transfer-Encoding: base64\n"
                    b'Content-Disposition: attachment; filename="data.bin"\n\n')
        room = size - len(head) - len(text) - len(att_head) - len(tail)
        raw = rnd.randbytes(room * 3 // 4 + 64)
        b64 = base64.encodebytes(raw)               # 76-column lines
        data = head + text + att_head + b64[:room]
        if not data.endswith(b"\n"):
            data = data[:-1] + b"\n"
        data += tail
    else:
        head += b"Content-Type: text/plain; charset=us-ascii\n\n"
        data = head + _prose(rnd, size - len(head))
        data = data[:size - 1] + b"\n"
    if len(data) != size:
        raise BenchError("message generator made %d octets, not %d" % (len(data), size))
    return data


def run_quiet(argv, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True, **kw)


def make_key(home):
    """RSA 2048, PEM, at $H/control/domainkeys/example.com/default; returns
    (key path, p= value)."""
    kdir = os.path.join(home, "control", "domainkeys", DOMAIN)
    os.makedirs(kdir)
    path = os.path.join(kdir, SELECTOR)
    run_quiet(["openssl", "genrsa", "-out", path, "2048"])
    os.chmod(path, 0o600)
    der = run_quiet(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"]).stdout
    return path, base64.b64encode(der).decode("ascii")


def find_qmail_dkim(given):
    if given:
        return given
    cand = os.path.join(os.path.dirname(sys.executable), "qmail-dkim")
    if os.access(cand, os.X_OK):
        return cand
    found = shutil.which("qmail-dkim")
    if not found:
        raise BenchError("qmail-dkim not found (pip install -e . or --qmail-dkim PATH)")
    return found


def interpreter_of(script):
    with open(script, "rb") as f:
        first = f.readline().decode("utf-8", "replace").strip()
    if not first.startswith("#!"):
        raise BenchError("%s has no #! line" % script)
    parts = first[2:].split()
    if os.path.basename(parts[0]) == "env":
        return shutil.which(parts[1])
    return parts[0]


def make_regular_layout(work, script, nosite=False, pkgroot=None, name="regular-venv", python=None,
                        server=False):
    """A throwaway venv in which qmail_dkim is a plain directory in its
    site-packages (as after a non-editable `pip install .`) and the dependencies come from
    the installed venv through a plain .pth line. This removes the
    import-hook cost of setuptools' editable install (about 13 ms, importing
    pathlib, fnmatch, urllib.parse and ipaddress at start-up), which a
    production install does not have. nosite: its #! line starts Python
    with -S (qmail-dkim then adds the venv's plain .pth paths itself).
    pkgroot: take qmail_dkim from there (a --baseline-rev tree). Returns
    the path of its qmail-dkim. python: make the venv from this Python
    (--python) instead of qmail-dkim's; the dependencies stay the ones
    installed for qmail-dkim's (same version: the same compiled modules).
    server: also bin/qmail-dkimd (#! the venv's python), as README step 8
    runs it from the venv step 1 made."""
    py = interpreter_of(script)
    info = run_quiet([py, "-c", "import os, sysconfig, qmail_dkim; "
                      "print(sysconfig.get_paths()['purelib']); "
                      "print(os.path.dirname(os.path.dirname(qmail_dkim.__file__)))"]).stdout
    purelib, own_root = info.decode().split("\n")[:2]
    pkgroot = pkgroot or own_root
    venv = os.path.join(work, name)
    run_quiet([python or py, "-m", "venv", "--without-pip", venv])
    vpy = os.path.join(venv, "bin", "python3")
    site = run_quiet([vpy, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                     ).stdout.decode().strip()
    # qmail_dkim copied into site-packages and byte-compiled, as pip
    # install puts it (qmail-dkim's client under -S finds it there by path);
    # the dependencies through a plain .pth line
    shutil.copytree(os.path.join(pkgroot, "qmail_dkim"), os.path.join(site, "qmail_dkim"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    run_quiet([vpy, "-m", "compileall", "-q", os.path.join(site, "qmail_dkim")])
    with open(os.path.join(site, "qmail_dkim_bench.pth"), "w") as f:
        f.write(purelib + "\n")
    src = script if pkgroot == own_root else os.path.join(pkgroot, "bin", "qmail-dkim")
    with open(src, "rb") as f:
        body = f.read().split(b"\n", 1)[1]
    out = os.path.join(venv, "bin", "qmail-dkim")
    with open(out, "wb") as f:
        f.write(b"#!" + vpy.encode() + (b" -S" if nosite else b"") + b"\n" + body)
    os.chmod(out, 0o755)
    if server:
        with open(os.path.join(pkgroot, "bin", "qmail-dkimd"), "rb") as f:
            body = f.read().split(b"\n", 1)[1]
        with open(os.path.join(venv, "bin", "qmail-dkimd"), "wb") as f:
            f.write(b"#!" + vpy.encode() + b"\n" + body)
        os.chmod(os.path.join(venv, "bin", "qmail-dkimd"), 0o755)
    return out


def baseline_tree(work, rev):
    """qmail_dkim/ and bin/qmail-dkim as of git revision `rev`, in a directory."""
    out = os.path.join(work, "baseline")
    os.makedirs(out)
    tar = run_quiet(["git", "-C", REPO, "archive", rev, "qmail_dkim", "bin/qmail-dkim"]).stdout
    subprocess.run(["tar", "-x", "-C", out], input=tar, check=True)
    return out


# ------------------------------------------------------------------ qmail-dkimd

def _terminate(p):
    """SIGTERM a server we started, SIGKILL after 5 s; wait for it."""
    if p is None or p.poll() is not None:
        return
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


class Dkimd:
    """qmail-dkimd (the one next to the client's qmail-dkim: the same venv
    and Python, as README steps 1 and 8 install it) on a socket in the
    work directory; stopped by its pid. Run as root, the benchmark starts it
    with -u nobody -a root, and lets nobody reach $QMAILHOME, the key and
    $TMPDIR."""

    def __init__(self, work, qd, home, tmp, key):
        self.work = work
        self.prog = os.path.join(os.path.dirname(qd), "qmail-dkimd")
        if not os.access(self.prog, os.X_OK):
            self.prog = os.path.join(os.path.dirname(interpreter_of(qd)), "qmail-dkimd")
        if not os.access(self.prog, os.X_OK):
            raise BenchError("%s not found (--no-server to skip it)" % self.prog)
        self.socket = os.path.join(work, "dkimd", "socket")
        self.log = os.path.join(work, "dkimd.log")
        self.proc = None
        self.argv = [self.prog, self.socket]
        if os.getuid() == 0:
            import pwd
            pw = pwd.getpwnam("nobody")
            self.argv = [self.prog, "-u", "nobody", "-a", "root", self.socket]
            for d in (work, home, os.path.join(home, "control"),
                      os.path.join(home, "control", "domainkeys"), os.path.dirname(key)):
                os.chmod(d, 0o755)
            os.chmod(tmp, 0o1777)
            os.chown(key, pw.pw_uid, pw.pw_gid)
        else:
            os.makedirs(os.path.dirname(self.socket), mode=0o700)

    def start(self):
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                         env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log, "rb") as f:
                if b"listening on" in f.read():
                    return self
            time.sleep(0.05)
        with open(self.log, errors="replace") as f:
            text = f.read()
        self.stop()
        raise BenchError("qmail-dkimd did not start: %s" % text[-1000:])

    def memory(self):
        """The server's own memory (the parent; workers are short-lived forks
        sharing its pages)."""
        pid = self.proc.pid
        with open("/proc/%d/status" % pid) as f:
            st = dict(l.split(":", 1) for l in f if ":" in l)
        pss = "?"
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss = line.split()[1]
        except OSError:
            pass
        return ("qmail-dkimd (pid %d) memory after the runs: VmRSS %s, VmHWM %s, Pss %s kB"
                % (pid, st.get("VmRSS", "?").strip(), st.get("VmHWM", "?").strip(), pss))

    def stop(self):
        _terminate(self.proc)
        self.proc = None


# ------------------------------------------------------------------ NSD

def free_port():
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                t.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise BenchError("no free port on 127.0.0.1")


def txt_strings(value):
    data = value.encode("ascii")
    return " ".join('"%s"' % data[i:i + 255].decode() for i in range(0, len(data), 255))


class Nsd:
    """NSD on 127.0.0.1:<high port>, foreground (-d), in its own session;
    stopped by its pid (SIGTERM, then SIGKILL to the process group it made)."""

    def __init__(self, work, records):
        self.dir = os.path.join(work, "nsd")
        os.makedirs(self.dir)
        self.records = records
        self.proc = None
        self.port = None
        self.nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        if not os.access(self.nsd, os.X_OK):
            raise BenchError("nsd not found (apt-get install nsd)")

    def _write(self):
        d = self.dir
        zone = ["$ORIGIN %s." % DOMAIN, "$TTL 300",
                "@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300" % (DOMAIN, DOMAIN),
                "@ IN NS ns.%s." % DOMAIN, "ns IN A 127.0.0.1"]
        zone += ["%s IN TXT %s" % (name, txt_strings(value)) for name, value in self.records]
        with open(os.path.join(d, "zone"), "w") as f:
            f.write("\n".join(zone) + "\n")
        conf = ["server:", "    ip-address: 127.0.0.1", "    port: %d" % self.port,
                '    username: ""', '    chroot: ""', '    zonesdir: "%s"' % d,
                '    database: ""', '    zonelistfile: "%s/zone.list"' % d,
                '    xfrdfile: "%s/xfrd.state"' % d, '    xfrdir: "%s"' % d,
                '    pidfile: "%s/nsd.pid"' % d, '    logfile: "%s/nsd.log"' % d,
                "    server-count: 1", "    do-ip6: no", "    reuseport: no",
                "    verbosity: 1", "remote-control:", "    control-enable: no",
                "zone:", '    name: "%s"' % DOMAIN, '    zonefile: "zone"']
        path = os.path.join(d, "nsd.conf")
        with open(path, "w") as f:
            f.write("\n".join(conf) + "\n")
        return path

    def _answers(self):
        qid = os.urandom(2)
        name = b"".join(bytes([len(p)]) + p for p in
                        ("%s._domainkey.%s" % (SELECTOR, DOMAIN)).encode().split(b".")) + b"\0"
        pkt = qid + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + name + b"\x00\x10\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.3)
            try:
                s.sendto(pkt, ("127.0.0.1", self.port))
                data = s.recv(4096)
            except OSError:
                return False
        # our id, rcode 0, at least one answer
        return data[:2] == qid and data[3] & 0x0F == 0 and int.from_bytes(data[6:8], "big") > 0

    def start(self):
        last = ""
        for _ in range(3):
            self.port = free_port()
            conf = self._write()
            err = open(os.path.join(self.dir, "stderr"), "wb")
            self.proc = subprocess.Popen([self.nsd, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, cwd=self.dir,
                                         start_new_session=True)
            err.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                if self._answers():
                    return self
                time.sleep(0.02)
            for name in ("stderr", "nsd.log"):
                try:
                    with open(os.path.join(self.dir, name), errors="replace") as f:
                        last += f.read()
                except OSError:
                    pass
            self.stop()
        raise BenchError("nsd did not start:\n" + last[-2000:])

    @property
    def dnscacheip(self):
        return "127.0.0.1:%d" % self.port

    def stop(self):
        p = self.proc
        if p is None:
            return
        _terminate(p)
        try:
            os.killpg(p.pid, signal.SIGKILL)      # the group nsd -d made for its children
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None


# ------------------------------------------------------------------ running

class Runner:
    def __init__(self, work):
        self.devnull = os.open(os.devnull, os.O_RDWR)
        self.errpath = os.path.join(work, "stderr")
        # qmail-dkim reads the envelope after the message (as qmail-queue
        # does): every qmail-dkim run gets this file on fd 1, read-only
        self.envelope = os.path.join(work, "envelope")
        with open(self.envelope, "wb") as f:
            f.write(ENVELOPE)

    def once(self, argv, env, infile, out_fd=None, out_path=None):
        """Spawn argv with fd 0 = infile, fd 1 = /dev/null (or out_fd), fd 2 =
        a file; wait for it. Returns (seconds, ru_maxrss, exit code, stderr).
        posix_spawn (vfork) keeps the start cheap, but for that reason
        ru_maxrss here is inflated by this process's own size: peak RSS is
        measured separately (peak_rss)."""
        fin = os.open(infile, os.O_RDONLY)
        ferr = os.open(self.errpath, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        fout = os.open(out_path, os.O_RDONLY) if out_path else None
        if fout is not None:
            out_fd = fout
        try:
            acts = [(os.POSIX_SPAWN_DUP2, fin, 0),
                    (os.POSIX_SPAWN_DUP2, self.devnull if out_fd is None else out_fd, 1),
                    (os.POSIX_SPAWN_DUP2, ferr, 2)]
            t0 = time.perf_counter()
            pid = os.posix_spawn(argv[0], argv, env, file_actions=acts)
            _, status, ru = os.wait4(pid, 0)
            elapsed = time.perf_counter() - t0
            err = os.pread(ferr, 65536, 0)
        finally:
            os.close(fin)
            os.close(ferr)
            if fout is not None:
                os.close(fout)
        code = os.waitstatus_to_exitcode(status)
        return elapsed, ru.ru_maxrss, code, err.decode("utf-8", "replace")

    def peak_rss(self, argv, env, infile, reps=3, out_path=None):
        """Peak RSS (KiB) of argv, the largest over `reps` runs, measured by
        /usr/bin/time -f %M: a small C parent, so the number is the program's
        own (with posix_spawn or fork from this Python process the child's
        high-water mark starts at this process's size). %M is the largest
        of the program and the children it waited for (the queue program)."""
        if not os.access(TIME, os.X_OK):
            return None
        out = os.path.join(os.path.dirname(self.errpath), "rss")
        peak = 0
        for _ in range(reps):
            _, _, code, err = self.once([TIME, "-f", "%M", "-o", out] + list(argv), env, infile,
                                        out_path=out_path)
            with open(out) as f:
                text = f.read().split()
            if code != 0 or not text:
                raise BenchError("%s under %s failed (exit %s): %s" % (argv[0], TIME, code, err[-400:]))
            peak = max(peak, int(text[-1]))
        return peak

    def capture(self, argv, env, infile, qmail_dkim=False):
        """Run argv, return (code, what it wrote, stderr). qmail_dkim: argv
        runs qmail-dkim, which gets the envelope on fd 1 and hands its queue
        program a copy of it there: the queue program becomes
        `sh -c 'exec cat > FILE'` (given on qmail-dkim's command line)."""
        fd, path = tempfile.mkstemp(dir=os.path.dirname(self.errpath))
        try:
            if qmail_dkim:
                _, _, code, err = self.once(list(argv) + ["/bin/sh", "-c",
                                                          'cat > "$0" && exec cat <&1 >/dev/null', path],
                                            env, infile, out_path=self.envelope)
            else:
                _, _, code, err = self.once(argv, env, infile, out_fd=fd)
            with open(path, "rb") as f:
                out = f.read()
        finally:
            os.close(fd)
            os.unlink(path)
        return code, out, err


def log_line(err):
    for line in err.splitlines():
        if line.startswith("qmail-dkim: mode="):
            return line
    return None


def check_signature(message, pubkey_b64, who):
    """Verify the first DKIM-Signature of `message` with dkimpy (key given
    directly, no DNS): proof that the program we time really signs."""
    try:
        import dkim
    except ImportError:
        return "(dkimpy not importable here: signature not checked)"
    if b"DKIM-Signature:" not in message:
        raise BenchError("%s output has no DKIM-Signature:\n%r" % (who, message[:500]))
    rec = ("v=DKIM1; k=rsa; p=%s" % pubkey_b64).encode()

    def dnsfunc(name, timeout=5):
        return rec
    crlf = message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    if not dkim.verify(crlf, dnsfunc=dnsfunc):
        raise BenchError("%s made a DKIM-Signature that does not verify" % who)
    m = re.search(rb"DKIM-Signature:.*?(?=\r?\n\S)", message, re.S)
    sig = m.group(0).decode() if m else ""
    a = re.search(r"\ba=([\w-]+)", sig)
    c = re.search(r"\bc=([\w/]+)", sig)
    return "verifies (a=%s c=%s)" % (a.group(1) if a else "?", c.group(1) if c else "simple/simple")


def measure(runner, entries, runs, warmup=1):
    """entries: [(name, argv, env, infile, check(code, err) -> None[, fd1 file])];
    interleaved: round i runs every entry once, order rotated each round.
    With a sixth item, fd 1 is that file (read-only: the envelope) instead
    of /dev/null."""
    times = {e[0]: [] for e in entries}
    for i in range(warmup + runs):
        k = i % len(entries)
        for entry in entries[k:] + entries[:k]:
            name, argv, env, infile, check = entry[:5]
            t, _, code, err = runner.once(argv, env, infile, out_path=_fd1(entry))
            check(code, err)
            if i >= warmup:
                times[name].append(t)
    rss = {e[0]: runner.peak_rss(e[1], e[2], e[3], out_path=_fd1(e)) for e in entries}
    return times, rss


def _fd1(entry):
    return entry[5] if len(entry) > 5 else None


def qd_check(want):
    def check(code, err):
        line = log_line(err)
        if code != 0 or not line or want not in line:
            raise BenchError("qmail-dkim run failed (exit %s): %s" % (code, err.strip()[-800:]))
    return check


def od_check(code, err):
    if code != 0:
        raise BenchError("opendkim-testmsg failed (exit %s): %s" % (code, err.strip()[-400:]))


# ------------------------------------------------------------------ modes

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="qmail-dkim-bench.")
        self.home = os.path.join(self.work, "home")
        self.tmp = os.path.join(self.work, "tmp")
        os.makedirs(self.home)
        os.makedirs(self.tmp)
        self.runner = Runner(self.work)
        self.qd = find_qmail_dkim(args.qmail_dkim)
        self.odkim = shutil.which("opendkim-testmsg") or "/usr/sbin/opendkim-testmsg"
        if not os.access(self.odkim, os.X_OK):
            raise BenchError("opendkim-testmsg not found (apt-get install opendkim-tools)")
        if not os.access(QUEUE_CHILD, os.X_OK):
            raise BenchError("%s not found" % QUEUE_CHILD)
        self.key, self.pub = make_key(self.home)
        self.variants = [("qmail-dkim", self.qd, {})]       # (name, program, extra env)
        self.server = None
        self.baseline = None
        if args.baseline_rev:
            tree = baseline_tree(self.work, args.baseline_rev)
            self.baseline = "qmail-dkim @%s (regular)" % args.baseline_rev[:12]
            self.variants.append((self.baseline, make_regular_layout(
                self.work, self.qd, pkgroot=tree, name="baseline-venv", python=args.python), {}))
        if not args.no_regular:
            self.variants.append((REGULAR,
                                  make_regular_layout(self.work, self.qd, python=args.python), {}))
            self.variants.append((NOSITE, make_regular_layout(
                self.work, self.qd, nosite=True, name="nosite-venv", python=args.python), {}))
        if not args.no_server:
            client = (make_regular_layout(self.work, self.qd, nosite=True, name="client-venv",
                                          python=args.python, server=True)
                      if not args.no_regular else self.qd)
            self.server = Dkimd(self.work, client, self.home, self.tmp, self.key).start()
            self.variants.append((SERVED, client, {"DKIMSOCKET": self.server.socket}))
        self.rows = []          # (label, {name: (median ms, peak rss)}, ratio key)
        self.verdicts = []
        self.notes = []
        self.odkim_cmd = None
        self.nsd = None

    def close(self):
        if self.nsd:
            self.nsd.stop()
        if self.server:
            self.server.stop()
        os.close(self.runner.devnull)
        if not self.args.keep:
            shutil.rmtree(self.work, ignore_errors=True)

    def message_file(self, size, name):
        path = os.path.join(self.work, "%s.%d.eml" % (name, size))
        if not os.path.exists(path):
            with open(path, "wb") as f:
                f.write(make_message(size, self.args.body))
        return path

    def env_base(self):
        return {"PATH": "/usr/bin:/bin", "QMAILHOME": self.home, "TMPDIR": self.tmp,
                "DKIMQUEUE": "/bin/true"}     # not used: the queue program is on the command line

    def sign_env(self):
        env = self.env_base()
        env.update({"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"})
        return env

    def odkim_argv(self):
        # -C: keep CRLF in the signature header it prints; without it, its
        # CR-removal leaves a stray tail after b= (the signature is damaged).
        return [self.odkim, "-C", "-t", self.tmp, "-d", DOMAIN, "-s", SELECTOR, "-k", self.key]

    def sign(self, size):
        msg = self.message_file(size, "plain")
        runs = self.args.big_runs if size >= BIG else self.args.runs
        env = self.sign_env()
        # before timing: both really sign, and the signatures verify
        code, out, err = self.runner.capture([self.qd], env, msg, qmail_dkim=True)
        qd_check("result=signed")(code, err)
        self.notes.append("sign %s: qmail-dkim signature %s" %
                          (size_label(size), check_signature(out, self.pub, "qmail-dkim")))
        code, out, err = self.runner.capture(self.odkim_argv(), {"PATH": "/usr/bin:/bin"}, msg)
        od_check(code, err)
        self.notes.append("sign %s: opendkim-testmsg signature %s" %
                          (size_label(size), check_signature(out, self.pub, "opendkim-testmsg")))
        self.odkim_cmd = " ".join(self.odkim_argv()) + " < message > /dev/null"

        entries = [("opendkim-testmsg", self.odkim_argv(), {"PATH": "/usr/bin:/bin"}, msg, od_check)]
        for name, prog, extra in self.variants:
            entries.append((name, [prog] + QUEUE_ARGV, dict(env, **extra), msg,
                            qd_check("result=signed"), self.runner.envelope))
        times, rss = measure(self.runner, entries, runs)
        self.add_rows("sign", size, runs, times, rss)
        return out

    def verify(self, size):
        runs = self.args.big_runs if size >= BIG else self.args.runs
        plain = self.message_file(size, "plain")
        code, signed, err = self.runner.capture([self.qd], self.sign_env(), plain, qmail_dkim=True)
        qd_check("result=signed")(code, err)
        signed_path = os.path.join(self.work, "signed.%d.eml" % size)
        with open(signed_path, "wb") as f:
            f.write(signed)
        if self.nsd is None:
            self.nsd = Nsd(self.work, [("%s._domainkey" % SELECTOR,
                                        "v=DKIM1; k=rsa; p=%s" % self.pub),
                                       ("_dmarc", "v=DMARC1; p=reject"),
                                       ("@", "v=spf1 ip4:127.0.0.1 -all")]).start()
        env = self.env_base()
        env.update({"DKIMVERIFY": VERIFY_LETTERS, "DNSCACHEIP": self.nsd.dnscacheip})
        code, out, err = self.runner.capture([self.qd], env, signed_path, qmail_dkim=True)
        line = log_line(err) or ""
        if code != 0 or "status=" not in line:
            why = err.strip()[-600:]
            if not os.path.exists(os.path.join(REPO, "qmail_dkim", "verify.py")) or \
                    "verify" in why and ("ImportError" in why or "ModuleNotFound" in why):
                self.notes.append("verify %s: verify mode not available yet (%s)"
                                  % (size_label(size), why or "exit %d" % code))
                return
            raise BenchError("qmail-dkim verify run failed (exit %s): %s" % (code, why))
        if not re.search(r"\bdkim=pass\b", line):
            raise BenchError("qmail-dkim verify did not pass the signature: %s" % line)
        head = out.split(b"\n\n", 1)[0].decode("utf-8", "replace")
        m = re.search(r"^DKIM-Status:.*", head, re.M)
        self.notes.append("verify %s: qmail-dkim log: %s; header: %s"
                          % (size_label(size), line, m.group(0) if m else "(no DKIM-Status:)"))
        entries = [("opendkim-testmsg", self.odkim_argv(), {"PATH": "/usr/bin:/bin"},
                    plain, od_check)]
        for name, prog, extra in self.variants:
            entries.append((name, [prog] + QUEUE_ARGV, dict(env, **extra), signed_path,
                            qd_check("dkim=pass"), self.runner.envelope))
        times, rss = measure(self.runner, entries, runs)
        self.add_rows("verify", size, runs, times, rss)

    def verify_dmarc(self, size):
        """verify with SPF + DMARC on (DMARCVERIFY="Rt", the envelope on fd 1,
        TCPREMOTEIP) against today's DKIM-only verify, same message, same
        NSD, interleaved; target: at most DMARC_TARGET times."""
        runs = self.args.big_runs if size >= BIG else self.args.runs
        signed_path = os.path.join(self.work, "signed.%d.eml" % size)
        if self.nsd is None or not os.path.exists(signed_path):
            self.verify(size)
        envelope = self.runner.envelope
        dkim_env = self.env_base()
        dkim_env.update({"DKIMVERIFY": VERIFY_LETTERS, "DNSCACHEIP": self.nsd.dnscacheip})
        dmarc_env = dict(dkim_env, DMARCVERIFY="Rt", TCPREMOTEIP="127.0.0.1")
        code, out, err = self.runner.capture([self.qd], dkim_env, signed_path, qmail_dkim=True)
        qd_check("dkim=pass")(code, err)
        _, _, code, err = self.runner.once([self.qd] + QUEUE_ARGV, dmarc_env, signed_path,
                                           out_path=envelope)
        check = qd_check("dmarc=pass")
        check(code, err)
        line = log_line(err) or ""
        if "spf=pass" not in line:
            raise BenchError("SPF did not pass in the DMARC run: %s" % line)
        self.notes.append("verify+dmarc %s: qmail-dkim log: %s" % (size_label(size), line))
        entries = [("qmail-dkim DKIM only", [self.qd] + QUEUE_ARGV, dkim_env, signed_path,
                    qd_check("dkim=pass"), envelope),
                   ("qmail-dkim SPF+DMARC", [self.qd] + QUEUE_ARGV, dmarc_env, signed_path, check,
                    envelope)]
        times, rss = measure(self.runner, entries, runs)
        base = statistics.median(times["qmail-dkim DKIM only"]) * 1000
        med = statistics.median(times["qmail-dkim SPF+DMARC"]) * 1000
        label = "verify+dmarc %s" % size_label(size)
        self.rows.append((label, "qmail-dkim DKIM only", base, None, rss["qmail-dkim DKIM only"], runs))
        self.rows.append((label, "qmail-dkim SPF+DMARC", med, med / base, rss["qmail-dkim SPF+DMARC"],
                          runs))
        self.verdicts.append("%-24s %-28s ratio %5.2f  target <= %-4g %s (to DKIM-only verify)"
                             % (label, "qmail-dkim SPF+DMARC", med / base, DMARC_TARGET,
                                "met" if med / base <= DMARC_TARGET else "MISSED"))

    def add_rows(self, mode, size, runs, times, rss):
        base = statistics.median(times["opendkim-testmsg"]) * 1000
        label = "%s %s" % (mode, size_label(size))
        yard = "opendkim-testmsg" + (" (signing)" if mode == "verify" else "")
        self.rows.append((label, yard, base, None, rss["opendkim-testmsg"], runs))
        regular = any(v[0] == REGULAR for v in self.variants)
        for name, _, _ in self.variants:
            target = VARIANT_TARGETS.get(name, TARGETS).get((mode, "big" if size >= BIG else "small"))
            if name == "qmail-dkim" and regular:
                target = None       # the venv's own command (often editable): the regular row holds it
            med = statistics.median(times[name]) * 1000
            ratio = med / base
            peak = rss[name]
            self.rows.append((label, name, med, ratio, peak, runs))
            if target is not None and size in (2048, 10 << 20):
                self.verdicts.append("%-16s %-36s ratio %5.2f  target <= %-4g %s"
                                     % (label, name, ratio, target,
                                        "met" if ratio <= target else "MISSED"))
            if mode == "sign" and size == 10 << 20 and peak is not None:
                self.verdicts.append("%-16s %-36s peak RSS %5.1f MB  target <= 60 MB %s"
                                     % (label, name, peak / 1024,
                                        "met" if peak <= RSS_LIMIT_KB else "MISSED"))

    def print_table(self):
        print()
        print("%-16s %-36s %10s %8s %12s %5s" % ("case", "program", "median ms", "ratio",
                                                  "peak RSS MB", "runs"))
        print("-" * 92)
        for label, name, med, ratio, peak, runs in self.rows:
            print("%-16s %-36s %10.1f %8s %12s %5d" % (
                label, name, med, "%.2f" % ratio if ratio is not None else "1.00",
                "%.1f" % (peak / 1024) if peak is not None else "-", runs))
        if self.verdicts:
            print()
            for v in self.verdicts:
                print(v)
        print()
        print("queue program for qmail-dkim: %s (fd 1 = the envelope copy qmail-dkim hands it)"
              % " ".join(QUEUE_ARGV))
        if self.odkim_cmd:
            print("opendkim-testmsg: %s" % self.odkim_cmd)
        for n in self.notes:
            print(n)


# ------------------------------------------------------------------ throughput

def _children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _proc_cpu(pid):
    """utime + stime + the reaped children's of a process (seconds)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def throughput(bench, messages, rounds, at_once=None):
    """2 KB sign, `at_once` messages at once (default: as many as there are
    CPUs): messages/second of each program, `messages` per program per
    round, rounds interleaved (order rotated), medians. The target compares
    qmail-dkim with qmail-dkimd to today's per-process program
    (--baseline-rev, else the regular layout) at as many at once as CPUs;
    other counts (--tp-at-once) are reported beside it."""
    ncpu = os.cpu_count() or 1
    primary = at_once in (None, ncpu)
    at_once = at_once or ncpu
    msg = bench.message_file(2048, "plain")
    env = bench.sign_env()
    progs = [("opendkim-testmsg", bench.odkim_argv(), {"PATH": "/usr/bin:/bin"})]
    progs += [(name, [prog] + QUEUE_ARGV, dict(env, **extra)) for name, prog, extra in bench.variants]
    rates = {name: [] for name, _, _ in progs}
    cpu = {name: [] for name, _, _ in progs}      # CPU ms per message, all processes involved
    server_pid = bench.server.proc.pid if bench.server else None
    for r in range(rounds + 1):
        k = r % len(progs)
        for name, argv, penv in progs[k:] + progs[:k]:
            c0 = _children_cpu() + (_proc_cpu(server_pid) if server_pid else 0.0)
            t0 = time.perf_counter()
            running = {}
            started = done = 0
            while done < messages:
                while started < messages and len(running) < at_once:
                    fin = os.open(msg, os.O_RDONLY)
                    # qmail-dkim reads the envelope on fd 1 after the message
                    fout = (os.open(bench.runner.envelope, os.O_RDONLY)
                            if name != "opendkim-testmsg" else os.dup(bench.runner.devnull))
                    acts = [(os.POSIX_SPAWN_DUP2, fin, 0),
                            (os.POSIX_SPAWN_DUP2, fout, 1),
                            (os.POSIX_SPAWN_DUP2, bench.runner.devnull, 2)]
                    running[os.posix_spawn(argv[0], argv, penv, file_actions=acts)] = (fin, fout)
                    started += 1
                pid, status = os.wait()
                for fd in running.pop(pid):
                    os.close(fd)
                if os.waitstatus_to_exitcode(status) != 0:
                    raise BenchError("throughput: %s exited %s" % (name, os.waitstatus_to_exitcode(status)))
                done += 1
            if r:                           # round 0 warms up
                rates[name].append(messages / (time.perf_counter() - t0))
                if server_pid:              # let the server reap its last workers first
                    time.sleep(0.2)
                c1 = _children_cpu() + (_proc_cpu(server_pid) if server_pid else 0.0)
                cpu[name].append((c1 - c0) * 1000 / messages)
    label = "msgs/s 2 KB sign" if primary else "msgs/s, %d at once" % at_once
    bench.notes.append("throughput: 2 KB sign, %d at once (%d CPUs), %d messages per program "
                       "per round, %d rounds interleaved; median msgs/s (min-max):" % (at_once, ncpu, messages, rounds))
    for name, _, _ in progs:
        v = rates[name]
        bench.notes.append("  %-36s %7.1f msgs/s  (%.1f-%.1f); CPU %.1f ms/msg (%.1f-%.1f) -> %.0f msgs/s "
                           "on %d CPUs if CPU-bound" % (
                               name, statistics.median(v), min(v), max(v), statistics.median(cpu[name]),
                               min(cpu[name]), max(cpu[name]), ncpu * 1000 / statistics.median(cpu[name]),
                               ncpu))
    bench.notes.append("  (CPU: user+sys of every process a message involves -- the program, its queue "
                       "program, and for qmail-dkimd the server and its workers; other load on the "
                       "machine changes it far less than wall time)")
    base_name = bench.baseline or REGULAR
    if SERVED in rates and base_name in rates:
        f = statistics.median(rates[SERVED]) / statistics.median(rates[base_name])
        if primary:
            bench.verdicts.append("%-16s %-36s %5.2f x %s  target >= %g %s" % (
                label, SERVED, f, base_name, TP_FACTOR, "met" if f >= TP_FACTOR else "MISSED"))
        else:
            bench.verdicts.append("%-16s %-36s %5.2f x %s  (beside the target, which is at %d at once)"
                                  % (label, SERVED, f, base_name, ncpu))
        f = statistics.median(cpu[base_name]) / statistics.median(cpu[SERVED])
        bench.verdicts.append("%-16s %-36s %5.2f x %s  %s (by CPU per message)" % (
            label, SERVED, f, base_name,
            ("target >= %g %s" % (TP_FACTOR, "met" if f >= TP_FACTOR else "MISSED")) if primary else "(beside it)"))
    if bench.baseline and NOSITE in rates:
        f = statistics.median(rates[NOSITE]) / statistics.median(rates[bench.baseline])
        bench.verdicts.append("%-16s %-36s %5.2f x %s  (never slower: >= 1) %s" % (
            label, NOSITE, f, bench.baseline, "met" if f >= 1 else "MISSED"))


# ------------------------------------------------------------------ startup

IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def startup(bench, reps):
    """-X importtime of one sign run (2 KB), medians over `reps` runs, and a
    cProfile of one run."""
    py = interpreter_of(bench.qd)
    msg = bench.message_file(2048, "plain")
    env = bench.sign_env()
    print()
    for label, prog, extra in bench.variants:
        if extra:
            continue            # qmail-dkimd: nothing of the per-message start-up to show
        vpy = interpreter_of(prog)
        selfs, cums, depth, order = {}, {}, {}, []
        for _ in range(reps + 1):
            _, _, code, err = bench.runner.once([vpy, "-X", "importtime", prog] + QUEUE_ARGV, env, msg,
                                                out_path=bench.runner.envelope)
            for m in IMPORT_LINE.finditer(err):
                name = m.group(4)
                if name not in selfs:
                    selfs[name], cums[name] = [], []
                    depth[name] = len(m.group(3)) // 2
                    order.append(name)
                selfs[name].append(int(m.group(1)))
                cums[name].append(int(m.group(2)))
        base = []
        for _ in range(reps):
            t, _, _, _ = bench.runner.once([vpy, "-c", "pass"], {"PATH": "/usr/bin:/bin"}, msg)
            base.append(t * 1000)
        base_s = []
        for _ in range(reps):
            t, _, _, _ = bench.runner.once([vpy, "-S", "-c", "pass"], {"PATH": "/usr/bin:/bin"}, msg)
            base_s.append(t * 1000)
        med = {n: (statistics.median(selfs[n][1:] or selfs[n]) / 1000,
                   statistics.median(cums[n][1:] or cums[n]) / 1000) for n in order}
        tops = [n for n in order if depth[n] == 0]
        total = sum(med[n][1] for n in tops)
        print("startup (%s): `python -c pass` %.1f ms, `python -S -c pass` %.1f ms; "
              "imports of one sign run under -X importtime: %.1f ms (median of %d)"
              % (label, statistics.median(base), statistics.median(base_s), total, reps))
        print("  top-level imports by cumulative ms:")
        for n in sorted(tops, key=lambda n: -med[n][1])[:14]:
            print("    %7.2f  %s" % (med[n][1], n))
        print("  heaviest modules anywhere by cumulative ms (depth>0):")
        for n in sorted([n for n in order if depth[n] > 0], key=lambda n: -med[n][1])[:14]:
            print("    %7.2f  %s%s" % (med[n][1], "  " * depth[n], n))
    prof = os.path.join(bench.work, "sign.prof")
    code, _, err = bench.runner.capture([py, "-m", "cProfile", "-o", prof, bench.qd], env, msg,
                                        qmail_dkim=True)
    if code == 0:
        import pstats
        import io
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(12)
        text = buf.getvalue()
        i = text.find("ncalls")
        print("cProfile of one sign run (2 KB), top by own time "
              "(cProfile itself imports dataclasses/enum/re, so imports look cheaper here):")
        print("\n".join("  " + l for l in text[i:].rstrip().splitlines()))


# ------------------------------------------------------------------ main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=21, help="timed runs per program, messages < 1 MB (21)")
    ap.add_argument("--big-runs", type=int, default=5, help="timed runs per program, messages >= 1 MB (5)")
    ap.add_argument("--sizes", default="2k,10m", help="sign sizes, e.g. 2k,100k,10m (2k,10m)")
    ap.add_argument("--verify-sizes", default="2k", help="verify sizes (2k)")
    ap.add_argument("--mode", choices=("sign", "verify", "dmarc", "throughput", "startup", "all"),
                    default="all")
    ap.add_argument("--no-server", action="store_true", help="skip the qmail-dkimd variant")
    ap.add_argument("--baseline-rev", help="also time qmail-dkim as of this git revision "
                    "(regular layout): 'today's per-process program' for the throughput target")
    ap.add_argument("--tp-messages", type=int, default=60,
                    help="throughput: messages per program per round (60)")
    ap.add_argument("--tp-rounds", type=int, default=5, help="throughput: interleaved rounds (5)")
    ap.add_argument("--tp-at-once", default=None,
                    help="throughput: messages at once, comma-separated (default: the number of CPUs, "
                         "then twice that: qmail runs many SMTP sessions at once, and with more "
                         "messages than CPUs the hand-overs' wake-up latency no longer idles a CPU)")
    ap.add_argument("--body", choices=("text", "mime"), default="text",
                    help="text: plain prose (default, the harder case for relaxed "
                         "canonicalization); mime: short text part + base64 attachment")
    ap.add_argument("--qmail-dkim", help="the qmail-dkim to run (default: next to this python)")
    ap.add_argument("--python", default=None,
                    help="make the regular-layout venvs (and the qmail-dkimd client's) from this "
                         "Python, e.g. /usr/bin/python3 as README step 1 installs (default: "
                         "qmail-dkim's own); it must be the same version")
    ap.add_argument("--no-regular", action="store_true",
                    help="skip the regular-install-layout variant")
    ap.add_argument("--startup-reps", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    ncpu = os.cpu_count() or 1
    try:
        args.tp_at_once = ([int(n) for n in args.tp_at_once.split(",")] if args.tp_at_once
                           else [ncpu, 2 * ncpu])
        if not args.tp_at_once or min(args.tp_at_once) < 1:
            raise ValueError
    except ValueError:
        ap.error("--tp-at-once: numbers of 1 or more, e.g. 2,4")
    sizes = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
    vsizes = [parse_size(s) for s in args.verify_sizes.split(",") if s.strip()]
    try:
        bench = Bench(args)
    except (BenchError, subprocess.CalledProcessError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    try:
        print("qmail-dkim: %s" % bench.qd)
        for name, prog, extra in bench.variants[1:]:
            print("%s: %s%s" % (name, prog, " with DKIMSOCKET=%s (server: %s)" % (extra["DKIMSOCKET"], bench.server.prog) if extra else ""))
        print("opendkim-testmsg: %s; body kind: %s; work dir: %s"
              % (bench.odkim, args.body, bench.work))
        t0 = time.monotonic()
        if args.mode in ("sign", "all"):
            for s in sizes:
                bench.sign(s)
        if args.mode in ("verify", "all"):
            for s in vsizes:
                bench.verify(s)
        if args.mode in ("dmarc", "all"):
            for s in vsizes:
                bench.verify_dmarc(s)
        if args.mode in ("throughput", "all"):
            for n in args.tp_at_once:
                throughput(bench, args.tp_messages, args.tp_rounds, n)
        if bench.server:
            bench.notes.append(bench.server.memory())
        bench.print_table()
        if args.mode in ("startup", "all"):
            startup(bench, args.startup_reps)
        print("\nbench time %.1f s" % (time.monotonic() - t0))
        return 0
    except (BenchError, subprocess.CalledProcessError) as e:
        bench.print_table()
        print("bench: %s" % e, file=sys.stderr)
        return 2
    finally:
        bench.close()


if __name__ == "__main__":
    sys.exit(main())
