"""qmail_dkim.dmarc: record parsing, the DNS tree walk, the evaluation
(RFC 9989, written from draft-ietf-dmarc-dmarcbis-41), incl. its Appendix B
examples. DNS is a table here; tests/test_dmarc_oracles.py serves the same
kind of records from NSD and compares with Mail::DMARC and mailauth."""
import time

import pytest

from qmail_dkim.dmarc import record as rec_mod
from qmail_dkim.dmarc.evaluate import evaluate, MAX_AUTHORS
from qmail_dkim.dmarc.walk import Walker, walk_names, DnsTemp


class Ans:
    def __init__(self, status, records=(), error=""):
        self.status = status
        self.records = [r.encode() if isinstance(r, str) else r for r in records]
        self.error = error


class FakeDns:
    """TXT data by owner name; "TEMP" = SERVFAIL. A name exists when it or a
    name below it has data (empty non-terminals exist, RFC 8020)."""

    def __init__(self, data, extra_names=()):
        self.data = {k.lower(): v for k, v in data.items()}
        self.names = set(self.data) | {n.lower() for n in extra_names}
        self.asked = []

    def __call__(self, name):
        name = name.lower()
        self.asked.append(name)
        v = self.data.get(name)
        if v == "TEMP":
            return Ans("temp", error="SERVFAIL")
        if v is not None:
            return Ans("ok", v if isinstance(v, list) else [v])
        if any(n == name or n.endswith("." + name) for n in self.names):
            return Ans("nodata")
        return Ans("nxdomain")


class Spf:
    def __init__(self, result, domain):
        self.result, self.domain = result, domain


def dm(*recs):
    return {"_dmarc." + d: r for d, r in recs}


# ------------------------------------------------------------------ record

def test_record_basic():
    r = rec_mod.parse(b"v=DMARC1; p=reject; sp=quarantine; np=reject; adkim=s; aspf=s; "
                      b"psd=n; t=y; rua=mailto:a@example.com,mailto:b@example.net!10m")
    assert (r.p, r.sp, r.np, r.adkim, r.aspf, r.psd, r.t) == (
        "reject", "quarantine", "reject", "s", "s", "n", "y")
    assert r.rua == ["mailto:a@example.com", "mailto:b@example.net!10m"]
    assert r.usable and not r.bad_policy


@pytest.mark.parametrize("txt", [b"v=DMARC2; p=reject", b"p=reject; v=DMARC1", b"v=dmarc1; p=none",
                                 b"v=spf1 -all", b"", b"DMARC1; p=reject"])
def test_record_not_dmarc(txt):
    assert rec_mod.parse(txt) is None


def test_record_defaults_and_bad_values():
    r = rec_mod.parse("V = DMARC1 ;P=Reject; adkim=x; aspf=; psd=maybe; t=1; pct=10; ri=5; foo")
    assert (r.p, r.adkim, r.aspf, r.psd, r.t) == ("reject", "r", "r", "u", "n")
    assert r.policy("sp") == "reject" and r.policy("np") == "reject"


def test_record_missing_or_bad_policy():
    r = rec_mod.parse("v=DMARC1")
    assert not r.usable and r.bad_policy == ["p= missing"]
    r = rec_mod.parse("v=DMARC1; rua=mailto:r@example.com")
    assert r.usable and r.policy("p") == "none" and r.policy("np") == "none"
    r = rec_mod.parse("v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com")
    assert r.usable and r.policy("p") == "none"      # 4.10.1: act as p=none
    r = rec_mod.parse("v=DMARC1; p=reject; np=bogus")
    assert not r.usable
    r = rec_mod.parse("v=DMARC1; p=reject; rua=not a uri")
    assert r.rua == [] and r.usable


def test_record_first_tag_wins():
    assert rec_mod.parse("v=DMARC1; p=none; p=reject").p == "none"


# ------------------------------------------------------------------ walk

