"""Compatibility with the C qmail-dkim and the living qmail families
(qmail-dkim(8), COMPATIBILITY). Each test runs the installed qmail-dkim the
way qmail-smtpd does (tests/qdkim.py)."""
import pytest

from tests import qdkim
from tests.qdkim import SAMPLE
from tests.logparse import fields
from tests.realparts.keys import cached_rsa_key

KEY = cached_rsa_key(2048)       # the key of conftest's home (example.com/default)
RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}


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


# ------------------------------------------------ 5. custom-error protocols

def qmailc_run(family, home, env, message=SAMPLE, cwd=None, qd_knobs=None):
    """qmail-dkim run by `family`'s qmail.c (tests/realparts/qmailc.py), as
    qmail-smtpd runs it, with the queue double as its queue program."""
    from tests.realparts import qmailc
    from tests.realparts.queue_double import QueueDouble, make_envelope
    qd = QueueDouble(home / ("qq-" + family))
    (home / "tmp").mkdir(exist_ok=True)
    full = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home / "tmp"),
            "DKIMQUEUE": str(qd.path)}
    full.update(qd.env(**(qd_knobs or {})))
    full.update(env)
    full = {k: v for k, v in full.items() if v is not None}
    res = qmailc.run(family, [qdkim.QMAIL_DKIM], full, message,
                     make_envelope("joe@example.com", ["bob@example.net"]), cwd or str(home))
    res.stored = qd.messages()
    return res


FORGED = {"DKIMVERIFY": "X", "SELECTOR_DATA": KEY.dns_record()}
BH = b"qmail-dkim: signature error: not all message's From headers in signature (#5.7.7)"


@pytest.mark.parametrize("family", ["notqmail", "indimail", "sagredo"])
def test_custom_error_reject_is_554_with_our_text(home, family):
    forged = b"From: boss@example.com\n" + signed(home)
    r = qmailc_run(family, home, dict(FORGED, DKIMCUSTOMERROR=family), forged)
    assert r.exitcode == (82 if family == "notqmail" else 88)
    assert r.errstr == b"D" + BH                     # one line, no newline, alone
    assert r.reply == b"554 " + BH + b"\r\n"
    assert r.stored == []
    if family == "indimail":
        assert r.log == b""                          # fd 2 is the reply pipe
    else:
        f = fields(r.log.decode())
        assert f["status"] == "X" and f["exit"] == str(r.exitcode)


@pytest.mark.parametrize("family", ["notqmail", "indimail", "sagredo"])
def test_custom_error_temporary_and_config_errors(home, family):
    # a lowercase letter: temporary, the client gets 451 with our text
    r = qmailc_run(family, home, {"DKIMVERIFY": "s", "DKIMCUSTOMERROR": family})
    assert r.reply == b"451 qmail-dkim: no signatures (#4.7.5)\r\n"
    # a missing key without %: permanent (#5.3.5); the path stays in our log only
    r = qmailc_run(family, home, {"DKIMKEY": "control/domainkeys/nonexistent",
                                  "DKIMCUSTOMERROR": family})
    assert r.reply == b"554 qmail-dkim: private key file does not exist (#5.3.5)\r\n"
    # bad DKIMSIGNOPTIONS: temporary
    r = qmailc_run(family, home, dict(RELAY, DKIMSIGNOPTIONS="-c q", DKIMCUSTOMERROR=family))
    assert r.reply.startswith(b"451 qmail-dkim: cannot read or parse") and r.reply.endswith(b"(#4.3.5)\r\n")


@pytest.mark.parametrize("family", ["notqmail", "indimail", "sagredo"])
def test_custom_error_leaves_good_mail_and_the_queue_programs_status_alone(home, family):
    r = qmailc_run(family, home, dict(RELAY, DKIMCUSTOMERROR=family))
    assert r.reply == b"250 ok\r\n" and len(r.stored) == 1
    r = qmailc_run(family, home, dict(RELAY, DKIMCUSTOMERROR=family), qd_knobs={"exit": 31})
    qq = b"qq " if family == "indimail" else b""
    assert r.exitcode == 31
    assert r.reply == b"554 " + qq + b"mail server permanently rejected message (#5.3.0)\r\n"


@pytest.mark.parametrize("family", ["notqmail", "indimail", "sagredo"])
def test_without_dkimcustomerror_every_family_answers_from_the_exit_code(home, family):
    forged = b"From: boss@example.com\n" + signed(home)
    r = qmailc_run(family, home, FORGED, forged)
    assert r.exitcode == 31 and r.reply[:4] == b"554 "


