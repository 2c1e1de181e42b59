"""verify.run: the Outcome (headers, removal, exit, log), practice, control files."""
import os
import socket

import pytest

from qmail_dkim import config, exits
from qmail_dkim.verify import run as verify
from qmail_dkim.exits import QmailDkimExit
from tests.verifyhelp import (MSG, Lookup, answer, dkimpy_sign, rsa_priv, rsa_record,
                                         spool, std_tags, tag_sign)


@pytest.fixture
def home(home, monkeypatch):
    """cwd = QMAILHOME, as main.py does."""
    monkeypatch.chdir(home)
    return home


def run(tmp_path, msg, env=None, lookup=None, **kw):
    env = dict(env or {})
    env.setdefault("DKIMAUTHSERVID", "mx.example.net")
    if lookup is None:
        lookup = Lookup({"sel._domainkey.example.com": rsa_record(rsa_priv())})
    sp = spool(tmp_path, msg)
    try:
        return verify.run(config.VerifySettings(env), sp, lookup=lookup, **kw), sp
    finally:
        sp.close()


def output(outcome, msg):
    """What main.py hands to the queue program."""
    body = bytearray()
    pos = 0
    for start, end in outcome.drop:
        body += msg[pos:start]
        pos = end
    body += msg[pos:]
    return outcome.prepend + bytes(body)


def logd(outcome):
    return dict(outcome.log)


# ------------------------------------------------------------- headers

def test_good_message(home, tmp_path):
    msg = dkimpy_sign(MSG)
    o, _ = run(tmp_path, msg)
    b8 = msg.split(b" b=")[1].replace(b"\n", b"").replace(b"\t", b"").replace(b" ", b"")[:8]
    assert o.prepend == (b"DKIM-Status: good\n"
                         b"Authentication-Results: mx.example.net;\n"
                         b"\tdkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b="
                         + (b8 if b"/" not in b8 else b'"' + b8 + b'"') + b"\n")
    assert o.exit_code is None and o.drop == []
    assert output(o, msg).endswith(msg)
    log = logd(o)
    assert log["status"] == "A" and log["dkim"] == ["pass"] and log["action"] == "deliver"
    assert log["d"] == ["example.com"] and log["s"] == ["sel"]


def test_unsigned(home, tmp_path):
    o, _ = run(tmp_path, MSG)
    assert o.prepend == (b"DKIM-Status: no signatures\n"
                         b"Authentication-Results: mx.example.net;\n\tdkim=none\n")
    assert logd(o)["status"] == "S" and logd(o)["dkim"] == ["none"]


def test_failure_has_reason(home, tmp_path):
    msg = dkimpy_sign(MSG) + b"tampered\n"
    o, _ = run(tmp_path, msg)
    assert o.prepend.startswith(
        b"DKIM-Status: signature verify error: message body does not hash to bh value\n")
    assert b'\tdkim=fail reason="body hash mismatch" header.d=example.com header.s=sel' in o.prepend
    assert logd(o)["reason"] == ["body hash mismatch"]


def test_two_signatures_two_results(home, tmp_path):
    msg = tag_sign(dkimpy_sign(MSG), std_tags(s=b"gone"))
    o, _ = run(tmp_path, msg)
    ar = o.prepend.split(b"\n", 1)[1]
    assert ar.count(b"dkim=") == 2
    assert b"\tdkim=permerror" in ar and b"\tdkim=pass" in ar
    assert b"header.s=gone" in ar
    assert logd(o)["dkim"] == ["permerror", "pass"]
    assert logd(o)["status"] == "A"


def test_headers_are_lf_tab_folded(home, tmp_path):
    o, _ = run(tmp_path, tag_sign(dkimpy_sign(MSG), std_tags(s=b"gone")))
    assert b"\r" not in o.prepend and o.prepend.endswith(b"\n")
    for line in o.prepend.split(b"\n")[:-1]:
        assert line[:1] == b"\t" or b":" in line