def test_walk_names_rfc_example():
    # section 4.10: eight queries for a.b.c.d.e.f.g.h.i.j.mail.example.com
    assert walk_names("a.b.c.d.e.f.g.h.i.j.mail.example.com") == [
        "a.b.c.d.e.f.g.h.i.j.mail.example.com", "g.h.i.j.mail.example.com",
        "h.i.j.mail.example.com", "i.j.mail.example.com", "j.mail.example.com",
        "mail.example.com", "example.com", "com"]
    assert walk_names("mail.a.b.c.d.e.f.g.example.com")[1] == "c.d.e.f.g.example.com"
    for n in range(1, 30):
        name = ".".join("l%d" % i for i in range(n))
        assert len(walk_names(name)) == min(n, 8)


def test_org_domain_rfc_4_10_2_examples():
    base = {"_dmarc.mail.example.com": "v=DMARC1; p=none", "_dmarc.example.com": "v=DMARC1; p=none"}
    assert Walker(FakeDns(base)).org_domain("a.mail.example.com") == "example.com"
    d = FakeDns({"_dmarc.mail.example.com": "v=DMARC1; p=none; psd=n",
                 "_dmarc.example.com": "v=DMARC1; p=none"})
    assert Walker(d).org_domain("a.mail.example.com") == "mail.example.com"
    assert "_dmarc.example.com" not in d.asked          # the walk stops at psd=n
    d = FakeDns({"_dmarc.com": "v=DMARC1; p=none; psd=y"})
    assert Walker(d).org_domain("a.mail.example.com") == "example.com"
    # no record anywhere: the domain is its own Organizational Domain
    assert Walker(FakeDns({})).org_domain("a.mail.example.com") == "a.mail.example.com"
    # psd=y at the start of the walk: not a PSD for itself
    d = FakeDns({"_dmarc.bank.example": "v=DMARC1; p=reject; psd=y"})
    assert Walker(d).org_domain("bank.example") == "bank.example"


def test_walk_multiple_records_discarded():
    d = FakeDns({"_dmarc.mail.example.com": ["v=DMARC1; p=reject", "v=DMARC1; p=none"],
                 "_dmarc.example.com": ["v=DMARC1; p=quarantine", "v=spf1 -all"]})
    dom, r = Walker(d).policy_record("mail.example.com")
    assert dom == "example.com" and r.p == "quarantine"


def test_walk_query_cache_and_bound():
    d = FakeDns({})
    w = Walker(d)
    long = ".".join("x%d" % i for i in range(40)) + ".example.com"
    assert w.policy_record(long) is None
    assert w.queries == 8 and len(d.asked) == 8
    w.org_domain(long)
    assert w.queries == 8                               # cached


def test_walk_deadline():
    w = Walker(FakeDns({}), deadline=time.monotonic() - 1)
    with pytest.raises(DnsTemp):
        w.policy_record("example.com")


# ------------------------------------------------------------------ evaluate

def test_b_1_1_spf_alignment():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject"),))
    # Example 1: strict alignment
    r = evaluate(["example.com"], Spf("pass", "example.com"), [], zone)
    assert r.result == "pass" and r.spf_aligned
    # Example 2: relaxed alignment
    r = evaluate(["example.com"], Spf("pass", "child.example.com"), [], zone)
    assert r.result == "pass" and r.spf_aligned
    # Example 3: no alignment (From child.example.com, MAIL FROM example.net)
    r = evaluate(["child.example.com"], Spf("pass", "example.net"), [], zone)
    assert r.result == "fail" and r.policy == "reject" and r.source == "sp"
    # strict aspf: relaxed example 2 no longer aligns
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject; aspf=s"),))
    r = evaluate(["example.com"], Spf("pass", "child.example.com"), [], zone)
    assert r.result == "fail" and r.policy == "reject" and r.source == "p"


def test_b_1_2_dkim_alignment():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=quarantine"),))
    r = evaluate(["example.com"], None, [("pass", "example.com", "s")], zone)
    assert r.result == "pass" and r.dkim_aligned == ["example.com"]
    r = evaluate(["child.example.com"], None, [("pass", "example.com", "s")], zone)
    assert r.result == "pass"
    r = evaluate(["child.example.com"], None, [("pass", "example.net", "s")], zone)
    assert r.result == "fail" and r.policy == "quarantine"
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=quarantine; adkim=s"),))
    r = evaluate(["child.example.com"], None, [("pass", "example.com", "s")], zone)
    assert r.result == "fail"


