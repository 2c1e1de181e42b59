"""End-to-end load harness: tcpserver + mailfront + qmail-dkim + the qmail-queue
double, with NSD serving the key records (see docs/LOAD.md).

    result = run_load(messages=10000, clients=20)
    print(result.table())
    sys.exit(0 if result.ok else 1)

What runs (all on loopback, every process stopped by its own pid / process group):

  NSD        127.0.0.1:<port>  zones sign.example, sign2.example, ext.example
             (key records) and servfail.example (unloadable zone -> SERVFAIL)
  tcpserver  -v -x rules.cdb -R -H -l localhost -D -c <clients> -b <clients>
             127.0.0.1 <port> mailfront smtp qmail accept
  rules      127.0.0.1  sign (RELAYCLIENT, DKIMKEY="control/domainkeys/%/default")
             127.0.0.3  sign with a fixed key path that does not exist (exit 35)
             127.0.0.4  sign, the queue double told to exit 71 (QQ_DOUBLE_EXIT)
             :allow     verify, DKIMVERIFY="FGHIKLMNOQRTUVWjp"   (clients bind 127.0.0.2)
  queue      $QMAILHOME/bin/qmail-queue: a /bin/sh wrapper that execs the project's
             qmail-queue double (tests/realparts/qmail-queue-double) with
             QQ_DOUBLE_DIR = spool/<pid mod SHARDS>.  The double numbers its files by
             probing 1.claim, 2.claim, ... (O(n) per message); sharding the spool keeps
             that cost from growing into the measurement.

The SMTP clients are threads in this process; each message is its own connection,
bound to the source address of its category's rule.  Every message carries a unique
token in Message-ID (and Subject, X-Load-Token) so the spool can be matched.

Checks: every 250 is in the spool exactly once, stored == prefix + sent (byte for
byte; prefix = only the header fields qmail-dkim adds, of the kind the category
expects), envelope as sent; every rejection has the category's code and nothing in
the spool; nothing in the spool that was not accepted; every signature we made
verifies under Perl Mail::DKIM (batch, tests/load/mail-dkim-verify-dir.pl), and so
do the pre-signed messages delivered in verify mode; the qmail-dkim log has one
line per message with the expected mode/result/exit counts.
"""
from __future__ import annotations

import dataclasses
import os
import queue
import random
import re
import resource
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from tests.realparts import keys as rp_keys
from tests.realparts.nsd import NsdServer, free_port, txt_rr
from tests.realparts.procs import stop_group
from tests.realparts.queue_double import SCRIPT as QQ_DOUBLE_SCRIPT, make_envelope, parse_envelope
from tests.realparts.smtp import compile_rules, lf_to_smtp
from tests.realparts.tools import find_tool

HERE = Path(__file__).resolve().parent
VERIFY_DIR_PL = HERE / "mail-dkim-verify-dir.pl"
AUTHSERV_ID = "mx.load.test"
VERIFY_LETTERS = "FGHIKLMNOQRTUVWjp"
SHARDS = 16
LOG_KEYS = ("mode", "result", "status", "d", "exit")

SIGN_IP, VERIFY_IP, FIXEDKEY_IP, QQ71_IP = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"

RULES = (
    f'{SIGN_IP}:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",'
    'DKIMKEY="control/domainkeys/%/default"\n'
    f'{FIXEDKEY_IP}:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",'
    'DKIMKEY="control/domainkeys/no-such-key"\n'
    f'{QQ71_IP}:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",'
    'DKIMKEY="control/domainkeys/%/default",QQ_DOUBLE_EXIT="71"\n'
    f':allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="{VERIFY_LETTERS}"\n'
)


@dataclasses.dataclass(frozen=True)
class Category:
    name: str
    weight: int
    src: str              # client source address -> tcprules rule
    code: int             # expected final SMTP reply code
    # what the spool must hold for an accepted message:
    #   "sig:<d>"   one DKIM-Signature field (d=<d>, s=default) + the message; Mail::DKIM pass
    #   "none"      the message unchanged (unsigned: no key for the From domain)
    #   "verify:<letter>"  DKIM-Status + Authentication-Results + the message
    stored: str = ""
    log: str = ""          # expected qmail-dkim log line fields LOG_KEYS, "k=v k=v"
    what: str = ""


CATEGORIES = [
    Category("sign", 30, SIGN_IP, 250, "sig:sign.example",
             "mode=sign result=signed d=sign.example exit=0",
             "relay client, From domain has a key -> signed"),
    Category("sign_parent", 6, SIGN_IP, 250, "sig:sign2.example",
             "mode=sign result=signed d=sign2.example exit=0",
             "From a.b.sign2.example, key only for sign2.example -> parent key"),
    Category("sign_nokey", 5, SIGN_IP, 250, "none",
             "mode=sign result=unsigned exit=0",
             "From domain without a key -> delivered unsigned"),
    Category("sign_badkey", 3, SIGN_IP, 451, "",
             "mode=sign result=error exit=55",
             "fault: corrupt key file -> exit 55"),
    Category("verify_good", 25, VERIFY_IP, 250, "verify:A",
             "mode=verify status=A d=ext.example exit=0",
             "pre-signed, intact -> DKIM-Status: good"),
    Category("verify_unsigned", 5, VERIFY_IP, 250, "verify:S",
             "mode=verify status=S exit=0",
             "no signature -> S, delivered"),
    Category("verify_tampered", 8, VERIFY_IP, 554, "",
             "mode=verify status=? d=ext.example exit=31",
             "pre-signed, body or Subject changed -> U/I -> exit 31"),
    Category("verify_noselector", 5, VERIFY_IP, 554, "",
             "mode=verify status=Q d=ext.example exit=31",
             "selector not in DNS (NXDOMAIN) -> Q -> exit 31"),
    Category("verify_servfail", 5, VERIFY_IP, 451, "",
             "mode=verify status=P d=servfail.example exit=71",
             "key domain SERVFAIL -> P (lowercase p) -> exit 71"),
    Category("fault_fixedkey", 4, FIXEDKEY_IP, 554, "",
             "mode=sign result=error exit=35",
             "fault: DKIMKEY without %, file missing -> exit 35"),
    Category("fault_queue71", 4, QQ71_IP, 451, "",
             "mode=sign result=signed d=sign.example exit=71",
             "fault: qmail-queue exits 71 -> 451"),
]
CAT = {c.name: c for c in CATEGORIES}


