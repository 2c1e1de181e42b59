"""verify mode with DMARCVERIFY (in process, DNS from a table): letters,
headers, log fields, local policy, the HELO from Received:, SPFRESULT."""
import pytest

from qmail_dkim import config, exits
from qmail_dkim.verify import run as verify
from qmail_dkim.verify import dmarcverify
from tests.verifyhelp import (MSG, Lookup, answer, dkimpy_sign, rsa_priv, rsa_record,
                                         spool)

KEY = {"sel._domainkey.example.com": rsa_record(rsa_priv())}
SPOOF = MSG                                  # From: example.com, unsigned
ENVELOPE = b"Fbounce@example.com\0Tuser@example.org\0\0"


@pytest.fixture
def home(home, monkeypatch):
    """conftest's home, as the working directory (verify.run runs in $QMAILHOME)."""
    monkeypatch.chdir(home)
    return home


class SpfDns:
    """spf_lookup(name, qtype, deadline) from {(name, qtype): [records]}."""

    def __init__(self, table=None):
        self.table = {(n.lower(), t): v for (n, t), v in (table or {}).items()}
        self.calls = []

    def __call__(self, name, qtype, deadline=None):
        self.calls.append((name, qtype))
        recs = self.table.get((name.lower().rstrip("."), qtype))
        if recs == "TEMP":
            return answer("temp")
        if recs is None:
            known = {n for n, _ in self.table}
            return answer("nodata" if name.lower() in known else "nxdomain")
        return answer("ok", *[r.encode() if isinstance(r, str) and qtype == "TXT" else r
                              for r in recs])


def run(tmp_path, msg, env, dmarc="v=DMARC1; p=reject", extra=None, envelope=ENVELOPE, spf=None):
    env = dict(env)
    env.setdefault("DKIMAUTHSERVID", "mx.example.net")
    env.setdefault("TCPREMOTEIP", "192.0.2.7")
    table = dict(KEY)
    if dmarc is not None:
        table["_dmarc.example.com"] = dmarc
    table.update(extra or {})
    lk = Lookup(table, default=answer("nxdomain"))
    sp = spool(tmp_path, msg)
    reads = []

    def read_envelope():
        reads.append(1)
        return envelope
    try:
        o = verify.run(config.VerifySettings(env), sp, lookup=lk, read_envelope=read_envelope,
                       spf_lookup=spf if spf is not None else SpfDns())
    finally:
        sp.close()
    o.reads = len(reads)
    o.lookups = lk.calls
    return o


def ar(o):
    text = o.prepend.decode()
    i = text.index("Authentication-Results:")
    j = text.find("\n", i)
    while text[j + 1:j + 2] == "\t":
        j = text.find("\n", j + 1)
    return text[i:j]


def test_unset_is_exactly_as_before(home, tmp_path):
    for msg in (SPOOF, dkimpy_sign(MSG)):
        a = run(tmp_path, msg, {"DKIMVERIFY": ""})
        b = run(tmp_path, msg, {"DKIMVERIFY": "", "SPFRESULT": "fail"})
        assert a.prepend == b.prepend and a.log == b.log and a.exit_code is None
        assert a.reads == 0 and not any(n.startswith("_dmarc") for n in a.lookups)
        assert b"dmarc=" not in a.prepend and "dmarc" not in dict(a.log)


def test_spoof_rejected_554(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "Rt", "SPFRESULT": "fail"})
    assert o.exit_code == exits.REJECT_PERM
    assert "DMARC policy reject of example.com" in o.error_text
    log = dict(o.log)
    assert log["dmarc"] == "fail" and log["policy"] == "reject" and log["disposition"] == "reject"
    assert log["spf"] == "fail" and log["spf.source"] == "SPFRESULT" and log["ip"] == "192.0.2.7"
    assert log["hfrom"] == ["example.com"] and log["envfrom"] == "example.com"
    assert log["dmarc.dkim"] == "fail" and log["dmarc.spf"] == "fail"
    assert log["action"] == "reject-permanent" and o.log[-1][0] == "action"
    assert o.reads == 1


