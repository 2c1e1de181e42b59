"""qmail-dkimd (qmail-dkimd(8)) and qmail-dkim as its client (DKIMSOCKET).

The same message through the server and in-process must give the same exit
status, the same log line and the same stored message; the server refuses
what qmail-dkimd(8) says it refuses; every fault ends with the message
either queued exactly once or not at all with a temporary exit.
"""
from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from qmail_dkim.daemon import client as dclient
from qmail_dkim.daemon import server as dserver
from qmail_dkim.dkim.lib import dkim
from tests.qdkim import QMAIL_DKIM, RUN_SCRIPT, SAMPLE
from tests.realparts.dkimd import ACCOUNT, QMAIL_DKIMD, ROOT, Dkimd, busy_workers, give, queue_double_python
from tests.realparts.keys import cached_rsa_key
from tests.realparts.queue_double import QueueDouble, make_envelope

REPO = Path(__file__).resolve().parent.parent
RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}
ENVELOPE = make_envelope("joe@example.com", ["bob@example.net"])


@pytest.fixture(scope="module")
def dkimd():
    with Dkimd() as d:
        yield d


@pytest.fixture
def home(dkimd, request):
    h = dkimd.home("h-" + request.node.name[:40].replace("[", "_").replace("]", "_"))
    keydir = h / "control" / "domainkeys" / "example.com"
    keydir.mkdir(parents=True, exist_ok=True)
    os.chmod(keydir.parent, 0o755)
    os.chmod(keydir, 0o755)
    give(cached_rsa_key(2048).write(keydir / "default", fmt="pkcs1"))
    return h


class Result:
    def __init__(self, rc, stderr, qd, pid, elapsed):
        self.rc, self.stderr, self.qd, self.pid, self.elapsed = rc, stderr, qd, pid, elapsed
        self.stored = qd.messages()

    @property
    def log(self):
        lines = [l for l in self.stderr.splitlines() if l.startswith("qmail-dkim: mode=")]
        assert len(lines) == 1, self.stderr
        return lines[0]


def _env(home, qd, env, knobs):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": str(home),
            "TMPDIR": str(home / "tmp"), "DKIMQUEUE": str(qd.path)}
    full.update(qd.env(**(knobs or {})))
    full.update(env)
    return {k: v for k, v in full.items() if v is not None}


_QD_NUMBERS = itertools.count()        # thread-safe in CPython: one per double


def new_qd(home):
    qd = QueueDouble(home / ("qq%d" % next(_QD_NUMBERS)), python=queue_double_python())
    os.chmod(qd.dir, 0o1777)
    return qd


def start(home, env, message=SAMPLE, knobs=None, args=()):
    """Start qmail-dkim as qmail-smtpd does; returns (Popen, qd, stderr file)."""
    qd = new_qd(home)
    envf = tempfile.TemporaryFile()
    envf.write(ENVELOPE)
    envf.seek(0)
    errf = tempfile.TemporaryFile()
    msgf = tempfile.TemporaryFile()
    msgf.write(message)
    msgf.seek(0)
    p = subprocess.Popen([QMAIL_DKIM] + list(args), stdin=msgf, stdout=envf, stderr=errf,
                         env=_env(home, qd, env, knobs), cwd=str(home))
    for f in (envf, msgf):
        f.close()
    return p, qd, errf


def finish(p, qd, errf, t0, timeout=60):
    rc = p.wait(timeout=timeout)
    elapsed = time.monotonic() - t0
    errf.seek(0)
    err = errf.read().decode("utf-8", "replace")
    errf.close()
    return Result(rc, err, qd, p.pid, elapsed)


def run(home, env, message=SAMPLE, knobs=None, args=(), timeout=60):
    t0 = time.monotonic()
    p, qd, errf = start(home, env, message, knobs, args)
    return finish(p, qd, errf, t0, timeout)


def body_of(stored):
    """The stored message without our leading DKIM-Signature field."""
    lines = stored.split(b"\n")
    assert lines[0].startswith(b"DKIM-Signature:")
    n = 1
    while lines[n][:1] in (b"\t", b" "):
        n += 1
    return b"\n".join(lines[n:])


def verifies(msg, key):
    rec = key.dns_record().encode()
    return dkim.verify(msg.replace(b"\n", b"\r\n"), dnsfunc=lambda name, timeout=5: rec)


# ------------------------------------------------------------ same as in-process

def test_sign_through_server_same_as_in_process(dkimd, home):
    inproc = run(home, RELAY)
    served = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket))
    assert inproc.rc == served.rc == 0, (inproc.stderr, served.stderr)
    assert inproc.log == served.log
    assert "result=signed" in served.log
    [a], [b] = inproc.stored, served.stored
    assert body_of(a.msg) == body_of(b.msg) == SAMPLE
    assert verifies(a.msg, cached_rsa_key(2048)) and verifies(b.msg, cached_rsa_key(2048))
    assert a.env == b.env == ENVELOPE
    # in-process the queue program is our child; through the server, the worker's
    assert a.info["ppid"] == inproc.pid
    assert b.info["ppid"] != served.pid
    assert b.info["environ"]["DKIMSOCKET"] == dkimd.socket      # the client's environment
    assert b.info["cwd"] == a.info["cwd"]