@dataclasses.dataclass
class Job:
    i: int
    token: str
    cat: str
    sender: str
    rcpts: list
    message: bytes = b""          # LF form, exactly what the spool must end with
    # results
    code: int = 0
    text: str = ""
    error: str = ""
    latency: float = 0.0
    note: str = ""                # verify_tampered: the expected letter (U body, I header)


# ---------------------------------------------------------------- messages

_WORDS = ("qmail dkim load test message body line with some words and a few "
          "more words so that lines have different lengths relaxed simple canon").split()


def _body(rng: random.Random, token: str) -> bytes:
    r = rng.random()
    if r < 0.80:
        nlines = rng.randint(3, 40)
    elif r < 0.97:
        nlines = rng.randint(100, 400)         # ~5-25 KB
    else:
        nlines = rng.randint(1000, 1500)       # ~70-100 KB
    lines = [f"Hello, this is {token}.", ""]
    for k in range(nlines):
        x = rng.random()
        if x < 0.03:
            lines.append(".")                              # a lone dot: dot-stuffed on the wire
        elif x < 0.06:
            lines.append("." + " ".join(rng.choices(_WORDS, k=rng.randint(1, 8))))
        elif x < 0.09:
            lines.append("")
        elif x < 0.12:
            lines.append(" ".join(rng.choices(_WORDS, k=rng.randint(1, 6))) + "  \t ")  # trailing WSP
        elif x < 0.13:
            lines.append("x" * rng.randint(200, 990))     # long line, under 998
        else:
            lines.append(" ".join(rng.choices(_WORDS, k=rng.randint(1, 14))))
    lines.append(f"-- {token}")
    if rng.random() < 0.1:
        lines += ["", ""]                                  # trailing empty lines
    return ("\n".join(lines) + "\n").encode()


def _from_header(rng: random.Random, domain: str, i: int) -> str:
    local = f"user{i % 97}"
    forms = [f"From: {local}@{domain}",
             f"From: Joe Sender <{local}@{domain}>",
             f'From: "Sender, Joe (load)" <{local}@{domain}>',
             f"From: =?utf-8?q?J=C3=B6rg?= <{local}@{domain}>",
             f"From: {local}@{domain} (comment)"]
    return rng.choice(forms)


def make_message(rng: random.Random, i: int, token: str, from_domain: str) -> tuple[bytes, bytes]:
    """(header block, body) LF form, header block ends with the empty line."""
    h = [_from_header(rng, from_domain, i),
         f"To: Bob <bob{i % 7}@dest.example>"]
    if rng.random() < 0.3:
        h.append(f"Subject: load test\n\t{token} (folded)")
    else:
        h.append(f"Subject: load test {token}")
    h += [f"Date: Sun, 22 Nov 2026 07:{i // 60 % 60:02d}:{i % 60:02d} +0000",
          f"Message-ID: <{token}@load.test>",
          "MIME-Version: 1.0",
          "Content-Type: text/plain; charset=us-ascii",
          f"X-Load-Token: {token}"]
    return ("\n".join(h) + "\n\n").encode(), _body(rng, token)


# pre-signing (verify-mode input) in worker processes -----------------------

_SIGN_KEY = None


def _sign_init(pem: bytes) -> None:
    global _SIGN_KEY
    _SIGN_KEY = pem


def _sign_one(args) -> bytes:
    message, domain, selector = args
    import dkim
    sig = dkim.sign(message.replace(b"\n", b"\r\n"), selector.encode(), domain.encode(), _SIGN_KEY,
                    canonicalize=(b"relaxed", b"relaxed"),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                     b"mime-version", b"content-type"])
    return sig.replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n" + message


def _tamper(rng: random.Random, signed: bytes, token: str) -> tuple[bytes, str]:
    """(tampered message, the status letter it must get)."""
    if rng.random() < 0.5:                       # body change -> U
        return signed.replace(f"-- {token}\n".encode(), f"-- {token} (changed)\n".encode(), 1), "U"
    return signed.replace(b"Subject: load test", b"Subject: Load test", 1), "I"   # header -> I


# ---------------------------------------------------------------- processes