def test_dkim_any_passing_signature_aligns():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject; adkim=s"),))
    sigs = [("pass", "esp.example.net", "a"), ("fail", "example.com", "b"),
            ("pass", "mail.example.com", "c"), ("pass", "example.com", "d")]
    r = evaluate(["example.com"], Spf("fail", "example.com"), sigs, zone)
    assert r.result == "pass" and r.dkim_aligned == ["example.com"]
    # a failing signature never aligns
    r = evaluate(["example.com"], None, sigs[:3], zone)
    assert r.result == "fail"


def test_b_2_5_testing_mode():
    zone = FakeDns(dm(("test.example.com", "v=DMARC1; p=quarantine; "
                       "rua=mailto:dmarc-feedback@example.com,mailto:tld-test@thirdparty.example.net; t=y"),
                      ("example.com", "v=DMARC1; p=none")))
    r = evaluate(["test.example.com"], Spf("pass", "example.net"), [], zone)
    assert r.result == "fail" and r.published == "quarantine" and r.testing and r.policy == "none"
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject; t=y"),))
    r = evaluate(["example.com"], None, [], zone)
    assert r.published == "reject" and r.policy == "quarantine"


def test_b_3_1_mail_receiver_example():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject; aspf=r; rua=mailto:dmarc-feedback@example.com"),))
    r = evaluate(["example.com"], Spf("pass", "mail.example.com"), [("pass", "example.com", "x")], zone)
    assert r.result == "pass" and r.spf_aligned and r.dkim_aligned == ["example.com"]


def test_b_4_1_simple_org_and_policy():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject"),
                      ("signing.example.com", "v=DMARC1; p=none")))
    r = evaluate(["example.com"], Spf("fail", "example.com"), [("pass", "signing.example.com", "s")], zone)
    assert r.result == "pass" and r.dkim_aligned == ["signing.example.com"]
    assert r.policy_domain == "example.com"
    assert set(zone.asked) <= {"_dmarc.example.com", "_dmarc.com", "_dmarc.signing.example.com"}


def test_b_4_2_deep_tree_walk():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject"),
                      ("signing.example.com", "v=DMARC1; p=none")))
    author = "a.b.c.d.e.f.g.h.i.j.k.example.com"
    r = evaluate([author], Spf("pass", "example.com"), [("pass", "signing.example.com", "s")], zone)
    assert r.result == "pass" and r.spf_aligned and r.dkim_aligned
    assert r.policy_domain == "example.com"
    assert zone.asked[:8] == ["_dmarc." + n for n in [
        author, "g.h.i.j.k.example.com", "h.i.j.k.example.com", "i.j.k.example.com",
        "j.k.example.com", "k.example.com", "example.com", "com"]]
    # the same message failing: the policy is example.com's sp (= p here), subdomain
    r = evaluate([author], Spf("fail", "example.com"), [], zone)
    assert r.result == "fail" and r.source == "sp" and r.policy == "reject"


def test_b_4_3_psd():
    zone = FakeDns(dm(("bank.example", "v=DMARC1; p=reject; psd=y"),
                      ("giant.bank.example", "v=DMARC1; p=quarantine")))
    r = evaluate(["giant.bank.example"], Spf("pass", "mail.giant.bank.example"),
                 [("pass", "mail.mega.bank.example", "s")], zone)
    assert r.result == "pass" and r.spf_aligned and r.dkim_aligned == []
    w = Walker(zone)
    assert w.org_domain("giant.bank.example") == "giant.bank.example"
    assert w.org_domain("mail.giant.bank.example") == "giant.bank.example"
    assert w.org_domain("mail.mega.bank.example") == "mega.bank.example"
    # failing: policy domain giant.bank.example, its p
    r = evaluate(["giant.bank.example"], None, [("pass", "mail.mega.bank.example", "s")], zone)
    assert r.result == "fail" and r.policy_domain == "giant.bank.example" and r.policy == "quarantine"


