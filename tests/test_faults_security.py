"""Issue 5 faults and security edges, at process level: the sender gets a
temporary failure (and can retry) or the message is queued intact."""
import base64
import os
import re
import socket
import subprocess
import threading
import time

import pytest

from tests.realparts.keys import cached_rsa_key
from tests.realparts.nsd import Blackhole, dead_udp_port
from tests.realparts import verifiers
from tests.realparts.queue_double import make_envelope
from tests import qdkim
from tests.qdkim import SAMPLE
from tests.logparse import fields

RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}
SEEDS = "FGHIKLMNOQRTUVWjp"
RSA = cached_rsa_key(2048)


@pytest.fixture(scope="module")
def signed():
    return verifiers.dkimpy_sign(SAMPLE, RSA, "example.com", "default")


class GarbageDns:
    """A UDP 'DNS server' on 127.0.0.1 that answers every query with junk
    (or, with delay, answers correctly-shaped junk too late)."""

    def __init__(self, payload=b"\xde\xad\xbe\xef" * 8, delay=0.0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.port = self.s.getsockname()[1]
        self.payload = payload
        self.delay = delay
        self.stopped = threading.Event()     # close() ends a pending delay at once
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        self.s.settimeout(0.2)
        while not self.stopped.is_set():
            try:
                data, addr = self.s.recvfrom(4096)
            except OSError:
                continue
            if self.delay and self.stopped.wait(self.delay):
                break
            try:
                # same query id, garbage after it
                self.s.sendto(data[:2] + self.payload, addr)
            except OSError:
                pass

    def close(self):
        self.stopped.set()
        self.t.join()
        self.s.close()


def verify_env(dnscacheip, timeout="2"):
    return {"DKIMVERIFY": SEEDS, "DNSCACHEIP": dnscacheip, "DKIMDNSTIMEOUT": timeout,
            "DKIMAUTHSERVID": "mx.test"}


def test_dns_dead_is_temporary_and_fast(home, signed):
    t = time.time()
    r = qdkim.run(home, verify_env("127.0.0.1:%d" % dead_udp_port()), message=signed)
    assert r.rc == 71 and r.stored == [] and fields(r.log)["status"] == "P"
    assert time.time() - t < 5


def test_dns_silent_is_temporary_within_the_timeout(home, signed):
    with Blackhole() as b:
        t = time.time()
        r = qdkim.run(home, verify_env(b.dnscacheip, "1.5"), message=signed)
        took = time.time() - t
    assert r.rc == 71 and r.stored == [] and fields(r.log)["status"] == "P"
    assert 1.0 < took < 6


def test_dns_slow_answer_after_timeout_is_temporary(home, signed):
    g = GarbageDns(delay=3.0)
    try:
        t = time.time()
        r = qdkim.run(home, verify_env("127.0.0.1:%d" % g.port, "1"), message=signed)
        took = time.time() - t
    finally:
        g.close()
    assert r.rc == 71 and fields(r.log)["status"] == "P" and took < 5


def test_dns_garbage_is_temporary(home, signed):
    g = GarbageDns()
    try:
        r = qdkim.run(home, verify_env("127.0.0.1:%d" % g.port, "1"), message=signed)
    finally:
        g.close()
    assert r.rc == 71 and fields(r.log)["status"] == "P"


def test_dns_trouble_with_lowercase_letter_absent_delivers(home, signed):
    r = qdkim.run(home, dict(verify_env("127.0.0.1:%d" % dead_udp_port()), DKIMVERIFY="U"), message=signed)
    assert r.rc == 0 and r.msg.endswith(signed) and b"dkim=temperror" in r.msg


def test_truncated_envelope_with_rcpt_filter_is_54(home):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNRCPTS="@example.net"), envelope=b"Fjoe@example.com\0Tbob@exa")
    assert r.rc == 54 and r.stored == [] and "envelope" in r.log


