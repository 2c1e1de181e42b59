"""spf.check and spf.message on in-memory zones: the API the DMARC side uses,
limits, deadline, address forms, macros; parsing units."""
import time

import pytest

from tests import spfsuite
from qmail_dkim.spf import check as spf
from qmail_dkim.spf.message import spf_for_message

ZONE = {
    "example.com": [{"TXT": "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_i.example.com "
                            "-all exp=why.example.com"}],
    "_i.example.com": [{"TXT": "v=spf1 a:mail.example.org ~all"}],
    "mail.example.org": [{"A": "198.51.100.7"}, {"AAAA": "2001:db8:1::7"}],
    "why.example.com": [{"TXT": "%{i} is not one of %{d}'s senders (%{c}, %{v}, %{h})"}],
    "helo.example.net": [{"TXT": "v=spf1 a -all"}, {"A": "203.0.113.5"}],
    "soft.example.com": [{"TXT": "v=spf1 ?a ~all"}],
    "slow.example.com": ["TIMEOUT"],
    "tmp.example.com": [{"TXT": "v=spf1 include:slow.example.com -all"}],
    "many.example.com": [{"TXT": "v=spf1 " + " ".join("a:h%d.example.com" % i for i in range(11))
                          + " -all"}],
    **{"h%d.example.com" % i: [{"A": "192.0.2.%d" % (100 + i)}] for i in range(11)},
    "void.example.com": [{"TXT": "v=spf1 a:n1.example.com a:n2.example.com a:n3.example.com -all"}],
}


def lk(zone=ZONE):
    return spfsuite.MemoryDns(zone)


def dl():
    return time.monotonic() + 5


@pytest.mark.parametrize("ip,want,mech", [
    ("192.0.2.9", "pass", "ip4:192.0.2.0/24"),
    ("::ffff:192.0.2.9", "pass", "ip4:192.0.2.0/24"),          # IPv4-mapped = IPv4
    ("2001:db8:ffff::1", "pass", "ip6:2001:db8::/32"),
    ("198.51.100.7", "pass", "include:_i.example.com"),
    ("198.51.100.8", "fail", "-all"),                          # include gives softfail: no match
    ("203.0.113.1", "fail", "-all"),
])
def test_results(ip, want, mech):
    r = spf.check_host(ip, "example.com", "a@example.com", "h.example", lk(), dl())
    assert (r.result, r.mechanism, r.domain) == (want, mech, "example.com")


def test_explanation_macros():
    r = spf.check_host("203.0.113.1", "example.com", "a@example.com", "h.example", lk(), dl())
    assert r.explanation == "203.0.113.1 is not one of example.com's senders " \
                            "(203.0.113.1, in-addr, h.example)"
    r6 = spf.check_host("2001:db9::1", "example.com", "a@example.com", "h", lk(), dl())
    assert r6.result == "fail"
    assert r6.explanation.startswith("2.0.0.1.0.D.B.9.0.0.0.0.") and "(2001:db9::1, ip6, h)" in r6.explanation


def test_seven_results():
    seen = set()
    cases = [("192.0.2.1", "example.com"), ("203.0.113.1", "example.com"),
             ("203.0.113.1", "soft.example.com"), ("203.0.113.1", "nosuch.example.com"),
             ("203.0.113.1", "tmp.example.com"), ("203.0.113.1", "many.example.com")]
    for ip, d in cases:
        seen.add(spf.check_host(ip, d, "x@" + d, "h", lk(), dl()).result)
    z = dict(ZONE, **{"neutral.example.com": [{"TXT": "v=spf1 ?all"}]})
    seen.add(spf.check_host("1.2.3.4", "neutral.example.com", "x@neutral.example.com", "h",
                            lk(z), dl()).result)
    assert seen == set(spf.RESULTS)


def test_limits_are_counted():
    r = spf.check_host("203.0.113.1", "many.example.com", "x@many.example.com", "h", lk(), dl())
    assert r.result == "permerror" and "10" in r.problem and r.lookups == 11
    r = spf.check_host("203.0.113.1", "void.example.com", "x@void.example.com", "h", lk(), dl())
    assert r.result == "permerror" and "void" in r.problem and r.voids == 3