def test_verify_through_server_same_as_in_process(dkimd, home, nsd_server):
    env = {"DKIMVERIFY": "FGHIKLMNOQRTUVWjp", "DNSCACHEIP": nsd_server.dnscacheip}
    # the key record is published for s=sel: sign with that selector
    keyfile = home / "control" / "domainkeys" / "example.com" / "sel"
    give(cached_rsa_key(2048).write(keyfile, fmt="pkcs1"))
    signed = run(home, dict(RELAY, DKIMKEY="control/domainkeys/%/sel")).stored[0].msg
    for message, status, rc in ((signed, "A", 0),
                                (signed.replace(b"Hello Bob", b"Hello Eve"), "U", 31),
                                (SAMPLE, "S", 0)):
        inproc = run(home, env, message)
        served = run(home, dict(env, DKIMSOCKET=dkimd.socket), message)
        assert inproc.rc == served.rc == rc, (inproc.stderr, served.stderr)
        assert inproc.log == served.log
        assert f"status={status}" in served.log
        assert [m.msg for m in inproc.stored] == [m.msg for m in served.stored]
        assert len(served.stored) == (1 if rc == 0 else 0)


def test_exit_status_and_argv_passed_through(dkimd, home):
    r = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket), knobs={"exit": 71})
    assert r.rc == 71 and "exit=71" in r.log and not r.stored
    # argv: the queue program named on the command line, with its arguments
    qd = new_qd(home)
    r = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket, QQ_DOUBLE_DIR=str(qd.dir)),
            args=[str(qd.path), "one", "two words"])
    assert r.rc == 0, r.stderr
    [m] = qd.messages()
    assert m.info["argv"][1:] == ["one", "two words"]


def test_umask_and_cwd_are_the_clients(dkimd, home, tmp_path):
    # the queue program is a shell that reports the umask and cwd it got
    out = home / "tmp" / "umask-out"
    prog = home / "bin" / "report.sh"
    prog.write_text("#!/bin/sh\ncat >/dev/null\n(umask; pwd) > %s\n" % out)
    prog.chmod(0o755)
    for mask in (0o027, 0o002):
        if out.exists():
            out.unlink()
        env = _env(home, new_qd(home), dict(RELAY, DKIMSOCKET=dkimd.socket), None)
        with tempfile.TemporaryFile() as envf:
            envf.write(ENVELOPE)
            envf.seek(0)
            p = subprocess.run(["/bin/sh", "-c", "umask %o; exec %s %s" % (mask, QMAIL_DKIM, prog)],
                               input=SAMPLE, stdout=envf, stderr=subprocess.PIPE,
                               env=env, cwd="/", timeout=60)
        assert p.returncode == 0, p.stderr
        umask, cwd = out.read_text().split()
        assert int(umask, 8) == mask
        assert cwd == str(home)            # main changes to QMAILHOME, as in-process


# ------------------------------------------------------------ falling back

def test_no_server_runs_in_process(home, tmp_path):
    r = run(home, dict(RELAY, DKIMSOCKET=str(tmp_path / "no-such-socket")))
    assert r.rc == 0 and "result=signed" in r.log
    assert r.stored[0].info["ppid"] == r.pid
    assert r.elapsed < 10


def test_stale_socket_runs_in_process_and_server_replaces_it(home):
    d = Dkimd().start()
    try:
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait()
        assert os.path.exists(d.socket)          # left behind
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket, DKIMSOCKETTIMEOUT="5"))
        assert r.rc == 0 and r.stored[0].info["ppid"] == r.pid
        assert r.elapsed < 5                     # refused at once, not after the bound
        d.start()                                # the stale file is replaced
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket))
        assert r.rc == 0 and r.stored[0].info["ppid"] != r.pid
    finally:
        d.cleanup()


# ------------------------------------------------------------ protocol and security

def test_request_round_trip_and_strict_parsing():
    req = dclient.encode_request([b"qmail-dkim", b"a b"], {b"A": b"1", b"EMPTY": b""}, b"/var/qmail", 0o22)
    assert dserver.parse_request(req) == (0o22, b"/var/qmail", [b"qmail-dkim", b"a b"],
                                          {b"A": b"1", b"EMPTY": b""})
    assert dclient.encode_request([b"x\0y"], {}, b"/", 0) is None
    bad = [req[:-1], b"QDKIMD2" + req[7:], req.replace(b"\x0022\x00", b"\x0099\x00", 1),
           req.replace(b"/var/qmail", b"var/qmail"), req.replace(b"\x002\x00", b"\x009\x00", 1),
           req + b"X=1\0", req.replace(b"A=1", b"A1"), req.replace(b"EMPTY=", b"A=")]
    for b in bad:
        with pytest.raises(dserver.RequestError):
            dserver.parse_request(b)


def _raw_request(path, payload, fds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.settimeout(10)
    s.connect(path)
    hello = s.recv(64)
    assert hello.startswith(b"QDKIMD1 ")
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, b"".join(fd.to_bytes(4, sys.byteorder) for fd in fds))] if fds else []
    s.sendmsg([payload], anc)
    try:
        return s.recv(256)
    finally:
        s.close()