def test_empty_letters_never_reject_and_headers(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "", "SPFRESULT": "fail"})
    assert o.exit_code is None
    a = ar(o)
    assert a.count("Authentication-Results") == 1
    assert "\tdkim=none;" in a
    assert "spf=fail (from SPFRESULT) smtp.mailfrom=bounce@example.com" in a
    assert "dmarc=fail (p=reject sp=reject np=reject dis=quarantine override=local_policy" in a
    assert a.endswith("header.from=example.com policy.dmarc=reject")
    assert dict(o.log)["override"] == "local_policy"


def test_pass_with_aligned_dkim(home, tmp_path):
    o = run(tmp_path, dkimpy_sign(MSG), {"DMARCVERIFY": "RQNTPFS", "SPFRESULT": "none"})
    assert o.exit_code is None
    a = ar(o)
    assert "dkim=pass header.d=example.com" in a and "spf=none" in a
    assert "dmarc=pass (p=reject sp=reject np=reject dis=none) header.from=example.com" in a
    log = dict(o.log)
    assert log["dmarc"] == "pass" and log["dmarc.dkim"] == "pass" and log["dkim"] == ["pass"]


def test_pass_with_aligned_spf(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "SPFRESULT": "pass"},
            envelope=b"Fb@mail.example.com\0Tu@example.org\0\0")
    assert o.exit_code is None and dict(o.log)["dmarc.spf"] == "pass"


@pytest.mark.parametrize("dmarc,letters,code", [
    ("v=DMARC1; p=quarantine", "R", None),
    ("v=DMARC1; p=quarantine", "Q", exits.REJECT_PERM),
    ("v=DMARC1; p=quarantine", "q", exits.REJECT_TEMP),
    ("v=DMARC1; p=none", "RQ", None),
    ("v=DMARC1; p=none", "N", exits.REJECT_PERM),
    ("v=DMARC1; p=reject; t=y", "R", None),            # testing: reject -> quarantine
    ("v=DMARC1; p=reject; t=y", "Q", exits.REJECT_PERM),
    ("v=DMARC1; p=bogus", "P", exits.REJECT_PERM),
    ("v=DMARC1; p=bogus", "R", None),
    (None, "RQNTP", None),                             # no record: none
    ("v=DMARC1; p=reject", "rR", exits.REJECT_PERM),   # both: permanent wins
])
def test_letters(home, tmp_path, dmarc, letters, code):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": letters, "SPFRESULT": "none"}, dmarc=dmarc)
    assert o.exit_code == code


def test_t_y_says_so(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "SPFRESULT": "none"}, dmarc="v=DMARC1; p=reject; t=y")
    log = dict(o.log)
    assert log["policy"] == "quarantine" and log["override"] == "policy_test_mode"
    assert "t=y" in ar(o) and "policy.dmarc=quarantine" in ar(o)


@pytest.mark.parametrize("dmarc,dis", [
    ("v=DMARC1; p=quarantine", "quarantine"),
    ("v=DMARC1; p=reject; t=y", "quarantine"),       # lowered to quarantine: still filed as such
    ("v=DMARC1; p=quarantine; t=y", "none"),         # lowered to none
])
def test_t_y_disposition_is_the_policy_in_effect(home, tmp_path, dmarc, dis):
    """dis= / disposition= (RFC 9990) is what was done with the message: a
    quarantine policy in effect, t=y or not, is delivered with the verdict."""
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "SPFRESULT": "none"}, dmarc=dmarc)
    assert o.exit_code is None
    assert dict(o.log)["disposition"] == dis
    assert "dis=%s" % dis in ar(o)


def test_temperror_letter(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "Rt", "SPFRESULT": "none"}, dmarc=answer("temp"))
    assert o.exit_code == exits.REJECT_TEMP and dict(o.log)["dmarc"] == "temperror"
    assert "temporarily" in o.error_text
    assert "dmarc=temperror" in ar(o)


@pytest.mark.parametrize("spf,letters,code", [
    ("fail", "F", exits.REJECT_PERM), ("fail", "f", exits.REJECT_TEMP), ("softfail", "F", None),
    ("softfail", "S", exits.REJECT_PERM), ("SoftFail", "s", exits.REJECT_TEMP),
    ("error", "T", None),        # SPF temperror without a DMARC record: DMARC none, T does not fit
])
def test_spf_letters(home, tmp_path, spf, letters, code):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": letters, "SPFRESULT": spf}, dmarc=None)
    assert o.exit_code == code