def test_deadline_is_temperror():
    dns = lk()
    r = spf.check_host("192.0.2.1", "example.com", "a@example.com", "h", dns,
                       time.monotonic() - 0.001)
    assert r.result == "temperror" and "budget" in r.problem and dns.queries == []


def test_lookup_gets_the_deadline():
    seen = []
    inner = lk()

    def lookup(name, qtype, deadline):
        seen.append(deadline)
        return inner(name, qtype, deadline)
    d = dl()
    spf.check_host("198.51.100.7", "example.com", "a@example.com", "h", lookup, d)
    assert len(seen) >= 3 and set(seen) == {d}


def test_bad_client_address():
    r = spf.check_host("not-an-ip", "example.com", "a@example.com", "h", lk(), dl())
    assert r.result == "none" and "client address" in r.problem


def _ar(m):
    """The spf= clause the product writes for this MessageSpf
    (verify/dmarcverify.spf_spec, fed as spf_check feeds it)."""
    from qmail_dkim.verify.dmarcverify import SpfOutcome, spf_spec
    return spf_spec(SpfOutcome(m.result, m.domain, m.smtp_mailfrom or None, m.smtp_helo or None))


def test_message_mailfrom():
    m = spf_for_message("192.0.2.5", "user@Example.COM", "helo.example.net", lk(), dl())
    assert (m.result, m.identity, m.domain, m.smtp_mailfrom, m.smtp_helo) == \
        ("pass", "mailfrom", "example.com", "user@Example.COM", "helo.example.net")
    assert m.helo_result is None
    assert _ar(m) == "spf=pass smtp.mailfrom=user@Example.COM smtp.helo=helo.example.net"


def test_message_null_sender_uses_helo():
    for null in ("", "<>"):
        m = spf_for_message("203.0.113.5", null, "helo.example.net", lk(), dl())
        assert (m.result, m.identity, m.domain, m.smtp_mailfrom) == \
            ("pass", "helo", "helo.example.net", "")
        assert _ar(m) == "spf=pass smtp.helo=helo.example.net"
    m = spf_for_message("203.0.113.6", "", "helo.example.net", lk(), dl())
    assert m.result == "fail"
    m = spf_for_message("203.0.113.6", "", "", lk(), dl())
    assert m.result == "none" and m.domain == ""


def test_message_check_helo():
    m = spf_for_message("203.0.113.5", "a@example.com", "helo.example.net", lk(), dl(),
                        check_helo=True)
    assert m.result == "fail" and m.helo_result.result == "pass"
    m = spf_for_message("203.0.113.5", "a@example.com", "[203.0.113.5]", lk(), dl(),
                        check_helo=True)
    assert m.helo_result is None               # an address literal is no HELO identity


def test_ar_value_quoted():
    m = spf_for_message("192.0.2.5", "Macro Error@example.com", "h.example", lk(), dl())
    assert _ar(m).startswith('spf=%s smtp.mailfrom="Macro Error@example.com" ' % m.result)


@pytest.mark.parametrize("record", [
    "v=spf1 -all moo", "v=spf1 ip4:1.2.3.4/33", "v=spf1 a:%{x}.example.com",
    "v=spf1 exp=%{c}.example.com", "v=spf1 redirect=a.com redirect=b.com", "v=spf1 a:foo",
    "v=spf1 include:", "v=spf1 %{d1r}=x", "v=spf1 ip6:::1/129", "v=spf1 ptr/24",
])
def test_syntax_errors(record):
    with pytest.raises(spf.PermError):
        spf.parse_record(record)


def test_parse_record_terms():
    d, redirect, exp = spf.parse_record("v=spf1 ~a:%{d2}/24//64 mx ?ptr:x.example ip6:::1 "
                                        "redirect=%{d}.r.example exp=e.example foo=bar")
    assert [(t.qualifier, t.name) for t in d] == [("~", "a"), ("+", "mx"), ("?", "ptr"), ("+", "ip6")]
    assert (d[0].cidr4, d[0].cidr6) == (24, 64)
    assert redirect.name == "redirect" and exp.name == "exp"