def test_server_refuses_bad_requests_without_touching_fds(dkimd, home):
    good = dclient.encode_request([b"qmail-dkim"], {b"PATH": b"/bin"}, b"/", 0o22)
    r, w = os.pipe()
    try:
        assert _raw_request(dkimd.socket, good, [r, w]).startswith(b"R expected exactly 3 fds")
        assert _raw_request(dkimd.socket, good, [r, w, w, w]).startswith(b"R expected exactly 3 fds")
        assert _raw_request(dkimd.socket, good, []).startswith(b"R expected exactly 3 fds")
        assert _raw_request(dkimd.socket, b"garbage\0", [r, w, w]).startswith(b"R not a qmail-dkimd request")
        big = dclient.encode_request([b"qmail-dkim"], {b"X": b"y" * 70000}, b"/", 0o22)
        reply = _raw_request(dkimd.socket, big, [r, w, w])
        assert reply.startswith(b"R request or its fds truncated"), reply
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):     # nothing was written to the fds
            os.read(r, 1)
    finally:
        os.close(r)
        os.close(w)
    assert "refused request" in dkimd.log()


def test_oversized_environment_runs_in_process(dkimd, home):
    r = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket, BIG="x" * 70000))
    assert r.rc == 0 and r.stored[0].info["ppid"] == r.pid


@pytest.mark.skipif(not ROOT, reason="needs root: another uid to connect from, and the -u drop")
def test_peer_not_in_allow_list_runs_in_process(home):
    with Dkimd(allow_root=False) as d:               # root's clients are not let in
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket))
        assert r.rc == 0 and r.stored[0].info["ppid"] == r.pid
        assert r.elapsed < 5
        assert "refused a connection from uid 0" in d.log()


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_refuses_root_and_drops_to_the_account(dkimd, tmp_path):
    import pwd
    p = subprocess.run([QMAIL_DKIMD, str(tmp_path / "s" / "sock")], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"will not run as root" in p.stderr
    p = subprocess.run([QMAIL_DKIMD, "-u", "root", str(tmp_path / "s" / "sock")], capture_output=True, timeout=30)
    assert p.returncode != 0 and b"will not run as root" in p.stderr
    status = Path(f"/proc/{dkimd.pid}/status").read_text()
    ids = [l.split()[1:] for l in status.splitlines() if l.startswith(("Uid:", "Gid:"))]
    pw = pwd.getpwnam(ACCOUNT)
    assert set(ids[0]) == {str(pw.pw_uid)} and set(ids[1]) == {str(pw.pw_gid)}
    st = os.stat(os.path.dirname(dkimd.socket))           # made by the server: 0750, the account's
    assert (st.st_mode & 0o777, st.st_uid, st.st_gid) == (0o750, pw.pw_uid, pw.pw_gid)


def test_socket_directory_open_to_others_is_refused(tmp_path):
    d = tmp_path / "open"
    d.mkdir()
    give(d)
    os.chmod(d, 0o777)
    argv = [QMAIL_DKIMD] + (["-u", ACCOUNT] if ROOT else []) + [str(d / "sock")]
    p = subprocess.run(argv, capture_output=True, timeout=30)
    assert p.returncode != 0 and b"must be owned by" in p.stderr, p.stderr
    assert oct(os.stat(d).st_mode & 0o777) == oct(0o777)        # checked, never changed
    assert not (d / "sock").exists()


def test_custom_error_runs_in_process(dkimd, home):
    # DKIMCUSTOMERROR's reply goes to a descriptor the client does not hand over
    r = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket, DKIMCUSTOMERROR="indimail"))
    assert r.rc == 0 and r.stored[0].info["ppid"] == r.pid
    # and a request carrying it is refused by the server before any fd is used
    req = dclient.encode_request([b"qmail-dkim"], {b"DKIMCUSTOMERROR": b"notqmail"}, b"/", 0o22)
    with pytest.raises(dserver.RequestError):
        dserver.parse_request(req)


# ------------------------------------------------------------ faults

def _wait(cond, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError("timed out waiting for " + what)


def test_hung_server_runs_in_process_after_the_bound(home):
    with Dkimd() as d:
        os.kill(d.pid, signal.SIGSTOP)
        try:
            r = run(home, dict(RELAY, DKIMSOCKET=d.socket, DKIMSOCKETTIMEOUT="0.5"))
        finally:
            os.kill(d.pid, signal.SIGCONT)
        assert r.rc == 0 and "result=signed" in r.log
        assert r.stored[0].info["ppid"] == r.pid          # in-process
        assert 0.5 <= r.elapsed < 10
        # the connection it gave up on is accepted late and goes nowhere;
        # the server serves the next one
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket))
        assert r.rc == 0 and r.stored[0].info["ppid"] != r.pid
        assert len(r.stored) == 1