def test_spf_fail_asks_no_explanation(home, tmp_path):
    """exp= names a TXT record for people; qmail-dkim shows it nowhere, so
    an SPF fail asks only what the verdict needs (SPF in qmail-dkim(8))."""
    dns = SpfDns({("example.com", "TXT"): ["v=spf1 -all exp=why.%{d}"],
                  ("why.example.com", "TXT"): ["%{i} is not ours"]})
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "F"}, spf=dns)
    assert dict(o.log)["spf"] == "fail" and o.exit_code == exits.REJECT_PERM
    assert dns.calls == [("example.com", "TXT")]


def test_spf_checked_here(home, tmp_path):
    dns = SpfDns({("example.com", "TXT"): ["v=spf1 ip4:192.0.2.0/24 -all"]})
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "RF"}, spf=dns)
    log = dict(o.log)
    assert log["spf"] == "pass" and log["dmarc"] == "pass" and log["dmarc.spf"] == "pass"
    assert "spf.source" not in log and o.exit_code is None
    assert "spf=pass smtp.mailfrom=bounce@example.com" in ar(o)
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "F", "TCPREMOTEIP": "198.51.100.1"}, spf=dns,
            dmarc=None)
    assert dict(o.log)["spf"] == "fail" and o.exit_code == exits.REJECT_PERM
    assert "SPF fail for example.com" in o.error_text and o.enhanced == "X.7.23"
    dns = SpfDns({("example.com", "TXT"): "TEMP"})
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "t"}, spf=dns)
    assert dict(o.log)["spf"] == "temperror" and o.exit_code == exits.REJECT_TEMP


def test_spf_temperror_that_would_align_is_dmarc_temperror(home, tmp_path):
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "t", "SPFRESULT": "error"})
    assert dict(o.log)["spf"] == "temperror" and dict(o.log)["dmarc"] == "temperror"
    assert o.exit_code == exits.REJECT_TEMP


def test_relay_and_auth_not_evaluated(home, tmp_path):
    for var in ("RELAYCLIENT", "AUTHINFO"):
        o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", var: "", "DKIMVERIFY": ""})
        assert o.exit_code is None and b"dmarc=" not in o.prepend and o.reads == 0


def test_postmaster_never_rejected(home, tmp_path):
    for rcpt in (b"PostMaster@example.org", b"abuse@example.org"):
        o = run(tmp_path, SPOOF, {"DMARCVERIFY": "RF", "SPFRESULT": "fail"},
                envelope=b"Fx@example.com\0Tu@example.org\0T" + rcpt + b"\0\0")
        assert o.exit_code is None
        log = dict(o.log)
        assert log["override"] == "local_policy" and rcpt.decode() in log["override.why"]
        assert log["disposition"] == "none"
        assert "override=local_policy: mail to " + rcpt.decode() in ar(o)


def test_practice_and_np_share_one_query(home, tmp_path):
    """ADSP's 'does the author domain exist' and DMARC's np= existence check
    ask the same name: once per message."""
    msg = SPOOF.replace(b"@example.com", b"@sub.example.com")
    o = run(tmp_path, msg, {"DMARCVERIFY": "R", "SPFRESULT": "none", "DKIMPRACTICE": ""},
            dmarc="v=DMARC1; p=reject; np=quarantine")
    log = dict(o.log)
    assert log["policy"] == "quarantine" and log["practice"].startswith("adsp:")
    assert o.lookups.count("sub.example.com") == 1, o.lookups
    assert len(o.lookups) == len(set(o.lookups)), o.lookups


