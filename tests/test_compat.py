"""Compatibility with the C qmail-dkim and the living qmail families
(qmail-dkim(8), COMPATIBILITY). Each test runs the installed qmail-dkim the
way qmail-smtpd does (tests/qdkim.py)."""
import pytest

from tests import qdkim
from tests.qdkim import SAMPLE
from tests.logparse import fields
from tests.realparts.keys import cached_rsa_key

KEY = cached_rsa_key(2048)
RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}


@pytest.fixture
def home(tmp_path):
    kd = tmp_path / "control/domainkeys/example.com"
    kd.mkdir(parents=True)
    KEY.write(kd / "default", fmt="pkcs1")
    return tmp_path


def signed(home, message=SAMPLE, env=None):
    r = qdkim.run(home, dict(RELAY, **(env or {})), message=message)
    assert r.rc == 0 and fields(r.log)["result"] == "signed", r.stderr
    return r.msg


def verify(home, message, env=None):
    e = {"DKIMVERIFY": "", "SELECTOR_DATA": KEY.dns_record(), "DKIMAUTHSERVID": "mx.test"}
    e.update(env or {})
    return qdkim.run(home, e, message=message)


def dkim_status(msg):
    return msg.split(b"\n", 1)[0]


# ------------------------------------------------ 1. an extra unsigned From:

def test_extra_unsigned_from_does_not_pass(home):
    msg = signed(home)
    forged = b"From: boss@example.com\n" + msg
    r = verify(home, forged)
    assert fields(r.log)["status"] == "X", r.log
    assert dkim_status(r.msg) == (b"DKIM-Status: signature error: not all message's "
                                  b"From headers in signature")
    assert b"dkim=policy" in r.msg and b"dkim=pass" not in r.msg
    # DKIMVERIFY with X bounces it
    r = verify(home, forged, {"DKIMVERIFY": "X"})
    assert r.rc == 31 and r.stored == []
    # the genuine message still passes
    assert fields(verify(home, msg).log)["status"] == "A"


def test_unsigned_from_set_relaxes_to_one_from_signed(home):
    forged = b"From: boss@example.com\n" + signed(home)
    for value in ("", "1"):
        r = verify(home, forged, {"UNSIGNED_FROM": value})
        assert fields(r.log)["status"] == "A", r.log


def test_two_from_fields_both_signed_pass(home):
    msg = signed(home, b"From: a@example.com\n" + SAMPLE)
    assert b"h=from:from:" in msg.replace(b"\n\t", b"")
    assert fields(verify(home, msg).log)["status"] == "A"


# ------------------------------------------------ 2. UNSIGNED_SUBJECT

def test_unsigned_subject_set_accepts_an_unsigned_subject(home):
    msg = signed(home, env={"EXCLUDE_DKIMSIGN": "Subject"})
    assert b"subject" not in msg.split(b"\n\n")[0].lower().split(b"bh=")[0].split(b"h=", 1)[1]
    for env in ({}, {"UNSIGNED_SUBJECT": ""}, {"UNSIGNED_SUBJECT": "1"}):
        r = verify(home, msg, env)
        assert fields(r.log)["status"] == "A", (env, r.log)
        assert dkim_status(r.msg) == b"DKIM-Status: good"


# ------------------------------------------------ 4. signed header fields

def test_arc_authentication_results_and_domainkey_signature_never_signed(home):
    msg = (b"ARC-Authentication-Results: i=1; mx.example.org; dkim=pass\n"
           b"DomainKey-Signature: a=rsa-sha1; q=dns; c=nofws; s=old; d=example.com; b=AAAA\n"
           + SAMPLE)
    out = signed(home, msg)
    h = fields(out.split(b"\n\n")[0].decode().replace("\n\t", " ").replace(";", " "))["h"]
    names = h.split(":")
    assert "arc-authentication-results" not in names and "domainkey-signature" not in names
    assert names[:2] == ["from", "to"]
    # and what was signed verifies
    assert fields(verify(home, out).log)["status"] == "A"