def test_worker_killed_mid_message_temporary_exit_nothing_queued(home):
    with Dkimd() as d:
        t0 = time.monotonic()
        p, qd, errf = start(home, dict(RELAY, DKIMSOCKET=d.socket), knobs={"sleep_before": 3})
        _wait(lambda: any("start" in c for c in qd.calls()), what="the queue program to start")
        [worker] = busy_workers(d.pid)
        os.kill(worker, signal.SIGKILL)
        r = finish(p, qd, errf, t0)
        assert r.rc == 81, r.stderr
        assert "result=error" in r.log and "went away without an exit status" in r.log
        time.sleep(4)                      # past the double's sleep: it would have queued by now
        assert qd.messages() == [] and not any("done" in c for c in qd.calls()), qd.calls()
        _wait(lambda: "killed by signal 9" in d.log(), what="the server's log line")


def test_client_killed_worker_kills_queue_program_and_logs(home):
    with Dkimd() as d:
        t0 = time.monotonic()
        p, qd, errf = start(home, dict(RELAY, DKIMSOCKET=d.socket), knobs={"sleep_before": 3})
        _wait(lambda: any("start" in c for c in qd.calls()), what="the queue program to start")
        p.kill()
        p.wait()

        def logged():
            errf.seek(0)
            return errf.read().decode()
        text = _wait(lambda: 'reason="client went away"' in logged() and logged(), what="the worker's log line")
        assert "mode=sign result=error" in text and "DEATH" not in text
        time.sleep(4)
        assert qd.messages() == [] and not any("done" in c for c in qd.calls()), qd.calls()
        assert "client went away" in d.log()
        _wait(lambda: busy_workers(d.pid) == [], what="the worker to be gone")
        errf.close()


def test_server_restarted_under_load_nothing_lost_or_doubled(home):
    import threading
    conc, least = 6, 30
    results = {}
    active = set()
    in_flight = []                         # messages under way at each stop
    with Dkimd() as d:
        env = dict(RELAY, DKIMSOCKET=d.socket, DKIMSOCKETTIMEOUT="2")
        done = threading.Event()

        def client(i):
            active.add(i)
            msg = SAMPLE.replace(b"<1@example.com>", b"<%d@example.com>" % i)
            results[i] = run(home, env, msg)
            active.discard(i)

        def restarts():
            time.sleep(0.5)
            in_flight.append(len(active))
            d.stop()                       # SIGTERM, as svc -t
            d.start()
            time.sleep(0.5)
            in_flight.append(len(active))
            os.kill(d.pid, signal.SIGKILL)  # a crash: the socket file stays behind
            d.proc.wait()
            time.sleep(0.3)
            d.start()
            time.sleep(0.3)
            done.set()

        r_thread = threading.Thread(target=restarts)
        r_thread.start()
        sent = 0
        while not done.is_set() or sent < least:
            ts = [threading.Thread(target=client, args=(sent + k,)) for k in range(conc)]
            sent += conc
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        r_thread.join()
    served = 0
    for i, r in sorted(results.items()):
        assert r.rc == 0, (i, r.stderr)
        assert "result=signed" in r.log and "exit=0" in r.log
        assert len(r.stored) == 1, (i, r.stderr)
        assert b"<%d@example.com>" % i in r.stored[0].msg
        served += r.stored[0].info["ppid"] != r.pid
    assert len(results) == sent >= least
    assert served > 0
    assert len(in_flight) == 2 and min(in_flight) > 0, in_flight     # both stops were under load


def test_key_rollover_needs_no_restart(dkimd, home):
    keyfile = home / "control" / "domainkeys" / "example.com" / "default"
    env = dict(RELAY, DKIMSOCKET=dkimd.socket)
    old, new = cached_rsa_key(2048), cached_rsa_key(2048, 7)
    for _ in range(2):                     # the second time from the server's cache
        r = run(home, env)
        assert r.rc == 0 and verifies(r.stored[0].msg, old)
    tmp = keyfile.with_name("default.new")
    give(new.write(tmp, fmt="pkcs1"))
    os.rename(tmp, keyfile)                # a new file: another inode
    r = run(home, env)
    assert r.rc == 0 and verifies(r.stored[0].msg, new) and not verifies(r.stored[0].msg, old)
    assert r.stored[0].info["ppid"] != r.pid


def test_openssl_signer_gives_the_same_octets():
    import hashlib
    from qmail_dkim.dkim import privkey
    key = privkey.parse_private_key(cached_rsa_key(2048).pem_pkcs1(), "k")
    for h in (hashlib.sha256(b"header hash input"), hashlib.sha1(b"x")):
        pure = key.sign_rsa(h.copy())
        fast = privkey.PrivateKey(key.kind, "k", key._rsa)
        fast.fast = dserver.openssl_signer(fast)
        assert fast.fast is not None
        assert fast.sign_rsa(h.copy()) == pure