def test_header_lines_stay_short(home, tmp_path):
    """What the client or a DNS record chose (an SPF term, the envelope
    sender, a broken signature's d=) can be kilobytes: each line we prepend
    stays within RFC 5322's 998 octets, the values cut with '...'."""
    sender = b"a" * 3000 + b"@example.com"
    bad_sig = (b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"d" * 3000
               + b".example; s=x; h=from; bh=; b=\n")
    spf = SpfDns({("example.com", "TXT"): ["v=spf1 " + "x" * 3000 + ":y"]})
    o = run(tmp_path, bad_sig + SPOOF, {"DMARCVERIFY": ""}, spf=spf,
            envelope=b"F" + sender + b"\0Tu@example.org\0\0")
    assert dict(o.log)["spf"] == "permerror"
    lines = o.prepend.split(b"\n")
    assert max(len(x) for x in lines) <= 998, [len(x) for x in lines]
    spf_line = next(x for x in lines if x.startswith(b"\tspf="))
    assert spf_line.startswith(b"\tspf=permerror reason=\"unknown mechanism 'xxx")
    assert b"...\" smtp.mailfrom=aaa" in spf_line and b"... smtp.helo" not in spf_line
    assert b"header.d=ddd" in lines[2] and b"... header.s=x" in lines[2]


def test_comment_stays_a_comment(home, tmp_path):
    """The client's recipient ends up in the dmarc= comment: a quote at its
    end must not leave a backslash that escapes the closing parenthesis."""
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "SPFRESULT": "fail"},
            envelope=b'Fx@example.com\0Tpostmaster@example.org"\0\0')
    assert o.exit_code is None and dict(o.log)["override"] == "local_policy"
    a = ar(o)
    spec = a[a.index("dmarc=fail ("):]
    comment = spec[len("dmarc=fail ("):spec.index(")")]
    assert "\\" not in comment and '"' not in comment
    assert spec[spec.index(")"):] == ") header.from=example.com policy.dmarc=reject"


@pytest.mark.parametrize("line,hit", [("192.0.2.7", True), ("192.0.2.0/24", True), ("192.0.3.0/24", False),
                                      ("192.0.2.6/31", True), ("192.0.2.4/31", False), ("0.0.0.0/0", True),
                                      ("2001:db8::/32", False), ("# 192.0.2.7", False)])
def test_forwarders_ip_cidr(home, tmp_path, line, hit):
    (home / "control" / "dmarcforwarders").write_text("# trusted\n\n" + line + "\n")
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "RF", "SPFRESULT": "fail"})
    assert (o.exit_code is None) == hit
    if hit:
        assert dict(o.log)["override"] == "trusted_forwarder"
        assert "override=trusted_forwarder: control/dmarcforwarders" in ar(o)


def test_forwarders_ipv6(home, tmp_path):
    (home / "control" / "dmarcforwarders").write_text("2001:db8:1::/48\n")
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "TCPREMOTEIP": "", "TCP6REMOTEIP": "2001:db8:1::5"})
    assert o.exit_code is None and dict(o.log)["ip"] == "2001:db8:1::5"
    o = run(tmp_path, SPOOF, {"DMARCVERIFY": "R", "TCPREMOTEIP": "", "TCP6REMOTEIP": "2001:db8:2::5"})
    assert o.exit_code == exits.REJECT_PERM


def test_forwarders_unreadable_is_config_error(home, tmp_path):
    (home / "control" / "dmarcforwarders").mkdir()
    from qmail_dkim.exits import QmailDkimExit
    with pytest.raises(QmailDkimExit) as e:
        run(tmp_path, SPOOF, {"DMARCVERIFY": "R"})
    assert e.value.code == exits.CONFIG_ERROR


def test_multiple_from_fields(home, tmp_path):
    msg = b"From: a@other.example\n" + SPOOF
    o = run(tmp_path, msg, {"DMARCVERIFY": "R"}, extra={"_dmarc.other.example": "v=DMARC1; p=none"})
    log = dict(o.log)
    assert log["hfrom"] == ["other.example", "example.com"]
    assert o.exit_code == exits.REJECT_PERM and "header.from=example.com" in ar(o)


def test_no_from_is_permerror(home, tmp_path):
    msg = b"Subject: x\n\nbody\n"
    o = run(tmp_path, msg, {"DMARCVERIFY": "P"})
    assert o.exit_code == exits.REJECT_PERM and "dmarc=permerror" in ar(o)


