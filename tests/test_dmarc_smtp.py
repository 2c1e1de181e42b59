"""DMARCVERIFY end to end: tcprules + tcpserver + mailfront (add-received) +
bin/qmail-dkim + the queue double, DNS from NSD (one root zone: every name
answers, NXDOMAIN included; broken.example SERVFAILs).

    127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY=...
    :allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="",DMARCVERIFY="Rt"

127.0.0.1 is the local sender (signs), 127.0.0.2 the Internet, 127.0.0.3 a
forwarder listed by address in control/dmarcforwarders, 127.0.0.4 one listed
by host name suffix (PTR fwd.lists.example.net, which resolves back)."""
import os
import re

import pytest

from tests import qdkim
from tests.qdkim import SAMPLE
from tests.realparts.keys import cached_rsa_key
from tests.realparts.nsd import NsdServer, txt_strings
from tests.realparts.queue_double import QueueDouble
from tests.realparts.smtp import smtp_send
from tests.realparts.tools import require_tool

RSA = cached_rsa_key(2048)
RULES = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/%/default"\n'
         ':allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="",DMARCVERIFY="Rt"\n')
SEEDS001 = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/%/default"\n'
            ':allow,DKIMVERIFY="FGHIKLMNOQRTUVWjp",QMAILQUEUE="bin/qmail-dkim"\n')
ROOT = ("$TTL 300\n. IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
        ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n")


def zone():
    recs = [
        "default._domainkey.example.com. IN TXT " + txt_strings(RSA.dns_record()),
        '_dmarc.example.com. IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.com"',
        'example.com. IN TXT "v=spf1 ip4:127.0.0.1 -all"',
        "example.com. IN A 127.0.0.1",
        '_dmarc.broken.example. IN TXT "v=DMARC1; p=reject"',
        "4.0.0.127.in-addr.arpa. IN PTR fwd.lists.example.net.",
        "fwd.lists.example.net. IN A 127.0.0.4",
        "5.0.0.127.in-addr.arpa. IN PTR liar.lists.example.net.",
        "liar.lists.example.net. IN A 192.0.2.99",
    ]
    return ROOT + "\n".join(recs) + "\n"


def send(ip, port, msg, mail_from="joe@example.com", rcpt="bob@example.net", helo="client.example.org"):
    return smtp_send("127.0.0.1", port, mail_from, [rcpt], msg, helo=helo, timeout=60,
                     source=ip, early_refusal_ok=False)


def ar(msg):
    """The Authentication-Results fields we wrote (unfolded), and how many there are."""
    head = msg.split(b"\n\n", 1)[0].decode()
    fields = re.findall(r"^Authentication-Results:.*(?:\n[ \t].*)*", head, re.M)
    return [re.sub(r"\n[ \t]+", " ", f) for f in fields]


@pytest.fixture
def site(tmp_path, home, smtp_front_factory):
    require_tool("nsd", "tcpserver", "mailfront")
    (tmp_path / "nsd").mkdir()
    ns = NsdServer({".": zone()}, servfail_zones=["broken.example"], workdir=tmp_path / "nsd")
    ns.start()
    os.symlink(qdkim.QMAIL_DKIM, home / "bin/qmail-dkim")
    qd = QueueDouble(home / "queue")
    os.symlink(qd.path, home / "bin/qmail-queue")
    (home / "control/dmarcforwarders").write_text("# trusted forwarders\n127.0.0.3\nlists.example.net\n")
    env = dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home), DNSCACHEIP=ns.dnscacheip,
               DKIMDNSTIMEOUT="2", DKIMAUTHSERVID="mx.example.net")

    def front(rules=RULES):
        return smtp_front_factory(rules, env=env, plugins=("accept", "add-received"))
    yield front, qd, ns
    ns.stop()