def test_rsa_and_ed25519_through_server_as_in_process(dkimd, home):
    """Both signatures (DKIMSIGNEXTRA) made by a worker verify; Ed25519 goes
    through OpenSSL there too (qmail-dkimd(8), SPEED), the same log line
    as in-process."""
    from tests.realparts.keys import cached_ed25519_key
    ed = cached_ed25519_key()
    give(ed.write(home / "control" / "domainkeys" / "example.com" / "ed", fmt="pkcs8"))
    env = dict(RELAY, DKIMSIGNEXTRA="control/domainkeys/%/ed")
    records = {b"default._domainkey.example.com.": cached_rsa_key(2048).dns_record().encode(),
               b"ed._domainkey.example.com.": ed.dns_record().encode()}
    for _ in range(2):                     # the second time with both keys from the server's cache
        inproc, served = run(home, env), run(home, dict(env, DKIMSOCKET=dkimd.socket))
        assert inproc.rc == served.rc == 0, (inproc.stderr, served.stderr)
        assert inproc.log == served.log and "a=rsa-sha256,ed25519-sha256" in served.log
        msg = served.stored[0].msg.replace(b"\n", b"\r\n")
        assert served.stored[0].info["ppid"] != served.pid
        for i in range(2):
            assert dkim.DKIM(msg).verify(idx=i, dnsfunc=lambda name, timeout=5: records[name]), i


def test_served_signature_from_the_cache_verifies(dkimd, home):
    # the first message tells the server about the key; the next ones use its
    # cached copy (signed through OpenSSL)
    for _ in range(3):
        r = run(home, dict(RELAY, DKIMSOCKET=dkimd.socket))
        assert r.rc == 0 and verifies(r.stored[0].msg, cached_rsa_key(2048))


# ------------------------------------------------------------ seeds/001 through the SMTP front

SEEDS001_TCP_SMTP = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",'
                     'DKIMKEY="control/domainkeys/%/default"\n'
                     ':allow,DKIMVERIFY="FGHIKLMNOQRTUVWjp",QMAILQUEUE="bin/qmail-dkim"\n')


def test_seeds001_through_tcpserver_mailfront_same_as_in_process(require_tool, tmp_path):
    """The seeds/001 tcp.smtp lines with DKIMSOCKET added: the same replies,
    the same log lines and the same queued messages as without it."""
    require_tool("nsd", "tcpserver", "tcprules", "mailfront", "perl")
    from tests.realparts import verifiers
    from tests.realparts.nsd import NsdServer, txt_rr
    from tests.realparts.smtp import SmtpFront
    from tests.test_seeds001_smtp import send_from
    rsa = cached_rsa_key(2048)
    with Dkimd() as d, NsdServer({"example.com": txt_rr("default._domainkey", rsa.dns_record())},
                                 workdir=tmp_path) as ns:
        runs = {}
        signed = None
        for served in (False, True):
            home = d.home("seeds-%d" % served)
            keydir = home / "control" / "domainkeys" / "example.com"
            keydir.mkdir(parents=True)
            os.chmod(keydir.parent, 0o755)
            os.chmod(keydir, 0o755)
            give(rsa.write(keydir / "default", fmt="pkcs1"))
            qd = QueueDouble(home / "queue", python=queue_double_python())
            os.chmod(qd.dir, 0o1777)
            os.symlink(qd.path, home / "bin" / "qmail-queue")
            os.symlink(QMAIL_DKIM, home / "bin" / "qmail-dkim")
            rules = SEEDS001_TCP_SMTP
            if served:
                rules = rules.replace('QMAILQUEUE="bin/qmail-dkim"',
                                      'QMAILQUEUE="bin/qmail-dkim",DKIMSOCKET="%s"' % d.socket)
            env = dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home / "tmp"),
                       DNSCACHEIP=ns.dnscacheip, DKIMDNSTIMEOUT="2", DKIMAUTHSERVID="mx.example.net")
            front_dir = d.dir / ("smtp-%d" % served)
            front_dir.mkdir(mode=0o755)
            with SmtpFront(rules, env, workdir=front_dir) as front:
                codes = [send_from("127.0.0.1", front.port, SAMPLE)[0]]
                mine = qd.last().msg
                assert verifiers.mail_dkim_verify(mine, ns.port) == [("pass", "pass")]
                signed = signed or mine            # the world sees the same signed message
                for msg in (signed, signed.replace(b"Hello Bob", b"Hello Eve"), SAMPLE):
                    codes.append(send_from("127.0.0.2", front.port, msg)[0])
                logs = [l for l in front.log().splitlines() if l.startswith("qmail-dkim: mode=")]
            runs[served] = (codes, logs, [m.msg for m in qd.messages()[1:]])
        assert runs[False][0] == runs[True][0] == [250, 250, 554, 250]
        assert runs[False][1] == runs[True][1] and len(runs[True][1]) == 4
        assert runs[False][2] == runs[True][2] and len(runs[True][2]) == 2
        assert runs[True][2][0].startswith(b"DKIM-Status: good\nAuthentication-Results: mx.example.net;")
        d.stop()
        assert "stopping after 4 connections" in d.log()   # the served run really was served


# ------------------------------------------------------------ README step 8 under daemontools

def _readme_run_scripts():
    """The two run scripts README step 8 writes with printf: {run, log/run}."""
    import re
    text = (Path(__file__).resolve().parent.parent / "README").read_text()
    out = {}
    for fmt, target in re.findall(r"printf '(#!/bin/sh\\n.*?)' \\\n\s+> /var/qmail/supervise/qmail-dkimd/(\S+)",
                                  text):
        out[target] = fmt.replace("\\n", "\n")
    assert set(out) == {"run", "log/run"}, out
    return out