def test_forged_authentication_results_removed(home, tmp_path):
    msg = (b"Authentication-Results: mx.example.net; dmarc=pass header.from=example.com\n" + SPOOF)
    o = run(tmp_path, msg, {"DMARCVERIFY": ""})
    assert len(o.drop) == 1 and dict(o.log)["dmarc"] == "fail"


# ------------------------------------------------------------- HELO

class F:
    def __init__(self, raw):
        self.lname = raw.split(b":", 1)[0].lower()
        self.raw = raw

    def unfolded(self):
        return self.raw.split(b":", 1)[1].replace(b"\n", b"").decode().strip()


@pytest.mark.parametrize("raw,ip,helo", [
    (b"Received: from mx.example.com (HELO mail.example.com) (192.0.2.7)\n  by mx.example.net with SMTP; 2 Dec 2026 08:00:00 -0000",
     "192.0.2.7", "mail.example.com"),
    (b"Received: from mx.example.com (HELO mail.example.com) (info@192.0.2.7)\n  by mx.example.net with SMTP; x",
     "192.0.2.7", "mail.example.com"),
    (b"Received: from mx.example.com (192.0.2.7)\n  by mx.example.net with ESMTPS; x", "192.0.2.7", "mx.example.com"),
    (b"Received: from unknown (192.0.2.7)\n  by mx.example.net with SMTP; x", "192.0.2.7", None),
    (b"Received: from mx.example.com (HELO mail.example.com) (192.0.2.8)\n  by mx with SMTP; x", "192.0.2.7", None),
    (b"Received: from mail.example.com (mx.example.com [192.0.2.7])\n  by localhost ([127.0.0.1])\n  with ESMTP via TCP; x",
     "192.0.2.7", "mail.example.com"),
    (b"Received: from mail.example.com ([192.0.2.7])\n  by localhost ([127.0.0.1])\n  with SMTP via TCP; x",
     "192.0.2.7", "mail.example.com"),
    (b"Received: from mail.example.com ([192.0.2.9])\n  by localhost ([127.0.0.1])\n  with SMTP via TCP; x",
     "192.0.2.7", None),
    (b"Received: from mail.example.com by mx.example.net with SMTP id 1; x", "192.0.2.7", None),
    (b"Received: from x (y [192.0.2.7]) by z; x", "192.0.2.7", None),
    (b"X-Received: from a (HELO b) (192.0.2.7) by c with SMTP; x", "192.0.2.7", None),
])
def test_helo_from_received(raw, ip, helo):
    assert dmarcverify.helo_from_received([F(raw)], ip) == helo


def test_helo_only_from_first_field():
    fields = [F(b"Subject: x"),
              F(b"Received: from a (HELO b) (192.0.2.7)\n  by c with SMTP; x")]
    assert dmarcverify.helo_from_received(fields, "192.0.2.7") is None


def test_null_sender_uses_helo(home, tmp_path):
    msg = b"Received: from mx.example.com (HELO mail.example.com) (192.0.2.7)\n  by mx.example.net with SMTP; x\n" + SPOOF
    o = run(tmp_path, msg, {"DMARCVERIFY": "R", "SPFRESULT": "pass"}, envelope=b"F\0Tu@example.org\0\0")
    log = dict(o.log)
    assert log["helo"] == "mail.example.com" and log["envfrom"] == "<>"
    assert log["spf.domain"] == "mail.example.com" and log["dmarc"] == "pass"
    a = ar(o)
    assert "smtp.helo=mail.example.com" in a and "smtp.mailfrom" not in a


# ------------------------------------------------------------- hostile input

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from tests.profiles import examples  # noqa: E402

_HDR = st.sampled_from([
    b"From: a@example.com\n", b"From: <>\n", b"From: a@[192.0.2.1]\n", b"From: \"x@y\" <@>\n",
    b"From: g: a@example.com, b@other.example;\n", b"From:\n", b"From: a@\xff\xfe.com\n",
    b"From: a@xn--bcher-kva.de\n", b"From: (c) a@EXAMPLE.COM (d)\n",
    b"Received: from x (HELO y) (192.0.2.7)\n  by z with SMTP; d\n",
    b"Received: from y (h [192.0.2.7])\n  by l ([127.0.0.1])\n  with ESMTP via TCP; d\n",
    b"Received: from (HELO) () by with ;\n", b"Received:\n",
    b"Authentication-Results: mx.example.net; dmarc=pass\n", b"Subject: x\n", b" folded\n"])


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_HDR, max_size=6), st.binary(max_size=60),
       st.sampled_from(["", "RQNTPFS", "rqntpfs", "R"]),
       st.sampled_from([None, "pass", "fail", "", "garbage words", "Error"]),
       st.sampled_from(["192.0.2.7", "", "::ffff:192.0.2.7", "bogus", "2001:db8::1"]))