def test_hostile_tag_values_sanitized(home, tmp_path):
    bad = b'DKIM-Signature: v=1; a=rsa-sha256; d=ex"am\\ple.com; s=a;b; h=from; bh=AAAA; b=AAAA\n'
    o, _ = run(tmp_path, bad + MSG)
    ar = o.prepend.split(b"\n", 1)[1]
    assert logd(o)["status"] == "H"
    assert b"dkim=neutral" in ar
    assert ar.count(b"\n") == 2             # nothing injected a line


def test_H_signature_still_named(home, tmp_path):
    msg = b"DKIM-Signature: v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA\n" + MSG
    o, _ = run(tmp_path, msg)
    assert b"dkim=neutral" in o.prepend and b"header.d=example.com" in o.prepend
    assert b"header.a=rsa-sha1" in o.prepend


# ------------------------------------------------------------- removal

FORGED = [
    b"DKIM-Status: good\n",
    b"dkim-status:good\n",
    b"DKIM-STATUS: good\n\t(folded)\n",
    b"Authentication-Results: mx.example.net; dkim=pass header.d=bank.example\n",
    b"authentication-results:MX.Example.NET;\n\tdkim=pass\n",
    b"Authentication-Results: (comment) mx.example.net 1; dkim=pass\n",
    b"Authentication-Results:\n\tmx.example.net;\n\tdkim=pass\n",
    b'Authentication-Results: "mx.example.net"; dkim=pass\n',
]


@pytest.mark.parametrize("forged", FORGED)
def test_forged_removed(home, tmp_path, forged):
    msg = dkimpy_sign(MSG)
    full = forged + msg
    o, _ = run(tmp_path, full)
    assert o.drop == [(0, len(forged))]
    assert output(o, full) == o.prepend + msg
    assert logd(o)["removed"] == 1


@pytest.mark.parametrize("kept", [
    b"Authentication-Results: other.example.net; dkim=pass\n",
    b"Authentication-Results: mx.example.net.evil; dkim=pass\n",
    b"X-Authentication-Results: mx.example.net; dkim=pass\n",
    b"ARC-Authentication-Results: i=1; mx.example.net; dkim=pass\n",
])
def test_others_kept(home, tmp_path, kept):
    full = kept + dkimpy_sign(MSG)
    o, _ = run(tmp_path, full)
    assert o.drop == []
    assert output(o, full) == o.prepend + full


def test_removal_in_the_middle_keeps_everything_else(home, tmp_path):
    msg = dkimpy_sign(MSG)
    a, b = msg.split(b"To: ", 1)
    full = a + b"DKIM-Status: good\n" + b"To: " + b
    o, _ = run(tmp_path, full)
    assert output(o, full) == o.prepend + msg
    assert logd(o)["status"] == "A"


# ------------------------------------------------------------- authserv-id

def test_authservid_from_control_me(home, tmp_path):
    (home / "control" / "me").write_text("mail.example.org\n")
    sp = spool(tmp_path, MSG)
    o = verify.run(config.VerifySettings({}), sp, lookup=Lookup())
    sp.close()
    assert b"Authentication-Results: mail.example.org;" in o.prepend


def test_authservid_controldir(home, tmp_path):
    (home / "etc").mkdir()
    (home / "etc" / "me").write_text("other.example.org\n")
    sp = spool(tmp_path, MSG)
    o = verify.run(config.VerifySettings({"CONTROLDIR": "etc"}), sp, lookup=Lookup())
    sp.close()
    assert b"Authentication-Results: other.example.org;" in o.prepend


def test_authservid_hostname(home, tmp_path):
    sp = spool(tmp_path, MSG)
    o = verify.run(config.VerifySettings({}), sp, lookup=Lookup())
    sp.close()
    assert ("Authentication-Results: %s;" % socket.gethostname()).encode() in o.prepend


def test_control_me_unreadable(home, tmp_path):
    (home / "control" / "me").mkdir()
    sp = spool(tmp_path, MSG)
    with pytest.raises(QmailDkimExit) as e:
        verify.run(config.VerifySettings({}), sp, lookup=Lookup())
    sp.close()
    assert e.value.code == exits.CONFIG_ERROR


# ------------------------------------------------------------- DKIMVERIFY