def test_readme_steps_under_supervise(require_tool, home):
    """README step 8 as written (paths and accounts swapped for the test's):
    svscan starts qmail-dkimd and multilog; messages are served; svc -d makes
    qmail-dkim carry on in-process; svc -u serves again; the log has the lines."""
    svscan, svc = require_tool("svscan", "svc", "multilog")[:2]
    bindir = os.path.dirname(QMAIL_DKIMD)
    base = Path(tempfile.mkdtemp(prefix="qmail-dkimd-supervise-"))
    os.chmod(base, 0o755)
    socket_path = base / "run" / "socket"
    if not ROOT:
        # only root makes the socket's directory (qmail-dkimd(8), -u)
        socket_path.parent.mkdir(mode=0o700)
    logdir = base / "log"
    logdir.mkdir()
    give(logdir)
    svdir = base / "service" / "qmail-dkimd"
    (svdir / "log").mkdir(parents=True)
    for name, script in _readme_run_scripts().items():
        script = (script.replace("/opt/qmail-dkim/bin/", bindir + "/")
                  .replace("/run/qmail-dkimd/socket", str(socket_path))
                  .replace("/var/log/qmail/qmail-dkimd", str(logdir)))
        script = (script.replace("-u qmaild", "-u %s -a root" % ACCOUNT)
                  .replace("setuidgid qmaill", "setuidgid %s" % ACCOUNT)) if ROOT else \
            script.replace("-u qmaild ", "").replace("setuidgid qmaill ", "")
        (svdir / name).write_text(script)
        (svdir / name).chmod(0o755)
    scan = subprocess.Popen([svscan, str(base / "service")], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={"PATH": bindir + ":/usr/bin:/bin:/usr/sbin:/sbin"},
                            start_new_session=True)
    env = dict(RELAY, DKIMSOCKET=str(socket_path))

    def served():
        r = run(home, env)
        assert r.rc == 0 and "result=signed" in r.log, r.stderr
        return r.stored[0].info["ppid"] != r.pid
    try:
        _wait(lambda: socket_path.exists() and served(), timeout=60, what="qmail-dkimd under svscan")
        subprocess.run([svc, "-d", str(svdir)], check=True, timeout=10)
        _wait(lambda: not socket_path.exists(), what="the server to stop")
        assert not served()                     # carries on in-process
        subprocess.run([svc, "-u", str(svdir)], check=True, timeout=10)
        _wait(served, timeout=60, what="the server to come back")
        _wait(lambda: (logdir / "current").exists() and
              (logdir / "current").read_text().count("listening on") >= 2, what="multilog's lines")
        text = (logdir / "current").read_text()
        assert text.startswith("@4000") and "stopping after" in text
    finally:
        subprocess.run([svc, "-dx", str(svdir), str(svdir / "log")], timeout=10)
        time.sleep(0.5)
        scan.terminate()
        try:
            scan.wait(timeout=10)
        except subprocess.TimeoutExpired:
            scan.kill()
        try:
            os.killpg(scan.pid, signal.SIGKILL)   # supervise / the server / multilog, if left
        except ProcessLookupError:
            pass
        import shutil
        shutil.rmtree(base, ignore_errors=True)


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def test_spares_wait_ready_and_go_with_the_server(home):
    """Workers forked ahead (-p, default 2); the server hands
    them connections; when the server dies they leave (EOF on their
    socketpair), so a new server can start and nothing is left behind."""
    d = Dkimd().start()
    try:
        spares = _wait(lambda: len(_children(d.pid)) == 2 and _children(d.pid), what="two spares")
        assert busy_workers(d.pid) == []
        assert "spares=2" in d.log()
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket))
        assert r.rc == 0 and r.stored[0].info["ppid"] in spares      # a spare took it
        os.kill(d.pid, signal.SIGKILL)
        d.proc.wait()
        _wait(lambda: not any(os.path.exists(f"/proc/{p}") and
                              "qmail-dkimd" in Path(f"/proc/{p}/cmdline").read_bytes().decode(errors="replace")
                              for p in spares), what="the spares to leave")
    finally:
        d.cleanup()


def test_no_spares_forks_per_connection(home):
    with Dkimd(args=["-p", "0"]) as d:
        assert "spares=0" in d.log() and _children(d.pid) == []
        r = run(home, dict(RELAY, DKIMSOCKET=d.socket))
        assert r.rc == 0 and r.stored[0].info["ppid"] != r.pid and "result=signed" in r.log


def test_hello_must_name_a_worker():
    assert dclient._parse_hello(b"QDKIMD1 1234\n") == 1234
    for bad in (b"QDKIMD1 0\n", b"QDKIMD1 1\n", b"QDKIMD1 -5\n", b"QDKIMD1 12", b"QDKIMD2 12\n",
                b"QDKIMD1 12 13\n", b""):
        assert dclient._parse_hello(bad) is None, bad


_IMPOSTOR = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.bind(sys.argv[1]); s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.sendall(b"QDKIMD1 %d\n" % os.getpid())
    try:
        msg, anc, flags, addr = c.recvmsg(65536, 4096)
        for level, kind, data in anc:          # would hold the message's fds
            for i in range(0, len(data) - len(data) % 4, 4):
                os.close(int.from_bytes(data[i:i + 4], sys.byteorder))
        if anc:
            open(sys.argv[2], "w").write("got the descriptors")
        c.sendall(b"E 0\n")                    # 'done': the message would be lost
    except OSError:
        pass
    c.close()