def signed_message(front, qd):
    f = front()
    code, text = send("127.0.0.1", f.port, SAMPLE)
    assert code == 250, (text, f.log())
    msg = qd.last().msg
    assert msg.startswith(b"DKIM-Signature:") or msg.startswith(b"Received:")
    # drop the local hop's Received: line; keep the signature and the message
    return msg[msg.index(b"DKIM-Signature:"):], f


def test_spoof_of_p_reject_gets_554(site):
    front, qd, _ = site
    f = front()
    n = qd.count()
    code, text = send("127.0.0.2", f.port, SAMPLE)
    assert code == 554 and qd.count() == n, (code, text, f.log())
    log = f.log()
    assert "dmarc=fail" in log and "policy=reject" in log and "disposition=reject" in log
    assert "spf=fail" in log and "helo=client.example.org" in log and "ip=127.0.0.2" in log


def test_legitimate_mail_delivered_with_one_ar(site):
    front, qd, _ = site
    signed, f = signed_message(front, qd)
    code, text = send("127.0.0.2", f.port, signed)
    assert code == 250, (text, f.log())
    got = qd.last().msg
    fields = ar(got)
    assert len(fields) == 1, fields
    a = fields[0]
    assert a.startswith("Authentication-Results: mx.example.net; dkim=pass header.d=example.com")
    assert "spf=fail smtp.mailfrom=joe@example.com smtp.helo=client.example.org" in a
    assert "dmarc=pass (p=reject sp=reject np=reject dis=none) header.from=example.com" in a


def test_trusted_forwarder_by_address_delivered(site):
    front, qd, _ = site
    signed, f = signed_message(front, qd)
    broken = signed.replace(b"Hello Bob", b"Hello Bob [list footer]")   # DKIM broken on the way
    code, text = send("127.0.0.2", f.port, broken)
    assert code == 554, text                                              # not from a forwarder
    code, text = send("127.0.0.3", f.port, broken)
    assert code == 250, (text, f.log())
    a = ar(qd.last().msg)[0]
    assert "dmarc=fail" in a and "override=trusted_forwarder: control/dmarcforwarders 127.0.0.3/32" in a
    assert "override=trusted_forwarder" in f.log()


def test_trusted_forwarder_by_host_suffix(site):
    front, qd, _ = site
    f = front()
    code, text = send("127.0.0.4", f.port, SAMPLE)
    assert code == 250, (text, f.log())
    assert "trusted_forwarder: control/dmarcforwarders fwd.lists.example.net" in ar(qd.last().msg)[0]
    # PTR in the listed suffix but not resolving back: not trusted
    code, text = send("127.0.0.5", f.port, SAMPLE)
    assert code == 554, text


def test_postmaster_never_rejected(site):
    front, qd, _ = site
    f = front()
    code, text = send("127.0.0.2", f.port, SAMPLE, rcpt="postmaster@example.net")
    assert code == 250, (text, f.log())
    assert "override=local_policy: mail to postmaster@example.net" in ar(qd.last().msg)[0]


def test_dns_failure_with_t_gets_451(site):
    front, qd, _ = site
    f = front()
    n = qd.count()
    msg = SAMPLE.replace(b"joe@example.com", b"joe@broken.example")
    code, text = send("127.0.0.2", f.port, msg, mail_from="joe@example.org")
    assert code == 451 and qd.count() == n, (code, text, f.log())
    assert "dmarc=temperror" in f.log()


def test_seeds001_lines_unchanged(site):
    """Without DMARCVERIFY the spoof is handled exactly as before: delivered
    (no signature is 'S', not in the letters), no spf= / dmarc=."""
    front, qd, _ = site
    f = front(SEEDS001)
    code, text = send("127.0.0.2", f.port, SAMPLE)
    assert code == 250, (text, f.log())
    got = qd.last().msg
    assert got.startswith(b"DKIM-Status: no signatures\nAuthentication-Results: mx.example.net;\n\tdkim=none\n")
    assert b"spf=" not in got.split(b"\n\n")[0] and b"dmarc=" not in got.split(b"\n\n")[0]
    assert "dmarc=" not in f.log() and "spf=" not in f.log()