def test_spool_file_is_unlinked_and_private(home):
    # While the (slow) child runs, qmail-dkim's spool file must be invisible in
    # TMPDIR and open with mode 0600. The child starts once the message is
    # spooled and sleeps 1 s before reading: look as soon as it has started.
    tmp = home / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(tmp), **RELAY}
    qd = qdkim.QueueDouble(home / "qq-slow")
    env.update(qd.env(sleep_before=1))
    env["DKIMQUEUE"] = str(qd.path)

    def has_child(pid):
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return bool(f.read().split())

    def spool_files(pid):
        out = []
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except FileNotFoundError:        # closed meanwhile
                continue
            if target.startswith(str(tmp)):
                out.append(target)
        return out

    with qdkim.envelope_file() as envelope:
        p = subprocess.Popen([qdkim.QMAIL_DKIM], stdin=subprocess.PIPE, stdout=envelope,
                             stderr=subprocess.PIPE, env=env)
        p.stdin.write(SAMPLE)
        p.stdin.close()
        deadline = time.monotonic() + 20
        while not has_child(p.pid):
            assert time.monotonic() < deadline and p.poll() is None, "the child never started"
            time.sleep(0.01)
        assert list(tmp.iterdir()) == []
        spool = spool_files(p.pid)
        assert len(spool) == 1 and spool[0].endswith("(deleted)")
        fdnums = [fd for fd in os.listdir("/proc/%d/fd" % p.pid)
                  if os.readlink("/proc/%d/fd/%s" % (p.pid, fd)) == spool[0]]
        st = os.stat("/proc/%d/fd/%s" % (p.pid, fdnums[0]))
        assert st.st_mode & 0o777 == 0o600
        p.wait(30)
        p.stderr.close()
    assert p.returncode == 0


def _key_fragments():
    pem = RSA.pem_pkcs1().decode()
    body = "".join(pem.splitlines()[1:-1])
    return [body[i:i + 16] for i in range(0, len(body) - 16, 97)]


@pytest.mark.parametrize("case", ["ok", "corrupt", "wrong_z", "bad_identity", "pkcs8_truncated"])
def test_no_key_material_in_logs(home, case):
    key = home / "control/domainkeys/example.com/default"
    env = dict(RELAY)
    if case == "corrupt":
        pem = RSA.pem_pkcs1()
        key.write_bytes(pem[:200] + pem[260:])
    elif case == "pkcs8_truncated":
        key.write_bytes(RSA.pem_pkcs8()[:-300] + b"\n-----END PRIVATE KEY-----\n")
    elif case == "wrong_z":
        env["DKIMSIGNOPTIONS"] = "-z 4"
    elif case == "bad_identity":
        env["DKIMSIGNOPTIONS"] = "-i x@evil.org"
    r = qdkim.run(home, env)
    for frag in _key_fragments():
        assert frag not in r.stderr
    if case == "ok":
        assert r.rc == 0
    else:
        assert r.rc == 55 and r.stored == []
        if case != "bad_identity":
            assert "control/domainkeys/example.com/default" in r.log


@pytest.mark.parametrize("frm", [b"x@exa\x00mple.com", b"x@%2e%2e", b"x@..", b"x@/etc/passwd",
                                 b"x@" + b"a." * 200 + b"com"])
def test_path_tricks_in_from(home, frm):
    msg = SAMPLE.replace(b"joe@example.com", frm)
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and r.msg == msg
    f = fields(r.log)
    assert f["result"] == "unsigned" and "tried" not in f


def test_env_values_are_never_shell_interpreted(home, tmp_path):
    marker = tmp_path / "marker"
    for var in ("DKIMKEY", "DKIMSIGNOPTIONS", "DKIMDOMAIN", "QUEUEPROG"):
        env = dict(RELAY)
        env[var] = "$(touch %s)`touch %s`;touch %s" % (marker, marker, marker)
        if var == "QUEUEPROG":
            env["DKIMQUEUE"] = None
            r = qdkim.run(home, env, queue=False)
        else:
            r = qdkim.run(home, env)
        assert r.rc in (0, 35, 55, 120) and not marker.exists()