"""


def test_listener_squatting_in_a_shared_directory_gets_nothing(home, tmp_path):
    """A local user listening on a stale DKIMSOCKET path in a directory others
    may write to is not qmail-dkimd: the client never hands it the message's
    descriptors (it would answer 'E 0' and the message would be lost) and
    runs in-process."""
    if not ROOT:
        pytest.skip("needs root (the impostor runs as another uid)")
    shared = Path(tempfile.mkdtemp(prefix="qdkimd-shared-"))   # /tmp: reachable by the impostor
    shared.chmod(0o1777)
    sock, flag = shared / "socket", shared / "flag"
    uid = 40000 + os.getpid() % 20000
    imp = subprocess.Popen(["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups",
                            queue_double_python(), "-I", "-c", _IMPOSTOR, str(sock), str(flag)],
                           stdout=subprocess.PIPE, cwd="/")
    try:
        assert imp.stdout.readline().strip() == b"ready"
        r = run(home, dict(RELAY, DKIMSOCKET=str(sock)))
        assert r.rc == 0 and "result=signed" in r.log, r.log
        assert len(r.stored) == 1 and r.stored[0].info["ppid"] == r.pid     # in-process
        assert not flag.exists()
    finally:
        imp.kill()
        imp.wait()
        import shutil
        shutil.rmtree(shared, ignore_errors=True)


# ------------------------------------------------------------ the client under -S

def _nosite_layout(base):
    """A venv laid out as after `pip install .` (qmail_dkim a directory in its
    site-packages, here a symlink to the tree under test; the dependencies
    through a plain .pth line) with -S on the #! line of its qmail-dkim, as
    README step 1 suggests. Returns the path of its qmail-dkim."""
    import sysconfig
    venv = base / "nosite-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    vpy = venv / "bin" / "python3"
    sp = Path(subprocess.run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip())
    (sp / "qmail_dkim").symlink_to(REPO / "qmail_dkim")
    (sp / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    script = venv / "bin" / "qmail-dkim"
    body = (REPO / "bin" / "qmail-dkim").read_bytes().split(b"\n", 1)[1]
    script.write_bytes(b"#!" + bytes(vpy) + b" -S\n" + body)
    script.chmod(0o755)
    for p in (base, venv, venv / "bin"):
        p.chmod(0o755)
    return script


def test_client_under_dash_S_imports_nothing_but_socket(dkimd, home, tmp_path):
    """With -S (README step 1) the hand-over loads daemon/client.py by its path
    in the venv: no os, no site, no qmail_dkim package, no search of the path
    (qmail-dkimd(8), SPEED). The message is signed by a worker as usual; with
    the server gone the same client falls back to in-process."""
    script = _nosite_layout(tmp_path)
    vpy = str(script.parent / "python3")
    argv = [vpy, "-S", "-X", "importtime", str(script)]

    def go(sock):
        qd = new_qd(home)
        with tempfile.TemporaryFile() as envf, tempfile.TemporaryFile() as msgf, \
                tempfile.TemporaryFile() as errf:
            envf.write(ENVELOPE)
            msgf.write(SAMPLE)
            envf.seek(0)
            msgf.seek(0)
            p = subprocess.Popen(argv, stdin=msgf, stdout=envf, stderr=errf,
                                 env=_env(home, qd, dict(RELAY, DKIMSOCKET=sock), None), cwd=str(home))
            p.wait(timeout=60)
            errf.seek(0)
            err = errf.read().decode()
        imported = [l.split("|")[-1].strip() for l in err.splitlines() if l.startswith("import time:")]
        return p, qd.messages(), imported, err

    p, stored, imported, err = go(dkimd.socket)
    assert p.returncode == 0, err
    assert stored[0].info["ppid"] != p.pid                       # the worker ran the queue program
    assert "result=signed" in err
    assert "os" not in imported and not any(m.startswith("qmail_dkim") for m in imported), imported
    assert "site" not in imported and "_socket" in imported, imported
    # no server: the client was loaded the same way, then main runs in-process
    p, stored, imported, err = go(str(tmp_path / "no-such-socket"))
    assert p.returncode == 0, err
    assert stored[0].info["ppid"] == p.pid and "result=signed" in err
    assert "qmail_dkim.main" in imported


OPEN_RECORDER = r"""
import sys
out = open(sys.argv[1], "a")
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and "/start." in args[0]:
        out.write(args[0] + "\n")
        out.flush()