@pytest.mark.parametrize("dv,code,action", [
    ("FGHIKLMNOQRTUVWjp", exits.REJECT_PERM, "reject-permanent"),
    ("u", exits.REJECT_TEMP, "reject-temporary"),
    ("uU", exits.REJECT_PERM, "reject-permanent"),
    ("", None, "deliver"),
    (None, None, "deliver"),
])
def test_dkimverify_U(home, tmp_path, dv, code, action):
    env = {} if dv is None else {"DKIMVERIFY": dv}
    o, _ = run(tmp_path, dkimpy_sign(MSG) + b"x\n", env)
    assert o.exit_code == code and logd(o)["action"] == action
    if code:
        assert o.error_text and "bh" in o.error_text


def test_dkimverify_seed_set(home, tmp_path):
    dv = {"DKIMVERIFY": "FGHIKLMNOQRTUVWjp"}
    assert run(tmp_path, MSG, dv)[0].exit_code is None                     # S delivered
    assert run(tmp_path, dkimpy_sign(MSG), dv)[0].exit_code is None        # A
    o, _ = run(tmp_path, dkimpy_sign(MSG), dv, lookup=Lookup(default=answer("temp")))
    assert o.exit_code == exits.REJECT_TEMP and logd(o)["status"] == "P"   # p: retry
    o, _ = run(tmp_path, dkimpy_sign(MSG), dv, lookup=Lookup())
    assert o.exit_code == exits.REJECT_PERM and logd(o)["status"] == "Q"


# ------------------------------------------------------------- practice

def test_practice_unset_does_nothing(home, tmp_path):
    (home / "control" / "signaturedomains").write_text("example.com\n")
    o, _ = run(tmp_path, MSG)
    assert logd(o)["status"] == "S" and "old" not in logd(o)


def test_signaturedomains_G(home, tmp_path):
    (home / "control" / "signaturedomains").write_text("# c\nExample.COM\n")
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": "", "DKIMVERIFY": "G"})
    assert o.prepend.startswith(
        b"DKIM-Status: DKIM Signature verification failed (old=NO_SIGNATURES:-13)\n")
    assert o.exit_code == exits.REJECT_PERM
    assert logd(o)["status"] == "G" and logd(o)["old"] == "S"
    assert logd(o)["practice"] == "signaturedomains"


def test_signaturedomains_env_file(home, tmp_path):
    (home / "control" / "mysigdoms").write_text("example.com\n")
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": "", "SIGNATUREDOMAINS": "mysigdoms",
                               "SIGN_PRACTICE": "local"})
    assert logd(o)["status"] == "G"


def test_nosignaturedomains_D(home, tmp_path):
    (home / "control" / "nosignaturedomains").write_text("*\n")
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": "", "SIGN_PRACTICE": "local"})
    assert logd(o)["status"] == "D"
    assert o.prepend.startswith(b"DKIM-Status: verify result: no signatures verified but "
                                b"message is not suspicious (old=NO_SIGNATURES:-13)\n")
    # signed but failing: nosignaturedomains does not apply, local keeps U
    o, _ = run(tmp_path, dkimpy_sign(MSG) + b"x\n", {"DKIMPRACTICE": "", "SIGN_PRACTICE": "local"})
    assert logd(o)["status"] == "U" and "old" not in logd(o)


def test_practice_letters_filter(home, tmp_path):
    (home / "control" / "signaturedomains").write_text("example.com\n")
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": "U", "SIGN_PRACTICE": "local"})
    assert logd(o)["status"] == "S"
    o, _ = run(tmp_path, dkimpy_sign(MSG) + b"x\n", {"DKIMPRACTICE": "u", "SIGN_PRACTICE": "local"})
    assert logd(o)["status"] == "G" and logd(o)["old"] == "U"


def test_adsp_discardable(home, tmp_path):
    lk = Lookup({"_adsp._domainkey.example.com": "dkim=discardable"})
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": ""}, lookup=lk)
    assert logd(o)["status"] == "G"
    lines = o.prepend.split(b"\n")
    assert lines[0].startswith(b"DKIM-Status: DKIM Signature verification failed (old=")
    assert lines[1].startswith(b"Authentication-Results:")
    assert lines[3] == b"X-DKIM-ADSP: discardable;"
    assert logd(o)["practice"] == "adsp:discardable"