def test_never_a_traceback(home, tmp_path, headers, envelope, letters, spfresult, ip):
    msg = b"".join(headers) + b"\nbody\n"
    env = {"DMARCVERIFY": letters, "TCPREMOTEIP": ip}
    if spfresult is not None:
        env["SPFRESULT"] = spfresult
    o = run(tmp_path, msg, env, envelope=envelope)
    log = dict(o.log)
    assert log["dmarc"] in ("pass", "fail", "none", "temperror", "permerror")
    assert o.exit_code in (None, exits.REJECT_PERM, exits.REJECT_TEMP)
    assert o.prepend.count(b"Authentication-Results:") == 1
    o.prepend.decode("ascii")          # the header we write is ASCII


def test_log_line_carries_an_aggregate_report_row(home, tmp_path):
    """RFC 9990's <record>: row/source_ip, policy_evaluated (disposition,
    dkim, spf, reason), identifiers (header_from, envelope_from), auth_results
    (dkim domain/selector/result, spf domain/result) -- all from the one line."""
    from qmail_dkim import logline
    from tests.logparse import fields
    o = run(tmp_path, dkimpy_sign(MSG), {"DMARCVERIFY": "R", "SPFRESULT": "softfail"},
            envelope=b"Fb@bounce.example.net\0Tu@example.org\0\0")
    f = fields(logline.format_line("verify", o.log + [("exit", 0)]))
    row = {
        "source_ip": f["ip"], "disposition": f["disposition"],
        "policy_evaluated.dkim": f["dmarc.dkim"], "policy_evaluated.spf": f["dmarc.spf"],
        "header_from": f["hfrom"], "envelope_from": f["envfrom"],
        "dkim": list(zip(f["d"].split(","), f["s"].split(","), f["dkim"].split(","))),
        "spf": (f["spf.domain"], f["spf"]), "policy_published": (f["dmarc.domain"], f["dmarc.pub"]),
    }
    assert row == {
        "source_ip": "192.0.2.7", "disposition": "none",
        "policy_evaluated.dkim": "pass", "policy_evaluated.spf": "fail",
        "header_from": "example.com", "envelope_from": "bounce.example.net",
        "dkim": [("example.com", "sel", "pass")], "spf": ("bounce.example.net", "softfail"),
        "policy_published": ("example.com", "p=reject sp=- np=- adkim=r aspf=r t=n psd=u"),
    }
    assert f["dmarc"] == "pass" and f["policy"] == "-"


def test_one_dns_budget_for_the_whole_message(home, tmp_path, blackhole):
    """A DNS server that never answers: DKIM key, SPF and DMARC lookups all
    share the message's budget (3 x DKIMDNSTIMEOUT), through our own client."""
    import time as _time
    from tests.verifyhelp import spool as mkspool
    env = {"DMARCVERIFY": "Rt", "TCPREMOTEIP": "192.0.2.7", "DNSCACHEIP": blackhole.dnscacheip,
           "DKIMDNSTIMEOUT": "0.4", "DKIMAUTHSERVID": "mx.example.net"}
    sp = mkspool(tmp_path, dkimpy_sign(MSG))
    t0 = _time.monotonic()
    try:
        o = verify.run(config.VerifySettings(env), sp, read_envelope=lambda: ENVELOPE)
    finally:
        sp.close()
    elapsed = _time.monotonic() - t0
    log = dict(o.log)
    assert log["dkim"] == ["temperror"] and log["spf"] == "temperror" and log["dmarc"] == "temperror"
    assert o.exit_code == exits.REJECT_TEMP
    assert elapsed < 0.4 * 3 + 0.5, elapsed