def test_macro_expansion():
    c = spf._Check("192.0.2.3", "strong-bad@email.example.com", "mx.example.org", lk(), dl(),
                   "example.net")
    exp = lambda s, x=False: c.expand(spf.parse_macro_string(s, x), "email.example.com")  # noqa
    assert exp("%{d2}") == "example.com"
    assert exp("%{dr}") == "com.example.email"
    assert exp("%{lr-}") == "bad.strong"
    assert exp("%{l1r-}") == "strong"
    assert exp("%{ir}.%{v}._spf.%{d2}") == "3.2.0.192.in-addr._spf.example.com"
    assert exp("%{r} %{c}", True) == "example.net 192.0.2.3"
    assert exp("%{S}") == "strong-bad%40email.example.com"
    assert exp("%%%_%-") == "% %20"


def test_domain_truncation():
    assert len(spf._truncate("a" * 60 + "." + ".".join(["b" * 60] * 4) + ".example")) <= 253


def test_select_record():
    assert spf.select_record([b"other", b"v=spf1 -all"]) == "v=spf1 -all"
    assert spf.select_record([b"v=spf10"]) is None
    with pytest.raises(spf.PermError):
        spf.select_record([b"v=spf1 -all", b"V=SPF1 +all"])
    with pytest.raises(spf.PermError):
        spf.select_record([b"v=spf1 a:\xef.example -all"])


# ---------------------------------------------------------------- hostile records

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from tests.profiles import examples  # noqa: E402

_PIECES = st.sampled_from([
    "v=spf1", " ", "  ", "a", "mx", "ptr", "ip4:", "ip6:", "include:", "exists:", "all", "-",
    "~", "?", "+", "redirect=", "exp=", "/", "//", "24", "0", "129", ":", ".", "%{", "}",
    "%%", "%_", "%-", "d", "i", "l", "s", "o", "h", "p", "v", "c", "r", "t", "1", "r",
    "x.example.com", "example.com", "192.0.2.1", "::1", "2001:db8::", "\x00", "\xff", "=",
    "%{d2}", "%{ir}", "%{p}", "%{l1r-}", "%{" + "9" * 5000 + "}", "a" * 70,
])


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_PIECES, max_size=30), st.sampled_from(["192.0.2.1", "2001:db8::1",
                                                        "::ffff:192.0.2.1"]))
def test_any_record_gives_a_result(pieces, ip):
    record = "".join(pieces)
    zone = {"h.example.com": [{"TXT": record}], "x.example.com": [{"A": "192.0.2.1"}],
            "1.2.0.192.in-addr.arpa": [{"PTR": "x.example.com"}]}
    try:
        spf.parse_record(record)
    except spf.PermError:
        pass
    r = spf.check_host(ip, "h.example.com", "u@h.example.com", "x.example.com",
                       spfsuite.MemoryDns(zone), time.monotonic() + 5)
    assert r.result in spf.RESULTS
    assert not r.problem.startswith("internal error"), r.problem


def test_broken_lookup_is_temperror():
    def lookup(name, qtype, deadline):
        raise RuntimeError("boom")
    r = spf.check_host("192.0.2.1", "example.com", "a@example.com", "h", lookup, dl())
    assert r.result == "temperror" and "internal error" in r.problem
    r = spf.check_host(None, "example.com", "a@example.com", "h", lk(), dl())
    assert r.result == "none"


def test_deadline_through_real_client(blackhole):
    """A DNS server that never answers: check_host ends with temperror within
    the caller's absolute deadline, whatever the per-lookup timeout."""
    from qmail_dkim.dns import client
    from qmail_dkim.dns.txt import DnsSettings
    lookup = client.spf_lookup(DnsSettings(blackhole.dnscacheip), timeout=30)
    t0 = time.monotonic()
    r = spf.check_host("192.0.2.1", "example.com", "a@example.com", "h", lookup, t0 + 0.4)
    took = time.monotonic() - t0
    assert r.result == "temperror" and "timeout" in r.problem
    assert 0.3 < took < 0.9