@pytest.mark.parametrize("table,text", [
    ({"_adsp._domainkey.example.com": "dkim=all"}, b"all;"),
    ({"_adsp._domainkey.example.com": "dkim=unknown"}, b"unknown;"),
    ({"example.com": answer("nodata")}, b"unknown;"),
    ({}, b"out of scope;"),
    ({"_adsp._domainkey.example.com": answer("temp")}, b"temporary failure;"),
])
def test_adsp_other_is_D(home, tmp_path, table, text):
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": ""}, lookup=Lookup(table))
    assert logd(o)["status"] == "D"
    assert o.prepend.endswith(b"X-DKIM-ADSP: " + text + b"\n")


@pytest.mark.parametrize("rec,letter,text", [
    ("dkim=all", "G", b"all;"), ("dkim=strict", "G", b"strict;"),
    ("dkim=all; t=y", "D", b"all;"), ("dkim=unknown", "D", b"unknown;"),
])
def test_ssp(home, tmp_path, rec, letter, text):
    lk = Lookup({"_ssp._domainkey.example.com": rec})
    o, _ = run(tmp_path, MSG, {"DKIMPRACTICE": "", "SIGN_PRACTICE": "ssp"}, lookup=lk)
    assert logd(o)["status"] == letter
    assert o.prepend.endswith(b"X-DKIM-SSP: " + text + b"\n")


def test_practice_disabled_third_party_is_D(home, tmp_path):
    # the signature's letter is F (dkim=pass); the message's is D, as in C
    msg = dkimpy_sign(MSG, domain=b"lists.example.org")
    lk = Lookup({"sel._domainkey.lists.example.org": rsa_record(rsa_priv())})
    o, _ = run(tmp_path, msg, {"SIGN_PRACTICE": "", "DKIMPRACTICE": "", "DKIMVERIFY": "F"}, lookup=lk)
    assert logd(o)["status"] == "D" and o.exit_code is None
    assert o.prepend.startswith(b"DKIM-Status: verify result: no signatures verified but "
                                b"message is not suspicious\n")
    assert b"dkim=pass" in o.prepend
    o, _ = run(tmp_path, msg, {"SIGN_PRACTICE": "none", "DKIMVERIFY": "D"}, lookup=lk)
    assert logd(o)["status"] == "D" and o.exit_code == exits.REJECT_PERM
    o, _ = run(tmp_path, msg, {"DKIMVERIFY": "F"}, lookup=lk)
    assert logd(o)["status"] == "A" and o.exit_code is None


def test_signaturedomains_unreadable(home, tmp_path):
    (home / "control" / "signaturedomains").mkdir()
    sp = spool(tmp_path, MSG)
    with pytest.raises(QmailDkimExit) as e:
        verify.run(config.VerifySettings({"DKIMPRACTICE": "", "DKIMAUTHSERVID": "x"}), sp,
                   lookup=Lookup())
    sp.close()
    assert e.value.code == exits.CONFIG_ERROR


# ------------------------------------------------------------- robustness

@pytest.mark.parametrize("msg", [
    b"", b"\n", b"no header at all\n", b"DKIM-Signature:\n\n", b"\x00\x01\x02",
    b"From: <>\nDKIM-Signature: v=1\n\nbody", b"From: a@b\n" * 1000 + b"\n",
    b"DKIM-Signature: " + b"x" * 100000 + b"\n\n",
    b"From: joe@example.com\n" + b"DKIM-Signature: v=1; d=example.com\n" * 50 + b"\n",
])
def test_malformed_gets_a_status(home, tmp_path, msg):
    o, _ = run(tmp_path, msg)
    assert o.prepend.startswith(b"DKIM-Status: ")
    assert "status" in logd(o)


def test_selector_data(home, tmp_path):
    sp = spool(tmp_path, dkimpy_sign(MSG))
    env = {"SELECTOR_DATA": rsa_record(rsa_priv()), "DKIMAUTHSERVID": "x",
           "DNSCACHEIP": "127.0.0.1:1"}
    o = verify.run(config.VerifySettings(env), sp)
    sp.close()
    assert logd(o)["status"] == "A"