def test_custom_error_family_mismatch_costs_no_bounce(home):
    # DKIMCUSTOMERROR=sagredo under notqmail: nothing is open on fd 4, so the
    # plain exit code answers (31: 554), and the log says why.
    forged = b"From: boss@example.com\n" + signed(home)
    r = qmailc_run("notqmail", home, dict(FORGED, DKIMCUSTOMERROR="sagredo"), forged)
    assert r.exitcode == 31 and r.reply[:4] == b"554 "
    assert "DKIMCUSTOMERROR: cannot write to fd 4" in r.log.decode()


def test_indimail_error_fd_minus_one_disables_custom_errors(home):
    forged = b"From: boss@example.com\n" + signed(home)
    r = qmailc_run("indimail", home, dict(FORGED, DKIMCUSTOMERROR="indimail", ERROR_FD="-1"),
                   forged)
    assert r.exitcode == 31 and r.reply[:4] == b"554 "
    assert fields(r.log.decode())["exit"] == "31"


def test_sagredo_error_fd_moves_the_pipe(home):
    forged = b"From: boss@example.com\n" + signed(home)
    r = qmailc_run("sagredo", home, dict(FORGED, DKIMCUSTOMERROR="sagredo", ERROR_FD="5"), forged)
    assert r.reply == b"554 " + BH + b"\r\n"


# ------------------------------------------------ 6. QMAILHOME unset

@pytest.mark.parametrize("marker", ["control", "bin/qmail-queue"])
def test_qmailhome_unset_uses_the_qmail_home_we_were_started_in(home, tmp_path, marker):
    # qmail-smtpd's qmail.c changes into its home (auto_qmail) before it runs
    # QMAILQUEUE; a home other than /var/qmail must work without QMAILHOME.
    key = home / "control/domainkeys/example.com/default"
    if marker == "bin/qmail-queue":          # a home with the key elsewhere, no control/
        other = tmp_path / "keys"
        other.mkdir()
        key.rename(other / "default")
        import shutil
        shutil.rmtree(home / "control")
        (home / "bin/qmail-queue").write_text("#!/bin/sh\nexit 81\n")
        env = dict(RELAY, QMAILHOME=None, DKIMKEY=str(other / "default"))
    else:
        env = dict(RELAY, QMAILHOME=None)
    r = qmailc_run("notqmail", home, env)
    assert r.reply == b"250 ok\r\n", r.log
    f = fields(r.log.decode())
    assert f["result"] == "signed"
    assert r.stored[0].info["cwd"] == str(home)


def test_qmailhome_unset_elsewhere_is_var_qmail(home, tmp_path):
    import os
    if os.path.exists("/var/qmail"):
        pytest.skip("/var/qmail exists here")
    r = qmailc_run("notqmail", home, dict(RELAY, QMAILHOME=None), cwd=str(tmp_path))
    assert r.exitcode == 61 and "cannot change to QMAILHOME /var/qmail" in r.log.decode()
    assert r.reply == b"451 qq trouble in home directory (#4.3.0)\r\n"


# ------------------------------------------------ 7. both relative key-path forms

def test_controldir_relative_key_path_signs(home):
    # sagredo and indimail write DKIMKEY relative to CONTROLDIR
    r = qdkim.run(home, dict(RELAY, DKIMKEY="domainkeys/%/default"))
    f = fields(r.log)
    assert r.rc == 0 and f["result"] == "signed", r.log
    assert f["key"] == "control/domainkeys/example.com/default" and f["s"] == "default"
    r = qdkim.run(home, dict(RELAY, DKIMKEY="domainkeys/example.com/default"))
    assert fields(r.log)["key"] == "control/domainkeys/example.com/default"
    # the seeds' form (relative to QMAILHOME) is tried first, and only it
    r = qdkim.run(home, RELAY)
    assert fields(r.log)["key"] == "control/domainkeys/example.com/default"


def test_controldir_relative_key_path_with_another_controldir(home, tmp_path):
    ctl = tmp_path / "etc-qmail"
    (ctl / "domainkeys").mkdir(parents=True)
    (home / "control/domainkeys/example.com").rename(ctl / "domainkeys/example.com")
    r = qdkim.run(home, dict(RELAY, DKIMKEY="domainkeys/%/default", CONTROLDIR=str(ctl)))
    f = fields(r.log)
    assert f["result"] == "signed" and f["key"] == str(ctl / "domainkeys/example.com/default")