sys.addaudithook(hook)
""" + RUN_SCRIPT


def test_the_program_is_start_py_byte_code_not_the_script(home, tmp_path):
    """bin/qmail-dkim is only a loader (a script is compiled on every run,
    ~2 ms when the program was there): under -S the program is
    qmail_dkim/start.py, found by its path, and its code comes from
    __pycache__, its source never read (qmail-dkimd(8), SPEED)."""
    script = _nosite_layout(tmp_path)
    vpy = str(script.parent / "python3")
    for _ in range(2):                  # the first run may write the byte code
        rec = tmp_path / "opened"
        rec.write_text("")
        r = subprocess.run([vpy, "-S", "-c", OPEN_RECORDER, str(rec), str(script), "--version"],
                           capture_output=True, text=True, timeout=60, cwd=str(home))
        assert r.returncode == 0 and r.stdout.startswith("qmail-dkim"), r.stderr
    opened = rec.read_text().split()
    assert [p for p in opened if p.endswith("/qmail_dkim/__pycache__/start.cpython-%d%d.pyc" % sys.version_info[:2])], opened
    assert not [p for p in opened if p.endswith("start.py")], opened
    assert len(script.read_text().splitlines()) < 50     # and it stays a loader


def test_spares_are_forked_when_idle_not_beside_a_message(home):
    """A spare taken by a message is replaced once no message runs, never
    while one does: its fork would take CPU from that message
    (qmail-dkimd(8), -p)."""
    with Dkimd(args=["-p", "1"]) as d:
        _wait(lambda: len(_children(d.pid)) == 1 and _children(d.pid), what="one spare")
        p, qd, errf = start(home, dict(RELAY, DKIMSOCKET=d.socket), knobs={"sleep": 1.5})
        t0 = time.monotonic()
        busy = _wait(lambda: busy_workers(d.pid), what="the worker")
        time.sleep(0.5)                          # a replacement forked now would show
        assert _children(d.pid) == busy, (_children(d.pid), busy)
        r = finish(p, qd, errf, t0)
        assert r.rc == 0 and "result=signed" in r.log
        spare = _wait(lambda: [k for k in _children(d.pid) if k not in busy], what="a new spare")
        assert busy_workers(d.pid) == [] and len(spare) == 1


def test_server_rehearses_once_itself_and_puts_everything_back(tmp_path, monkeypatch):
    """At start the server runs the rehearsal message through main() in its
    own process (qmail-dkimd(8), SPEED), so workers are forked with its
    first-use work done; the server's working directory, umask,
    environment, argv, signal handlers and alarm are as before."""
    from qmail_dkim.dkim import privkey
    monkeypatch.setattr(privkey, "cache", {})                      # as warm() leaves it
    scratch = tmp_path / "rehearsal"
    reh = dserver.Rehearsal(str(scratch), cached_rsa_key(2048).pem_pkcs1())
    out = tmp_path / "queued"
    queue = tmp_path / "queue"
    queue.write_text("#!/bin/sh\ncat > %s\n" % out)
    queue.chmod(0o755)
    reh.env["DKIMQUEUE"] = str(queue)
    handlers = {n: signal.signal(n, h) for n, h in (
        (signal.SIGPIPE, signal.SIG_DFL), (signal.SIGXFSZ, signal.SIG_DFL), (signal.SIGALRM, signal.SIG_DFL))}
    start_dir = os.getcwd()
    old_umask = os.umask(0o027)
    try:
        os.chdir(tmp_path)
        before = (os.getcwd(), dict(os.environ), list(sys.argv))
        reh.run_in_server()
        assert out.read_bytes().startswith(b"DKIM-Signature:")     # main() ran, and signed
        # really signed, through OpenSSL: its RSA methods are set up before
        # any fork, not in every worker (a stand-in signature would not verify)
        assert verifies(out.read_bytes(), cached_rsa_key(2048))
        assert (os.getcwd(), dict(os.environ), list(sys.argv)) == before
        assert os.umask(0o027) == 0o027
        assert signal.alarm(0) == 0
        assert [signal.getsignal(n) for n in handlers] == [signal.SIG_DFL] * 3
    finally:
        os.umask(old_umask)
        for n, h in handlers.items():
            signal.signal(n, h)
        os.chdir(start_dir)


def test_server_image_does_not_carry_cryptography():
    """Every worker is forked from the server's image and copies the pages
    it touches: the server signs through dkim/ossl.py and makes its
    rehearsal key in a child process, so `cryptography` (~12 MB) is not in
    it (qmail-dkimd(8), SPEED)."""
    code = """if 1:
        import sys
        from qmail_dkim.daemon import server
        from qmail_dkim.dkim import privkey
        server.warm()
        pem = server.Rehearsal.make_key()
        print(pem.startswith(b"-----BEGIN RSA PRIVATE KEY-----"), privkey.parse_private_key(pem).bits,
              sorted(m for m in sys.modules if m.split(".")[0] == "cryptography"))
    """
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out == "True 2048 []\n", out


def test_warm_loads_what_workers_cannot_import_later():
    """A worker cannot import what its server did not (its account may not
    read the interpreter's files): warm() loads OpenSSL's hashes (bodyhash
    uses them once loaded: big bodies at OpenSSL speed) and the OpenSSL
    binding (RSA keys not yet cached, Ed25519 keys); PyNaCl only where
    OpenSSL cannot be used."""
    code = ("import sys; from qmail_dkim.daemon import server; before = set(sys.modules); "
            "server.warm(); print(' '.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "_hashlib" in out and "qmail_dkim.dkim.ossl" in out and "nacl.signing" not in out, out