def _proc_children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def _proc_stat_busy() -> tuple[int, int]:
    """(busy, total) jiffies from /proc/stat's cpu line."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)     # idle + iowait
    total = sum(parts[:8])                                   # guest is already in user
    return total - idle, total


def _rusage_cpu(who) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


class TcpServer:
    """tcpserver + mailfront, our own launcher (SmtpFront fixes -c 20)."""

    def __init__(self, workdir: Path, rules: str, env: dict, concurrency: int) -> None:
        self.dir = workdir
        self.rules = rules
        self.env = env
        self.concurrency = concurrency
        self.proc: subprocess.Popen | None = None
        self.port = 0

    @property
    def log_path(self) -> Path:
        return self.dir / "smtp.log"

    def start(self) -> "TcpServer":
        cdb = compile_rules(self.rules, self.dir)
        tcpserver, mailfront = find_tool("tcpserver"), find_tool("mailfront")
        for _ in range(5):
            self.port = free_port(socket.SOCK_STREAM)
            argv = [tcpserver, "-v", "-x", str(cdb), "-R", "-H", "-l", "localhost", "-D",
                    "-c", str(self.concurrency), "-b", str(self.concurrency),
                    "127.0.0.1", str(self.port), mailfront, "smtp", "qmail", "accept"]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                             env=self.env, cwd=str(self.dir), start_new_session=True)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as c:
                        c.settimeout(5)
                        if c.recv(4).startswith(b"220"):
                            c.sendall(b"QUIT\r\n")
                            return self
                except OSError:
                    time.sleep(0.02)
            self.stop()
        raise RuntimeError(f"tcpserver did not start:\n{self.log_path.read_text(errors='replace')[-2000:]}")

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Wait until tcpserver has no connection children left (so it has reaped them
        all and their CPU time is in its RUSAGE_CHILDREN)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is None or not _proc_children(self.proc.pid):
                return True
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        stop_group(self.proc, timeout=10)
        self.proc = None


# ---------------------------------------------------------------- the run

@dataclasses.dataclass
class Result:
    messages: int
    clients: int
    jobs: list
    wall_send: float = 0.0
    wall_total: float = 0.0
    server_cpu: float = 0.0          # RUSAGE_CHILDREN delta: tcpserver tree
    client_cpu: float = 0.0          # RUSAGE_SELF delta during the send phase
    nsd_cpu: float = 0.0
    sys_busy_cpu: float = 0.0        # /proc/stat busy jiffies delta, seconds
    ncpu: int = 1
    per_cat: dict = dataclasses.field(default_factory=dict)
    problems: list = dataclasses.field(default_factory=list)
    counts: dict = dataclasses.field(default_factory=dict)
    log_counts: dict = dataclasses.field(default_factory=dict)
    workdir: str = ""
    code: str = ""                   # which qmail-dkim code ran (snapshot description)
    max_concurrent: int = 0          # highest "tcpserver: status: n/c" in the log
    dkimd: dict = dataclasses.field(default_factory=dict)   # with --daemon: the server's figures

    @property
    def ok(self) -> bool:
        return not self.problems

    def table(self) -> str:
        out = []
        out.append(f"{'category':<18} {'sent':>6} {'expect':>6} {'got':<22} {'spooled':>7} "
                   f"{'verified':>8}  ok")
        for name, st in self.per_cat.items():
            got = ",".join(f"{c}x{n}" for c, n in sorted(st["codes"].items(), key=lambda x: str(x[0])))
            ver = str(st["verified"]) if st["verify_expected"] else "-"
            out.append(f"{name:<18} {st['sent']:>6} {st['expect']:>6} {got:<22} {st['spooled']:>7} "
                       f"{ver:>8}  {'yes' if st['ok'] else 'NO'}")
        c = self.counts
        lat = sorted(j.latency for j in self.jobs if j.latency)

        def pct(p):
            return lat[min(len(lat) - 1, int(p * len(lat)))] if lat else 0.0
        n = max(self.messages, 1)
        out += [
            "",
            f"messages            {self.messages}  (clients {self.clients}, one SMTP connection each; "
            f"tcpserver saw up to {self.max_concurrent} at once)",
            f"accepted (250)      {c.get('accepted', 0)}",
            f"rejected 5xx        {c.get('rej5', 0)}",
            f"rejected 4xx        {c.get('rej4', 0)}",
            f"transport errors    {c.get('errors', 0)}",
            f"wrong code          {c.get('wrong', 0)}",
            f"lost                {c.get('lost', 0)}",
            f"altered             {c.get('altered', 0)}",
            f"duplicated          {c.get('duplicated', 0)}",
            f"rejected but queued {c.get('rejected_spooled', 0)}",
            f"unknown in spool    {c.get('unknown', 0)}",
            f"signatures checked  {c.get('sig_checked', 0)} by Mail::DKIM, failed {c.get('sig_failed', 0)}"
            f"  ({c.get('sig_dns_retried', 0)} re-asked after a verifier-side DNS timeout)",
            f"wall (send phase)   {self.wall_send:.1f} s   (whole run {self.wall_total:.1f} s)",
            f"throughput          {self.messages / self.wall_send if self.wall_send else 0:.1f} msgs/s",
            f"latency             p50 {pct(.5) * 1000:.0f} ms  p95 {pct(.95) * 1000:.0f} ms  "
            f"max {lat[-1] * 1000 if lat else 0:.0f} ms",
            f"CPU/msg server      {self.server_cpu / n * 1000:.1f} ms  (tcpserver+mailfront+qmail-dkim"
            f"+queue double: RUSAGE_CHILDREN user+sys)",
            f"CPU/msg client      {self.client_cpu / n * 1000:.1f} ms  (SMTP client threads: RUSAGE_SELF)",
            f"CPU/msg DNS (NSD)   {self.nsd_cpu / n * 1000:.2f} ms  (as reaped; NSD's server child may be"
            f" killed unreaped, so a lower bound)",
            f"CPU/msg whole box   {self.sys_busy_cpu / n * 1000:.1f} ms  (/proc/stat busy delta, "
            f"{self.ncpu} CPUs, {self.sys_busy_cpu / self.wall_send / self.ncpu * 100 if self.wall_send else 0:.0f}% busy)",
            f"  of which not ours {max(0.0, self.sys_busy_cpu - self.server_cpu - self.client_cpu - self.nsd_cpu) / n * 1000:.1f} ms"
            f"  (other processes on the machine during the send phase)",
        ]
        if self.problems:
            out.append("")
            out.append(f"PROBLEMS ({len(self.problems)}):")
            out += ["  " + p for p in self.problems[:50]]
            if len(self.problems) > 50:
                out.append(f"  ... and {len(self.problems) - 50} more")
        if self.dkimd:
            d = self.dkimd
            out.append(f"qmail-dkimd         accepted {d.get('connections')} connections for {self.messages} "
                       f"messages (a client with no hello within DKIMSOCKETTIMEOUT runs in-process); "
                       f"RSS kB after the first tenth / end / max "
                       f"{d['rss_kb'][0]} / {d['rss_kb'][1]} / {d['rss_kb'][2]}; fds {d['fds'][0]} / "
                       f"{d['fds'][1]} / {d['fds'][2]}; zombie children max {d['zombies_max']} "
                       f"(transient, before the SIGCHLD reap), at the end {d['zombies_end']}; "
                       f"{d['samples']} samples")
        out.append("")
        out.append(f"code under test: {self.code}")
        out.append("RESULT: " + ("PASS" if self.ok else "FAIL") + f"   (workdir {self.workdir})")
        return "\n".join(out)


class LoadRun:
    def __init__(self, messages: int, clients: int, workdir: Path, seed: int = 1,
                 say=print, verify_jobs: int | None = None, rev: str | None = None,
                 daemon: bool = False) -> None:
        self.rev = rev
        self.daemon = daemon              # qmail-dkim hands each message to qmail-dkimd
        self.dkimd = None
        self.samples: list[tuple[float, int, int, int]] = []   # (t, rss kB, fds, zombies)
        self.code_desc = ""
        self.n = messages
        self.clients = clients
        self.dir = workdir
        self.seed = seed
        self.say = say
        self.verify_jobs = verify_jobs or os.cpu_count() or 1
        self.home = workdir / "qmail"
        self.spool = workdir / "spool"
        self.nsd: NsdServer | None = None
        self.front: TcpServer | None = None
        self.jobs: list[Job] = []

    # -- setup
    def setup(self) -> None:
        qmail_dkim = shutil.which("qmail-dkim", path=os.path.dirname(sys.executable)) \
            or shutil.which("qmail-dkim")
        if not qmail_dkim:
            raise RuntimeError("qmail-dkim not installed next to this Python")
        home = self.home
        self.snapshot_code()
        (home / "bin").mkdir(parents=True)
        (home / "control/domainkeys").mkdir(parents=True)
        (home / "tmp").mkdir()
        # the command itself frozen too: reinstalling the venv during a run
        # (pip rewrites its scripts) must not leave a moment without it
        shutil.copy2(qmail_dkim, self.code / "qmail-dkim")
        os.symlink(self.code / "qmail-dkim", home / "bin/qmail-dkim")
        self.spool.mkdir()
        for s in range(SHARDS):
            (self.spool / str(s)).mkdir()
        wrapper = home / "bin/qmail-queue"
        wrapper.write_text(
            "#!/bin/sh\n"
            "# the project's qmail-queue double, spool sharded by pid (see tests/load/harness.py)\n"
            f"QQ_DOUBLE_DIR={self.spool}/$(($$ % {SHARDS})); export QQ_DOUBLE_DIR\n"
            f"exec {self.qq_python()} -I {self.code / 'qmail-queue-double'} \"$@\"\n")
        wrapper.chmod(0o755)

        self.k_sign = rp_keys.cached_rsa_key(2048, 1)
        self.k_sign2 = rp_keys.cached_rsa_key(2048, 2)
        self.k_ext = rp_keys.cached_rsa_key(2048, 3)
        self.k_sign.write(home / "control/domainkeys/sign.example/default")
        self.k_sign2.write(home / "control/domainkeys/sign2.example/default")
        bad = home / "control/domainkeys/corrupt.example/default"
        bad.parent.mkdir()
        bad.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nbm90IGEga2V5\n-----END RSA PRIVATE KEY-----\n")

        self.nsd = NsdServer({
            "sign.example": txt_rr("default._domainkey", self.k_sign.dns_record()),
            "sign2.example": txt_rr("default._domainkey", self.k_sign2.dns_record()),
            "ext.example": txt_rr("sel._domainkey", self.k_ext.dns_record()),
        }, servfail_zones=["servfail.example"], workdir=self._mkdir("nsd"))
        self.nsd.start()

        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "QMAILHOME": str(home), "TMPDIR": str(home / "tmp"),
               "DNSCACHEIP": self.nsd.dnscacheip, "DKIMAUTHSERVID": AUTHSERV_ID,
               "LANG": "C", "PYTHONPATH": str(self.code)}
        rules = RULES
        if self.daemon:
            self.start_dkimd()
            rules = RULES.replace('QMAILQUEUE="bin/qmail-dkim"',
                                  f'QMAILQUEUE="bin/qmail-dkim",DKIMSOCKET="{self.dkimd.socket}"')
        self.front = TcpServer(self._mkdir("smtp"), rules, env, max(self.clients, 1))

    def qq_python(self) -> str:
        if not self.daemon:
            return sys.executable
        from tests.realparts.dkimd import queue_double_python
        return queue_double_python()

    def start_dkimd(self) -> None:
        """qmail-dkimd running the snapshot; as root it runs as nobody, which
        must then reach QMAILHOME, read the keys and write $TMPDIR and the spool."""
        from tests.realparts.dkimd import Dkimd, give
        for p in [self.dir, self.home] + [d for d in self.home.rglob("*") if d.is_dir()]:
            os.chmod(p, 0o755)
        for p in [self.home / "tmp", self.spool] + list(self.spool.iterdir()):
            os.chmod(p, 0o1777)
            if p.parent == self.spool:
                # the double's own tmp/: a message that runs in-process (its
                # client got no hello in time) is queued as root, the others as
                # nobody; in production both are qmaild
                (p / "tmp").mkdir()
                os.chmod(p / "tmp", 0o1777)
        for p in (self.home / "control/domainkeys").rglob("*"):
            if p.is_file():
                give(p)
        self.dkimd = Dkimd(self.dir / "dkimd", env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                                     "PYTHONPATH": str(self.code)}).start()

    def sample_dkimd(self) -> None:
        """The server's RSS, open fds (less one per spare) and zombie children, now."""
        pid = self.dkimd.pid
        try:
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            fds = len(os.listdir(f"/proc/{pid}/fd"))
        except (OSError, StopIteration):
            return
        zombies = spares = 0
        for c in _proc_children(pid):
            try:
                with open(f"/proc/{c}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            zombies += st[0] == "Z"
            # a spare (still in the server's process group) holds one fd of
            # the server, its socketpair; the server forks spares only when
            # idle (qmail-dkimd(8), -p), so their number follows the load
            spares += st[0] != "Z" and int(st[2]) != c
        self.samples.append((time.monotonic(), rss, fds - spares, zombies))

    def snapshot_code(self) -> None:
        """Freeze the code under test for the whole run: qmail_dkim/ (and the queue
        double) copied into workdir/code, which goes first on the servers' PYTHONPATH
        (ahead of the venv's editable install, so edits made while the run is going
        do not change what runs). ``rev`` None: the working tree as it is now; else
        ``git archive <rev>``."""
        self.code = self._mkdir("code")
        repo = HERE.parent.parent
        if self.rev:
            tar = subprocess.run(["git", "-C", str(repo), "archive", self.rev, "qmail_dkim",
                                  "tests/realparts/qmail-queue-double"],
                                 capture_output=True, check=True, timeout=60).stdout
            subprocess.run(["tar", "-x", "-C", str(self.code)], input=tar, check=True, timeout=60)
            os.rename(self.code / "tests/realparts/qmail-queue-double", self.code / "qmail-queue-double")
            commit = subprocess.run(["git", "-C", str(repo), "rev-parse", self.rev], capture_output=True,
                                    text=True, timeout=30).stdout.strip()
            self.code_desc = f"git {commit[:12]}"
        else:
            shutil.copytree(repo / "qmail_dkim", self.code / "qmail_dkim",
                            ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy2(QQ_DOUBLE_SCRIPT, self.code / "qmail-queue-double")
            r = subprocess.run(["git", "-C", str(repo), "describe", "--always", "--dirty"],
                               capture_output=True, text=True, timeout=30)
            dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "qmail_dkim"],
                                   capture_output=True, text=True, timeout=30).stdout.strip()
            self.code_desc = (f"working tree at {r.stdout.strip() or '?'}"
                              + (" (qmail_dkim/ has uncommitted changes)" if dirty else ""))
        check = subprocess.run([sys.executable, "-c", "import qmail_dkim.main; print(qmail_dkim.main.__file__)"],
                               env={"PYTHONPATH": str(self.code), "PATH": os.environ.get("PATH", "")},
                               capture_output=True, text=True, timeout=60, cwd=str(self.dir))
        if not check.stdout.startswith(str(self.code)):
            raise RuntimeError(f"snapshot not importable first: {check.stdout}{check.stderr}")

    def _mkdir(self, name: str) -> Path:
        p = self.dir / name
        p.mkdir()
        return p

    def make_jobs(self) -> None:
        rng = random.Random(self.seed)
        names = [c.name for c in CATEGORIES]
        weights = [c.weight for c in CATEGORIES]
        # every category at least once (small runs), the rest by weight
        cats = names[:] if self.n >= len(names) else []
        cats += rng.choices(names, weights, k=self.n - len(cats))
        rng.shuffle(cats)
        run_id = f"{os.getpid():x}{int(time.time()):x}"
        to_sign = []
        from_dom = {"sign": "sign.example", "sign_parent": "mx.dept.sign2.example",
                    "sign_nokey": "nokey.example", "sign_badkey": "corrupt.example",
                    "fault_fixedkey": "sign.example", "fault_queue71": "sign.example"}
        for i, cat in enumerate(cats):
            token = f"L{run_id}-{i:06d}"
            dom = from_dom.get(cat, "ext.example" if cat != "verify_servfail" else "servfail.example")
            head, body = make_message(rng, i, token, dom)
            nr = rng.choice((1, 1, 1, 2, 3))
            job = Job(i, token, cat, f"user{i % 97}@{dom.split('.', 1)[-1] if cat == 'sign_parent' else dom}",
                      [f"rcpt{i}-{k}@dest.example" for k in range(nr)], head + body)
            self.jobs.append(job)
            if cat.startswith("verify_") and cat != "verify_unsigned":
                sel = "gone" if cat == "verify_noselector" else "sel"
                to_sign.append((job, (job.message, dom, sel)))
        if to_sign:
            import multiprocessing
            t0 = time.monotonic()
            with multiprocessing.get_context("fork").Pool(
                    os.cpu_count() or 1, _sign_init, (self.k_ext.pem_pkcs1(),)) as pool:
                signed = pool.map(_sign_one, [a for _, a in to_sign], chunksize=32)
            for (job, _), s in zip(to_sign, signed):
                if job.cat == "verify_tampered":
                    job.message, job.note = _tamper(rng, s, job.token)
                else:
                    job.message = s
            self.say(f"pre-signed {len(to_sign)} verify-mode messages in {time.monotonic() - t0:.1f} s")

    # -- send
    def _send(self, job: Job, port: int) -> None:
        t0 = time.monotonic()
        s = smtplib.SMTP(timeout=120, source_address=(CAT[job.cat].src, 0))
        try:
            code, msg = s.connect("127.0.0.1", port)
            if code != 220:
                job.code, job.text = code, msg.decode(errors="replace")
                return
            code, msg = s.ehlo("client.load.test")
            if code != 250:
                job.code, job.text = code, msg.decode(errors="replace")
                return
            code, msg = s.mail(job.sender)
            if code != 250:
                job.code, job.text = code, "MAIL: " + msg.decode(errors="replace")
                return
            for r in job.rcpts:
                code, msg = s.rcpt(r)
                if code not in (250, 251):
                    job.code, job.text = code, "RCPT: " + msg.decode(errors="replace")
                    return
            s.putcmd("data")
            code, msg = s.getreply()
            if code != 354:
                job.code, job.text = code, "DATA: " + msg.decode(errors="replace")
                return
            s.send(lf_to_smtp(job.message))
            code, msg = s.getreply()
            job.code, job.text = code, msg.decode(errors="replace")
        finally:
            job.latency = time.monotonic() - t0
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                s.close()

    def send_all(self) -> None:
        q: queue.Queue = queue.Queue()
        for j in self.jobs:
            q.put(j)
        port = self.front.port
        done = [0]
        lock = threading.Lock()

        def worker():
            while True:
                try:
                    job = q.get_nowait()
                except queue.Empty:
                    return
                try:
                    self._send(job, port)
                except Exception as e:          # noqa: BLE001 -- recorded, checked later
                    job.code, job.error = -1, f"{type(e).__name__}: {e}"
                with lock:
                    done[0] += 1
                    if done[0] % 1000 == 0:
                        self.say(f"  sent {done[0]}/{len(self.jobs)}")

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    # -- checks
    def read_spool(self) -> dict[str, list[tuple[Path, bytes, bytes]]]:
        out: dict[str, list] = defaultdict(list)
        tok_re = re.compile(rb"^Message-ID: <(L[0-9a-f]+-\d+)@load\.test>$", re.M | re.I)
        self.unknown: list[str] = []
        for shard in sorted(self.spool.iterdir()):
            for envp in shard.glob("*.env"):
                msgp = envp.with_suffix(".msg")
                msg = msgp.read_bytes()
                m = tok_re.search(msg)
                if not m:
                    self.unknown.append(str(msgp))
                    continue
                out[m.group(1).decode()].append((msgp, msg, envp.read_bytes()))
        return out

    @staticmethod
    def split_prefix(prefix: bytes) -> list[tuple[str, bytes]] | None:
        """Header fields of the prefix, [(lowercased name, whole field)], or None if the
        prefix is not a sequence of LF-terminated header fields."""
        if not prefix:
            return []
        if not prefix.endswith(b"\n"):
            return None
        fields: list[list] = []
        for line in prefix[:-1].split(b"\n"):
            if line[:1] in (b" ", b"\t"):
                if not fields:
                    return None
                fields[-1][1] += b"\n" + line
                continue
            name, sep, _ = line.partition(b":")
            if not sep or not name or re.search(rb"[\s]", name):
                return None
            fields.append([name.decode().lower(), line])
        return [(n, v) for n, v in fields]

    def check(self, res: Result) -> None:
        spool = self.read_spool()
        problems = res.problems
        counts = Counter()
        per = {c.name: {"sent": 0, "expect": c.code, "codes": Counter(), "spooled": 0,
                        "verified": 0, "verify_expected": c.code == 250 and
                        (c.stored.startswith("sig:") or c.stored == "verify:A"), "ok": True}
               for c in CATEGORIES}
        self.to_verify: dict[str, tuple[Job, str]] = {}
        for job in self.jobs:
            c = CAT[job.cat]
            st = per[c.name]
            st["sent"] += 1
            st["codes"][job.code if job.code != -1 else "err"] += 1
            copies = spool.pop(job.token, [])
            st["spooled"] += len(copies)
            bad = []
            if job.code == -1:
                counts["errors"] += 1
                bad.append(f"transport error {job.error}")
            elif job.code != c.code:
                counts["wrong"] += 1
                bad.append(f"got {job.code} {job.text!r}, expected {c.code}")
            if job.code == 250:
                counts["accepted"] += 1
            elif 500 <= job.code < 600:
                counts["rej5"] += 1
            elif 400 <= job.code < 500:
                counts["rej4"] += 1
            if job.code == 250:
                if not copies:
                    counts["lost"] += 1
                    bad.append("accepted (250) but not in the spool")
                elif len(copies) > 1:
                    counts["duplicated"] += 1
                    bad.append(f"in the spool {len(copies)} times: {[str(p) for p, _, _ in copies]}")
                if copies:
                    path, stored, env = copies[0]
                    why = self._check_stored(job, c, stored, env)
                    if why:
                        counts["altered"] += 1
                        bad.append(f"{path}: {why}")
                    elif per[c.name]["verify_expected"]:
                        self.to_verify[job.token] = (job, str(path))
            elif copies:
                counts["rejected_spooled"] += 1
                bad.append(f"reply {job.code} but in the spool: {[str(p) for p, _, _ in copies]}")
            if bad:
                st["ok"] = False
                problems.append(f"{job.token} [{job.cat}]: " + "; ".join(bad))
        for tok, copies in spool.items():       # spooled, but never sent by us
            counts["unknown"] += len(copies)
            problems.append(f"spool holds unknown token {tok}: {[str(p) for p, _, _ in copies]}")
        for p in self.unknown:
            counts["unknown"] += 1
            problems.append(f"spool file without a load-test Message-ID: {p}")
        res.per_cat = per
        res.counts = counts

    def _check_stored(self, job: Job, c: Category, stored: bytes, env: bytes) -> str:
        sender, rcpts = parse_envelope(env)
        if (sender, rcpts) != (job.sender, job.rcpts) or env != make_envelope(job.sender, job.rcpts):
            return f"envelope {env!r} != sent {make_envelope(job.sender, job.rcpts)!r}"
        if not stored.endswith(job.message):
            return "stored message does not end with the sent message byte for byte"
        prefix = stored[:len(stored) - len(job.message)]
        fields = self.split_prefix(prefix)
        if fields is None:
            return f"prefix is not header fields: {prefix[:200]!r}"
        names = [n for n, _ in fields]
        if c.stored == "none":
            return "" if not fields else f"unsigned message got headers {names}"
        if c.stored.startswith("sig:"):
            if names != ["dkim-signature"]:
                return f"prefix fields {names}, expected one DKIM-Signature"
            tags = dict((k.strip(), v.strip()) for k, _, v in
                        (t.partition(b"=") for t in re.sub(rb"\s+", b"", fields[0][1].partition(b":")[2])
                         .split(b";")) if k.strip())
            want_d = c.stored[4:].encode()
            if tags.get(b"d") != want_d or tags.get(b"s") != b"default":
                return f"signature d={tags.get(b'd')} s={tags.get(b's')}, expected d={want_d} s=default"
            return ""
        if c.stored.startswith("verify:"):
            if names != ["dkim-status", "authentication-results"]:
                return f"prefix fields {names}, expected DKIM-Status, Authentication-Results"
            status = fields[0][1].partition(b":")[2].strip()
            ar = re.sub(rb"\s+", b" ", fields[1][1].partition(b":")[2]).strip()
            want = {"A": (b"good", b"dkim=pass"), "S": (b"no signatures", b"dkim=none")}[c.stored[7:]]
            if status != want[0]:
                return f"DKIM-Status {status!r}, expected {want[0]!r}"
            if not ar.startswith(AUTHSERV_ID.encode() + b";") or want[1] not in ar:
                return f"Authentication-Results {ar!r}, expected {AUTHSERV_ID}; {want[1]!r}"
            return ""
        return f"category {c.name} should not have been stored"

    def verify_signatures(self, res: Result) -> None:
        """Mail::DKIM over every stored signed / verified-good message, in batch."""
        if not self.to_verify:
            return
        perl = find_tool("perl-mail-dkim")
        if not perl:
            res.problems.append("Perl Mail::DKIM not available: signatures not checked")
            return
        vdir = self._mkdir("verify")
        for tok, (_, path) in self.to_verify.items():
            os.link(path, vdir / tok)
        n = max(1, min(self.verify_jobs, len(self.to_verify) // 50 or 1))
        t0 = time.monotonic()
        procs = [subprocess.Popen([perl, str(VERIFY_DIR_PL), str(vdir), str(self.nsd.port), "5", f"{k}/{n}"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for k in range(n)]
        seen = {}
        for p in procs:
            out, err = p.communicate(timeout=1800)
            if p.returncode != 0:
                res.problems.append(f"mail-dkim-verify-dir.pl exit {p.returncode}: {err.decode(errors='replace')[-500:]}")
            for line in out.decode(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) == 4:
                    seen[parts[0]] = parts
        # Net::DNS timeouts on the verifier's side (a loaded machine, NSD with one server
        # process) say nothing about our signatures: ask again, once, in one process
        again = [tok for tok, r in seen.items() if "DNS error" in r[2]]
        if again:
            vdir2 = self._mkdir("verify-again")
            for tok in again:
                os.link(vdir / tok, vdir2 / tok)
            r2 = subprocess.run([perl, str(VERIFY_DIR_PL), str(vdir2), str(self.nsd.port), "10"],
                                capture_output=True, timeout=1800)
            for line in r2.stdout.decode(errors="replace").splitlines():
                parts = line.split("\t")
                if len(parts) == 4:
                    seen[parts[0]] = parts
            res.counts["sig_dns_retried"] = len(again)
        self.say(f"Mail::DKIM verified {len(seen)} messages in {time.monotonic() - t0:.1f} s "
                 f"({n} perl processes; {len(again)} asked again after a DNS timeout)")
        counts = res.counts
        for tok, (job, path) in self.to_verify.items():
            c = CAT[job.cat]
            want_d = c.stored[4:] if c.stored.startswith("sig:") else "ext.example"
            r = seen.get(tok)
            counts["sig_checked"] += 1
            ok = r is not None and r[1] == "pass" and f"d={want_d}," in r[3] and ",r=pass" in r[3]
            if c.stored.startswith("sig:") and r is not None:
                ok = ok and r[3].count("d=") == 1
            if ok:
                res.per_cat[c.name]["verified"] += 1
            else:
                counts["sig_failed"] += 1
                res.per_cat[c.name]["ok"] = False
                res.problems.append(f"{tok} [{job.cat}] {path}: Mail::DKIM says {r}")

    def check_log(self, res: Result) -> None:
        """One qmail-dkim log line per message; the multiset of (mode, result or status,
        exit) over all lines equals the one the categories predict (the log line
        carries no token, so the comparison is by counts)."""
        from tests.logparse import fields as log_fields
        text = self.front.log_path.read_text(errors="replace")
        lines = [l for l in text.splitlines() if l.startswith("qmail-dkim: mode=")]
        got = Counter()
        for l in lines:
            f = log_fields(l)
            got[" ".join(f"{k}={f[k]}" for k in LOG_KEYS if k in f)] += 1
        want = Counter(self.expected_log(j) for j in self.jobs)
        res.log_counts = {"got": dict(got), "want": dict(want)}
        if len(lines) != len(self.jobs):
            res.problems.append(f"qmail-dkim log has {len(lines)} lines for {len(self.jobs)} messages")
        if got != want:
            for k in sorted(set(got) | set(want)):
                if got[k] != want[k]:
                    res.problems.append(f"log lines '{k}': {got[k]}, expected {want[k]}")
        conc = [int(m) for m in re.findall(r"^tcpserver: status: (\d+)/\d+$", text, re.M)]
        res.max_concurrent = max(conc, default=0)
        bad = [l for l in text.splitlines() if "Traceback" in l]
        if bad:
            res.problems.append(f"{len(bad)} Python tracebacks in the smtp log")

    def check_dkimd(self, res: Result) -> None:
        """After the last message: no worker left unreaped, no fd and no RSS
        growth from the first tenth of the run to its end; how many
        connections the server took (the rest ran in-process)."""
        deadline = time.monotonic() + 30
        from tests.realparts.dkimd import busy_workers

        def settled():
            # no worker serving, and the last ones reaped (a zombie until the
            # server's SIGCHLD handling has run: transient under load)
            self.sample_dkimd()
            # and two samples alike: spares forked once idle (qmail-dkimd(8),
            # -p) hold two fds for a moment (both ends of their socketpair)
            return (not busy_workers(self.dkimd.pid) and len(self.samples) > 1
                    and not self.samples[-1][3] and self.samples[-1][2] == self.samples[-2][2])
        while time.monotonic() < deadline and not settled():
            time.sleep(0.05)
        left = busy_workers(self.dkimd.pid)
        if left:
            res.problems.append(f"qmail-dkimd still has workers 30 s after the last message: {left}")
        if len(self.samples) < 2:
            res.problems.append("qmail-dkimd: too few samples of its RSS and fds")
            return
        t_first, t_last = self.samples[0][0], self.samples[-1][0]
        early = [s for s in self.samples if s[0] - t_first >= (t_last - t_first) * 0.1] or self.samples
        base, end = early[0], self.samples[-1]
        res.dkimd = {"rss_kb": (base[1], end[1], max(s[1] for s in self.samples)),
                     "fds": (base[2], end[2], max(s[2] for s in self.samples)),
                     "zombies_max": max(s[3] for s in self.samples), "zombies_end": end[3],
                     "samples": len(self.samples)}
        # a spare being forked shows for a moment one fd more or less than
        # it holds: the baseline is the most seen early on (a leak of one
        # fd per message still shows as tens of fds)
        base_fds = max(s[2] for s in early[:max(2, len(early) // 5)])
        if end[2] > base_fds:
            res.problems.append(f"qmail-dkimd fds grew: {base_fds} -> {end[2]}")
        if end[1] - base[1] > 1024:
            res.problems.append(f"qmail-dkimd RSS grew: {base[1]} -> {end[1]} kB")
        if end[3]:
            res.problems.append(f"qmail-dkimd has {end[3]} zombie children 30 s after the last message")
        self.dkimd.stop()
        m = re.search(r"stopping after (\d+) connections", self.dkimd.log())
        res.dkimd["connections"] = int(m.group(1)) if m else None
        if not m or int(m.group(1)) == 0:
            res.problems.append("qmail-dkimd served no message: " + self.dkimd.log()[-500:])
        bad = [l for l in self.dkimd.log().splitlines() if "killed by signal" in l or "refused" in l]
        if bad:
            res.problems.append(f"qmail-dkimd log: {bad[:5]}")

    @staticmethod
    def expected_log(job: Job) -> str:
        c = CAT[job.cat]
        if job.cat == "verify_tampered":
            return c.log.replace("status=?", f"status={job.note}")
        return c.log

    # -- whole run
    def run(self) -> Result:
        t_all = time.monotonic()
        res = Result(self.n, self.clients, self.jobs, workdir=str(self.dir), ncpu=os.cpu_count() or 1)
        try:
            self.setup()
            self.make_jobs()
            res.code = self.code_desc
            self.say(f"{len(self.jobs)} messages, {self.clients} clients; NSD on {self.nsd.dnscacheip}; "
                     f"code: {self.code_desc}")
            c0 = _rusage_cpu(resource.RUSAGE_CHILDREN)
            self.front.start()
            self.say(f"tcpserver on 127.0.0.1:{self.front.port} (-c {self.front.concurrency})")
            s0 = _rusage_cpu(resource.RUSAGE_SELF)
            b0, _ = _proc_stat_busy()
            t0 = time.monotonic()
            sampler = None
            if self.dkimd:
                stop_sampling = threading.Event()

                def sample():
                    while not stop_sampling.wait(0.5):
                        self.sample_dkimd()
                sampler = threading.Thread(target=sample, daemon=True)
                sampler.start()
            self.send_all()
            res.wall_send = time.monotonic() - t0
            if sampler:
                stop_sampling.set()
                sampler.join()
            b1, _ = _proc_stat_busy()
            s1 = _rusage_cpu(resource.RUSAGE_SELF)
            if not self.front.wait_idle():
                res.problems.append("tcpserver still had children 60 s after the last reply")
            if self.dkimd:
                self.check_dkimd(res)
            self.front.stop()
            c1 = _rusage_cpu(resource.RUSAGE_CHILDREN)
            self.nsd.stop()
            c2 = _rusage_cpu(resource.RUSAGE_CHILDREN)
            res.server_cpu, res.client_cpu, res.nsd_cpu = c1 - c0, s1 - s0, c2 - c1
            res.sys_busy_cpu = (b1 - b0) / os.sysconf("SC_CLK_TCK")
            self.nsd.start()                     # again, for Mail::DKIM (same zones, new port)
            self.say(f"sent in {res.wall_send:.1f} s; checking the spool")
            self.check(res)
            self.verify_signatures(res)
            self.check_log(res)
        finally:
            if self.front:
                self.front.stop()
            if self.nsd:
                self.nsd.stop()
            if self.dkimd:
                self.dkimd.stop()
        res.wall_total = time.monotonic() - t_all
        return res


def run_load(messages: int = 10000, clients: int = 20, *, workdir: str | os.PathLike | None = None,
             keep: bool = False, seed: int = 1, say=print, rev: str | None = None,
             daemon: bool = False) -> Result:
    own = workdir is None
    d = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="qmail-dkim-load-"))
    d.mkdir(parents=True, exist_ok=True)
    res = LoadRun(messages, clients, d, seed=seed, say=say, rev=rev, daemon=daemon).run()
    if own and not keep and res.ok:
        shutil.rmtree(d, ignore_errors=True)
        res.workdir += " (removed)"
    return res