def test_tried_lists_every_path_of_both_forms(home):
    msg = SAMPLE.replace(b"joe@example.com", b"joe@mail.example.org")
    r = qdkim.run(home, dict(RELAY, DKIMKEY="domainkeys/%/default"), message=msg)
    f = fields(r.log)
    assert r.rc == 0 and f["result"] == "unsigned" and f["reason"] == "no key for mail.example.org"
    assert f["tried"].split(",") == [
        "domainkeys/mail.example.org/default", "control/domainkeys/mail.example.org/default",
        "domainkeys/example.org/default", "control/domainkeys/example.org/default",
        "domainkeys//default", "control/domainkeys//default"]
    r = qdkim.run(home, dict(RELAY, DKIMKEY="domainkeys/nonexistent"))
    f = fields(r.log)
    assert r.rc == 35 and f["tried"] == "domainkeys/nonexistent,control/domainkeys/nonexistent"


# ------------------------------------------------ 9. truncated input

CUT = b"From: joe@example.com\nTo: bob@example.net\nSubj"      # the client went away


@pytest.mark.parametrize("env", [RELAY, {"DKIMVERIFY": "U"}], ids=["sign", "verify"])
def test_truncated_input_is_named_in_the_log(home, env):
    # qmail-smtpd died during DATA: part of the message, then no envelope
    r = qdkim.run(home, env, message=CUT, envelope=b"")
    f = fields(r.log)
    assert r.rc == 54 and r.stored == []
    assert f["reason"].startswith("truncated input: no envelope after the message"), r.log
    assert f.get("result", f.get("status")) == "error" and "From" not in r.log
    # an envelope cut in the middle
    r = qdkim.run(home, env, message=SAMPLE, envelope=b"Fjoe@example.com\0Tbob@exa")
    f = fields(r.log)
    assert r.rc == 54 and f["reason"].startswith("truncated input: the envelope is incomplete")
    # a whole message whose header was cut is still a message (passed on)
    r = qdkim.run(home, env, message=CUT)
    assert r.rc == 0 and r.msg.endswith(CUT)


def test_truncated_input_through_qmail_smtpd_reader(home):
    # the same through notqmail's qmail.c: 451, nothing queued
    from tests.realparts import qmailc
    from tests.realparts.queue_double import QueueDouble
    qd = QueueDouble(home / "qq-cut")
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home / "tmp"),
           "DKIMQUEUE": str(qd.path), **qd.env(), **RELAY}
    r = qmailc.run("notqmail", [qdkim.QMAIL_DKIM], env, CUT, b"", str(home))
    assert r.exitcode == 54 and r.reply == b"451 qq read error (#4.3.0)\r\n"
    assert "truncated input" in r.log.decode() and qd.messages() == []


# ------------------------------------------------ 3. third-party signatures and practice

def list_signed(home):
    """SAMPLE (From: joe@example.com) signed only by lists.example.net."""
    import shutil
    kd = home / "control/domainkeys/lists.example.net"
    kd.mkdir(parents=True, exist_ok=True)
    shutil.copy(home / "control/domainkeys/example.com/default", kd / "default")
    msg = signed(home, env={"DKIMDOMAIN": "lists.example.net"})
    assert b"d=lists.example.net" in msg
    return msg


def test_third_party_with_practice_disabled_is_neutral(home):
    msg = list_signed(home)
    # the classic letters (which contain F but not D) deliver it
    r = verify(home, msg, {"SIGN_PRACTICE": "none", "DKIMVERIFY": "FGHIKLMNOQRTUVWjp"})
    f = fields(r.log)
    assert r.rc == 0 and f["status"] == "D" and f["dkim"] == "pass", r.log
    assert dkim_status(r.msg) == (b"DKIM-Status: verify result: no signatures verified but "
                                  b"message is not suspicious")
    assert b"dkim=pass" in r.msg
    # an author signature next to it: A
    both = signed(home, msg)
    assert fields(verify(home, both, {"SIGN_PRACTICE": "none"}).log)["status"] == "A"


@pytest.fixture
def adsp_dns(nsd_factory):
    from tests.realparts.nsd import txt_rr
    return nsd_factory({
        "example.com": txt_rr("_adsp._domainkey", "dkim=discardable"),
        "example.org": txt_rr("_adsp._domainkey", "dkim=unknown"),
    })


def test_third_party_only_consults_the_author_practice(home, adsp_dns):
    msg = list_signed(home)
    env = {"DKIMPRACTICE": "", "DNSCACHEIP": adsp_dns.dnscacheip, "DKIMDNSTIMEOUT": "2",
           "DKIMVERIFY": "G"}
    r = verify(home, msg, env)
    f = fields(r.log)
    # example.com says it signs everything and discards the rest (RFC 5617 3.2:
    # a third-party signature is not an author signature)
    assert r.rc == 31 and f["status"] == "G" and f["old"] == "A", r.log
    assert f["practice"] == "adsp:discardable"
    # an author whose practice is not discardable: the signature counts as A
    other = signed(home, SAMPLE.replace(b"joe@example.com", b"joe@example.org"),
                   {"DKIMDOMAIN": "lists.example.net"})
    r = verify(home, other, env)
    f = fields(r.log)
    assert r.rc == 0 and f["status"] == "A" and "old" not in f, r.log
    assert f["practice"] == "adsp:unknown" and b"X-DKIM-ADSP: unknown;" in r.msg
    # the author's own signature: practice is not asked
    r = verify(home, signed(home), env)
    assert fields(r.log)["status"] == "A" and "practice" not in fields(r.log)