def test_psd_policy_for_unregistered_org():
    # no record at the org domain: the PSD's record applies, sp / np by existence
    zone = FakeDns(dm(("bank.example", "v=DMARC1; p=none; sp=quarantine; np=reject; psd=y"),),
                   extra_names=["real.bank.example"])
    r = evaluate(["real.bank.example"], None, [], zone)
    assert r.result == "fail" and r.policy_domain == "bank.example" and r.source == "sp"
    assert r.policy == "quarantine"
    r = evaluate(["nosuch.bank.example"], None, [], zone)
    assert r.result == "fail" and r.source == "np" and r.policy == "reject"
    # PSD policy is not used when the org domain publishes a record
    zone.data["_dmarc.real.bank.example"] = "v=DMARC1; p=none"
    zone.names.add("_dmarc.real.bank.example")
    r = evaluate(["real.bank.example"], None, [], zone)
    assert r.policy_domain == "real.bank.example" and r.policy == "none"


def test_np_nonexistent_subdomain():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=none; sp=quarantine; np=reject"),),
                   extra_names=["www.example.com", "deep.sub.example.com"])
    assert evaluate(["example.com"], None, [], zone).policy == "none"
    r = evaluate(["www.example.com"], None, [], zone)
    assert (r.source, r.policy) == ("sp", "quarantine")
    r = evaluate(["sub.example.com"], None, [], zone)       # empty non-terminal exists
    assert (r.source, r.policy) == ("sp", "quarantine")
    r = evaluate(["ghost.example.com"], None, [], zone)
    assert (r.source, r.policy) == ("np", "reject")
    # no np=: sp applies to non-existent subdomains too, and no existence query
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=none; sp=quarantine"),))
    r = evaluate(["ghost.example.com"], None, [], zone)
    assert (r.source, r.policy) == ("sp", "quarantine") and "ghost.example.com" not in zone.asked
    # neither: p
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject"),))
    assert evaluate(["ghost.example.com"], None, [], zone).policy == "reject"


def test_none_and_permerror():
    assert evaluate(["example.com"], None, [], FakeDns({})).result == "none"
    r = evaluate(["example.com"], None, [], FakeDns(dm(("example.com", "v=DMARC1; p=bogus"),)))
    assert r.result == "permerror" and "p=bogus" in r.reason
    r = evaluate(["example.com"], None, [],
                 FakeDns(dm(("example.com", ["v=DMARC1; p=reject", "v=DMARC1; p=reject"]),)))
    assert r.result == "none" and "several" in r.reason
    assert evaluate([], None, [], FakeDns({})).result == "permerror"
    many = ["d%d.example" % i for i in range(MAX_AUTHORS + 1)]
    assert evaluate(many, None, [], FakeDns({})).result == "permerror"


def test_temperror():
    zone = FakeDns({"_dmarc.example.com": "TEMP"})
    r = evaluate(["example.com"], None, [], zone)
    assert r.result == "temperror"
    # the org walk of an identifier times out while nothing else aligns
    zone = FakeDns({"_dmarc.example.com": "v=DMARC1; p=reject", "_dmarc.mail.example.com": "TEMP"})
    r = evaluate(["example.com"], None, [("pass", "mail.example.com", "s")], zone)
    assert r.result == "temperror"
    # ... but a strict-identical identifier still passes
    r = evaluate(["example.com"], None, [("pass", "mail.example.com", "s"), ("pass", "example.com", "t")], zone)
    assert r.result == "pass"
    # a signature that would align ended in temperror: not fail
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject"),))
    r = evaluate(["example.com"], None, [("temperror", "example.com", "s")], zone)
    assert r.result == "temperror"
    r = evaluate(["example.com"], Spf("temperror", "example.com"), [("temperror", "other.example", "s")], zone)
    assert r.result == "temperror"
    r = evaluate(["example.com"], None, [("temperror", "other.example", "s")], zone)
    assert r.result == "fail"
    # np existence query fails
    zone = FakeDns({"_dmarc.example.com": "v=DMARC1; p=none; np=reject", "ghost.example.com": "TEMP"})
    assert evaluate(["ghost.example.com"], None, [], zone).result == "temperror"


