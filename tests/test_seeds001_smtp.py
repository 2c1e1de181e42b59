"""The whole seeds/001 tcp.smtp, unchanged, through tcprules + tcpserver +
mailfront: the local host signs, everybody else is verified with
DKIMVERIFY="FGHIKLMNOQRTUVWjp"."""
import os

import pytest

from tests.realparts import verifiers
from tests.realparts.keys import cached_rsa_key
from tests.realparts.nsd import NsdServer, txt_rr
from tests.realparts.queue_double import QueueDouble
from tests.realparts.smtp import smtp_send
from tests.realparts.tools import require_tool
from tests import qdkim
from tests.qdkim import SAMPLE

TCP_SMTP = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/%/default"\n'
            ':allow,DKIMVERIFY="FGHIKLMNOQRTUVWjp",QMAILQUEUE="bin/qmail-dkim"\n')
RSA = cached_rsa_key(2048)
OTHER = cached_rsa_key(2048, 5)


def send_from(ip, port, msg, rcpt="bob@example.net"):
    """SMTP from a chosen loopback source address (127.0.0.2 is 'the Internet')."""
    return smtp_send("127.0.0.1", port, "joe@example.com", [rcpt], msg, helo="client.example.org",
                     timeout=60, source=ip, early_refusal_ok=False)


@pytest.fixture
def site(tmp_path, home, smtp_front_factory):
    require_tool("nsd", "perl")
    ns = NsdServer({"example.com": txt_rr("default._domainkey", RSA.dns_record()),
                    "other.example": txt_rr("default._domainkey", OTHER.dns_record())},
                   servfail_zones=["broken.example"], workdir=tmp_path / "nsd-site")
    (tmp_path / "nsd-site").mkdir(exist_ok=True)
    ns.start()
    os.symlink(qdkim.QMAIL_DKIM, home / "bin/qmail-dkim")
    qd = QueueDouble(home / "queue")
    os.symlink(qd.path, home / "bin/qmail-queue")
    env = dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home), DNSCACHEIP=ns.dnscacheip,
               DKIMDNSTIMEOUT="2", DKIMAUTHSERVID="mx.example.net")
    front = smtp_front_factory(TCP_SMTP, env=env)
    yield front, qd, ns
    ns.stop()


def test_local_signs_then_the_world_verifies(site):
    front, qd, ns = site
    code, text = send_from("127.0.0.1", front.port, SAMPLE)
    assert code == 250, (text, front.log())
    signed = qd.last().msg
    assert signed.startswith(b"DKIM-Signature:") and signed.endswith(SAMPLE)
    assert verifiers.mail_dkim_verify(signed, ns.port) == [("pass", "pass")]

    # The same message arriving from outside: verified, delivered, verdict added.
    code, text = send_from("127.0.0.2", front.port, signed)
    assert code == 250, (text, front.log())
    got = qd.last().msg
    assert got.startswith(b"DKIM-Status: good\nAuthentication-Results: mx.example.net;\n\tdkim=pass header.d=example.com")
    assert got.endswith(b"\n" + signed)

    # Tampered: 554, nothing queued.
    n = qd.count()
    code, text = send_from("127.0.0.2", front.port, signed.replace(b"Hello Bob", b"Hello Eve"))
    assert code == 554 and qd.count() == n
    assert "status=U" in front.log()

    # Unsigned mail from outside: delivered.
    code, text = send_from("127.0.0.2", front.port, SAMPLE)
    assert code == 250 and qd.last().msg.startswith(b"DKIM-Status: no signatures\n")


def test_key_that_cannot_be_fetched_is_451(site):
    front, qd, ns = site
    msg = verifiers.dkimpy_sign(SAMPLE.replace(b"example.com", b"broken.example"), OTHER,
                                "broken.example", "default")
    code, text = send_from("127.0.0.2", front.port, msg)
    assert code == 451 and qd.count() == 0
    assert "status=P" in front.log()


def test_forged_verdict_never_reaches_the_queue(site):
    front, qd, ns = site
    forged = (b"DKIM-Status: good\nAuthentication-Results: MX.Example.NET;\n dkim=pass header.d=bank.example\n"
              + SAMPLE)
    code, text = send_from("127.0.0.2", front.port, forged)
    assert code == 250
    got = qd.last().msg
    assert got.count(b"DKIM-Status:") == 1 and b"bank.example" not in got
    assert got.endswith(SAMPLE)