# ------------------------------------------------ 8. stored CR LF

def notqmail109_wire(stored):
    """qmail-remote of notqmail >= 1.09 / sagredo: a stored CR LF is sent
    unchanged, every other LF becomes CR LF."""
    return stored.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_stored_crlf_setting_signs_what_notqmail_109_sends(home, require_tool):
    from tests.realparts import verifiers as V
    require_tool("mailauth")
    records = {"default._domainkey.example.com": KEY.dns_record()}
    crlf = SAMPLE.replace(b"\n", b"\r\n")           # injected locally with CR LF line ends
    for canon in ("r", "s"):
        out = signed(home, crlf, {"DKIMSTOREDCRLF": "", "DKIMSIGNOPTIONS": "-c " + canon})
        assert out.endswith(crlf)                   # the message itself is unchanged
        res = V.mailauth_dkim_results(V.mailauth_verify(notqmail109_wire(out), records, crlf=True))
        assert [r for r, _ in res] == ["pass"], (canon, res)
    # today's default hashes the CR as data (what netqmail and notqmail <= 1.08
    # send): such a receiver sees a failure
    out = signed(home, crlf)
    res = V.mailauth_dkim_results(V.mailauth_verify(notqmail109_wire(out), records, crlf=True))
    assert [r for r, _ in res] != ["pass"]


def test_stored_crlf_setting_changes_nothing_for_lf_mail(home):
    a = signed(home, env={"DKIMSTOREDCRLF": ""})
    assert fields(verify(home, a).log)["status"] == "A"
    # a CR LF only in the body, split across the spool's read chunks
    body = b"x" * 65535 + b"\r\n" + b"end\r\n"
    out = signed(home, SAMPLE + body, {"DKIMSTOREDCRLF": ""})
    lf = out.replace(b"\r\n", b"\n")
    assert fields(verify(home, lf).log)["status"] == "A"


# ------------------------------------------------ 10. COMPATIBILITY in qmail-dkim(8)

def test_man_page_lists_every_known_difference_from_c():
    import re
    from pathlib import Path
    src = (Path(__file__).resolve().parent.parent / "man" / "qmail-dkim.8").read_text()
    section = src.split("\n.SH COMPATIBILITY\n", 1)[1].split("\n.SH ", 1)[0]
    entries = re.findall(r"^\.TP\n\.B (.+)$", section, re.M)
    assert entries == [
        "Extra From fields", "UNSIGNED_SUBJECT", "Signed header fields",
        "Third-party signatures", "Relative key paths", "Signing domain",
        "Missing key without %", "TMPDIR", "Arguments", "DKIM-Status texts",
        "Canonicalization", "ADSP and SSP", "HONOR_BODYLENGTHTAG", "Stored CR LF",
        "The qmail home", "Custom errors"]
    import shutil
    import subprocess
    if not shutil.which("groff"):
        pytest.skip("groff not installed (apt-get install groff-base)")
    text = subprocess.run(["groff", "-man", "-Tutf8", "-rLL=200n", "-P-c", "-P-b", "-P-u"],
                          input=(".TH T 8\n.SH COMPATIBILITY\n" + section).encode(),
                          capture_output=True, check=True).stdout.decode()
    text = " ".join(text.replace("\u2010\n", "").split())
    for fact in ("exits 32", "the 2010 patch 35", "exits 63", "we exit 53", "ignores its arguments",
                 "signs X-Mailer", "and DKIM-Status;", "bad (signature verify error",
                 "no signature (no signatures)", '"-c s"', "always reads unknown",
                 "Return-Path, else of Sender:", "DKIMDOMAIN", "inverts it",
                 "451 qq temporary problem", "unless UNSIGNED_FROM is set"):
        assert fact in text, fact


def test_custom_error_warning_joins_the_one_warning_field(home):
    # verify warns about the leading folded line; DKIMCUSTOMERROR naming no
    # family warns too: both in the one warning= field
    r = qdkim.run(home, {"DKIMVERIFY": "S", "DKIMCUSTOMERROR": "yes"},
                  message=b" folded\n" + SAMPLE)
    assert r.rc == 31 and r.log.count("warning=") == 1
    w = fields(r.log)["warning"]
    assert "continuation line" in w and "is not notqmail, indimail or sagredo" in w
