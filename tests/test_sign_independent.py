"""Every signature qmail-dkim makes, checked by an independent implementation:
RSA by Perl Mail::DKIM with the key served by NSD on 127.0.0.1, Ed25519 by
mailauth (npm). And the seeds/001 tcprules line end to end through
tcpserver + mailfront."""
import os

import pytest

from tests.realparts.nsd import NsdServer, txt_rr
from tests.realparts.tools import require_tool
from tests.realparts import keys
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key
from tests.realparts import verifiers
from tests import qdkim
from tests.qdkim import SAMPLE

RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}
RSA = cached_rsa_key(2048)
RSA_FALLBACK = cached_rsa_key(1024, 1)
ED = cached_ed25519_key()


@pytest.fixture(scope="module")
def dns(tmp_path_factory):
    require_tool("nsd", "perl")
    zones = {
        "example.com": "\n".join([txt_rr("default._domainkey", RSA.dns_record()),
                                  txt_rr("ed._domainkey", ED.dns_record())]),
        "other.org": txt_rr("default._domainkey", RSA_FALLBACK.dns_record()),
    }
    ns = NsdServer(zones, workdir=tmp_path_factory.mktemp("nsd-sign"))
    ns.start()
    yield ns
    ns.stop()


@pytest.fixture
def home(home):
    """conftest's home (RSA at example.com/default) plus an Ed25519 key (selector
    ed) and the fallback key control/domainkeys/default."""
    keys.install(home, ED, "example.com", "ed", fmt="pkcs8")
    keys.install(home, RSA_FALLBACK, None, "default", fmt="pkcs8")
    return home


def mail_dkim(msg, dns):
    return verifiers.mail_dkim_verify(msg, dns.port)


MSG = SAMPLE + b"trailing spaces   \n\n\nand blank lines\n\n\n"


@pytest.mark.parametrize("opts", ["", "-c s", "-c t", "-c u", "-l", "-q -t -h", "-i joe@example.com",
                                  "-x 60", "-x -", "-z 2", "-c s -l -q -t -h -i @example.com"])
def test_rsa_options_verify_under_mail_dkim(home, dns, opts):
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS=opts), message=MSG)
    assert r.rc == 0, r.stderr
    assert mail_dkim(r.msg, dns) == [("pass", "pass")], r.msg[:600]


def test_parent_and_fallback_keys_verify_under_mail_dkim(home, dns):
    r = qdkim.run(home, RELAY, message=MSG.replace(b"joe@example.com", b"joe@a.b.example.com"))
    assert mail_dkim(r.msg, dns) == [("pass", "pass")]
    r = qdkim.run(home, RELAY, message=MSG.replace(b"joe@example.com", b"joe@other.org"))
    assert b"d=other.org" in r.msg and mail_dkim(r.msg, dns) == [("pass", "pass")]


def test_hostile_but_signable_messages_verify(home, dns):
    for msg in (SAMPLE + b"cr before lf\r\n8bit \xe9\n", SAMPLE.rstrip(b"\n"),
                b"From: joe@example.com\n\n", b"From: joe@example.com\nSubject: no body\n",
                b"From:joe@example.com\nSubject:\tweird  \n  folding\n\n.\n..dots\n"):
        r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-c s"), message=msg)
        assert r.rc == 0 and r.msg.endswith(msg)
        # qmail-remote ends the last line with CRLF before the final dot.
        sent = r.msg if r.msg.endswith(b"\n") else r.msg + b"\n"
        assert mail_dkim(sent, dns) == [("pass", "pass")], msg


def ed_records():
    return {"ed._domainkey.example.com": ED.dns_record(),
            "default._domainkey.example.com": RSA.dns_record()}


@pytest.mark.parametrize("opts", ["-z 4", "-z 4 -c s", "-z 4 -c t -l -t -q"])
def test_ed25519_verifies_under_mailauth(home, opts):
    require_tool("mailauth")
    r = qdkim.run(home, {"DKIMKEY": "control/domainkeys/%/ed", "DKIMSIGNOPTIONS": opts}, message=MSG)
    assert r.rc == 0, r.stderr
    res = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(r.msg, ed_records()))
    assert [x[0] for x in res] == ["pass"], res


def test_rsa_plus_ed25519_on_one_message(home, dns):
    require_tool("mailauth")
    r = qdkim.run(home, dict(RELAY, DKIMSIGNEXTRA="control/domainkeys/%/ed"), message=MSG)
    assert r.rc == 0, r.stderr
    res = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(r.msg, ed_records()))
    assert sorted(x[0] for x in res) == ["pass", "pass"], res
    # Mail::DKIM (no Ed25519) still passes the RSA signature.
    assert ("pass", "pass") in mail_dkim(r.msg, dns)


@pytest.mark.parametrize("subject", [b"cr at the end\r", b"ff at the end\x0c", b"\x0bvt at the start"])
def test_relaxed_header_ends_are_stripped_as_mailauth_does(home, dns, subject):
    """VT, FF and a CR (before LF: message data) at the ends of a value are
    stripped by relaxed canonicalization (headerhash.py, as dkimpy), which is
    what mailauth does; Mail::DKIM strips them after the colon only."""
    require_tool("mailauth")
    msg = b"From: joe@example.com\nSubject: " + subject + b"\nTo: bob@example.net\n\nbody\n"
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0, r.stderr
    res = verifiers.mailauth_dkim_results(verifiers.mailauth_verify(r.msg, ed_records()))
    assert [x[0] for x in res] == ["pass"], res
    if subject.startswith(b"\x0b"):
        assert mail_dkim(r.msg, dns) == [("pass", "pass")]


SEEDS_001_SIGN = ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",'
                  'DKIMKEY="control/domainkeys/%/default"\n')


def _smtp_home(home):
    from tests.realparts.queue_double import QueueDouble
    (home / "bin").mkdir(exist_ok=True)
    os.symlink(qdkim.QMAIL_DKIM, home / "bin/qmail-dkim")
    qd = QueueDouble(home / "queue")
    os.symlink(qd.path, home / "bin/qmail-queue")
    return qd


def test_seeds_001_rule_signs_through_tcpserver_and_mailfront(home, dns, smtp_front_factory):
    qd = _smtp_home(home)
    front = smtp_front_factory(SEEDS_001_SIGN, env=dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home)))
    code, text = front.send("joe@example.com", ["bob@example.net"], MSG)
    assert code == 250, (code, text, front.log())
    [m] = qd.messages()
    assert m.msg.startswith(b"DKIM-Signature:") and m.msg.endswith(MSG)
    assert m.recipients == ["bob@example.net"]
    assert mail_dkim(m.msg, dns) == [("pass", "pass")]
    assert "qmail-dkim: mode=sign result=signed d=example.com s=default" in front.log()


def test_mailfront_maps_missing_fixed_key_to_554_and_bad_key_to_451(home, smtp_front_factory):
    qd = _smtp_home(home)
    rules = ('127.0.0.1:allow,QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/none"\n')
    front = smtp_front_factory(rules, env=dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home)))
    code, _ = front.send("joe@example.com", ["bob@example.net"], MSG)
    assert code == 554 and qd.count() == 0
    (home / "control/domainkeys/example.com/default").write_bytes(b"garbage")
    rules = SEEDS_001_SIGN
    front = smtp_front_factory(rules, env=dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home)))
    code, _ = front.send("joe@example.com", ["bob@example.net"], MSG)
    assert code == 451 and qd.count() == 0
    assert "exit=55" in front.log()