def test_multiple_author_domains_strictest_fail():
    zone = FakeDns(dm(("a.example", "v=DMARC1; p=quarantine"), ("b.example", "v=DMARC1; p=reject"),
                      ("c.example", "v=DMARC1; p=none")))
    r = evaluate(["a.example", "b.example", "c.example"], None, [("pass", "a.example", "s")], zone)
    assert r.result == "fail" and r.domain == "b.example" and r.policy == "reject"
    assert [x.result for x in r.per_author] == ["pass", "fail", "fail"]
    r = evaluate(["a.example", "A.example."], None, [("pass", "a.example", "s")], zone)
    assert r.result == "pass" and r.authors == ["a.example"]
    r = evaluate(["a.example", "nodmarc.example"], None, [("pass", "a.example", "s")], zone)
    assert r.result == "pass"


def test_case_insensitive_identifiers():
    zone = FakeDns(dm(("example.com", "v=DMARC1; p=reject; adkim=s; aspf=s"),))
    r = evaluate(["example.com"], Spf("pass", "Example.COM."), [], zone)
    assert r.result == "pass"


def test_author_not_a_domain_name():
    zone = FakeDns({})
    for bad in ("[192.0.2.1]", "exa mple.com", "a..b", "-x.example"):
        r = evaluate([bad], None, [], zone)
        assert r.result == "permerror" and "Author Domain" in r.reason
    assert zone.asked == []
    # underscores are not host-name characters but DNS allows them
    assert evaluate(["_x.example.com"], None, [], zone).result == "none"


# ------------------------------------------------------------------ hostile input

from hypothesis import given, settings, strategies as st  # noqa: E402
from tests.profiles import examples  # noqa: E402

_RECORD_PARTS = st.sampled_from(["v=DMARC1", "v=DMARC2", "p=reject", "p=quarantine", "p=none",
                                 "p=bogus", "sp=reject", "np=quarantine", "np=", "adkim=s",
                                 "aspf=x", "psd=y", "psd=n", "psd=u", "t=y", "rua=mailto:a@b",
                                 "rua=", "=", ";", "", " ", "v", "p", "\x00", "é=ü"])
_NAMES = st.sampled_from(["example.com", "a.example.com", "b.a.example.com", "com", "example.net",
                          "x.y.z.w.v.u.t.s.r.example.com"])


@settings(max_examples=examples(300), deadline=None)
@given(st.dictionaries(_NAMES, st.lists(st.lists(_RECORD_PARTS, max_size=6).map("; ".join),
                                        max_size=3) | st.just("TEMP"), max_size=6),
       st.lists(_NAMES, min_size=0, max_size=5),
       st.sampled_from([None, ("pass", "example.com"), ("fail", "a.example.com"),
                        ("temperror", "example.net"), ("pass", "")]),
       st.lists(st.tuples(st.sampled_from(["pass", "fail", "temperror", "none"]), _NAMES),
                max_size=4))
def test_evaluate_never_raises(records, authors, spf, sigs):
    zone = FakeDns({"_dmarc." + k: v for k, v in records.items()})
    r = evaluate(authors, Spf(*spf) if spf else None, [(res, d, "s") for res, d in sigs], zone)
    assert r.result in ("pass", "fail", "none", "temperror", "permerror")
    if r.result == "fail":
        assert r.policy in ("none", "quarantine", "reject")
    # the bound: at most 8 queries per walk, walks for the authors and the identifiers
    assert r.queries <= 8 * (len(set(authors)) + len(sigs) + 1) + len(set(authors))


@settings(max_examples=examples(300), deadline=None)
@given(st.text(max_size=200))
def test_record_parse_never_raises(text):
    r = rec_mod.parse(text)
    assert r is None or r.p in (None, "none", "quarantine", "reject")
