"""dns.client: the generic lookup (A, AAAA, MX, PTR, TXT) against NSD, each
answer cross-checked with dnspython asking the same server; statuses, TCP
fallback and the deadline through the in-process fake server (tests/fakedns.py)."""
import time

import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

from qmail_dkim.dns import client
from qmail_dkim.dns import txt as dnstxt
from tests.realparts.nsd import NsdServer, zone_text
from tests.realparts.tools import require_tool

RECORDS = [
    "@ IN MX 10 mx1",
    "@ IN MX 20 mx2.example.net.",
    "@ IN TXT \"v=spf1 \" \"-all\"",
    "@ IN A 192.0.2.10",
    "mx1 IN A 192.0.2.1",
    "mx1 IN A 192.0.2.2",
    "mx1 IN AAAA 2001:db8::1",
    "mx1 IN AAAA 2001:db8:0:0:1::ff",
    "alias IN CNAME mx1",
    "alias2 IN CNAME alias",
    "txtonly IN TXT \"hello\"",
    "many IN A " + "\nmany IN A ".join("10.0.%d.%d" % (i // 250, i % 250) for i in range(300)),
    "mapped IN AAAA ::ffff:192.0.2.7",
]
PTR4 = ["10 IN PTR mx1.example.com.", "10 IN PTR other.example.org."]
PTR6 = ["1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2 IN PTR mx1.example.com."]


@pytest.fixture(scope="module")
def ns(tmp_path_factory):
    require_tool("nsd")
    zones = {
        "example.com": zone_text("example.com", RECORDS),
        "2.0.192.in-addr.arpa": zone_text("2.0.192.in-addr.arpa", PTR4),
        "ip6.arpa": zone_text("ip6.arpa", PTR6),
    }
    server = NsdServer(zones, servfail_zones=["broken.test"],
                       workdir=tmp_path_factory.mktemp("nsd-client"))
    server.start()
    yield server
    server.stop()


def _dnspython(ns, name, qtype):
    """What dnspython reads in NSD's answer (CNAMEs followed, order kept)."""
    q = dns.message.make_query(name, qtype)
    r = dns.query.tcp(q, ns.address, port=ns.port, timeout=3)
    rcode = r.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return "nxdomain", []
    if rcode != dns.rcode.NOERROR:
        return "temp", []
    want = dns.rdatatype.from_text(qtype)
    out = []
    for rrset in r.answer:
        if rrset.rdtype != want:
            continue
        for rd in rrset:
            if qtype in ("A", "AAAA"):
                out.append(rd.address)
            elif qtype == "MX":
                out.append((rd.preference, rd.exchange.to_text(omit_final_dot=True).lower()))
            elif qtype == "PTR":
                out.append(rd.target.to_text(omit_final_dot=True).lower())
            elif qtype == "TXT":
                out.append(b"".join(rd.strings))
    return ("ok" if out else "nodata"), out


CASES = [
    ("example.com", "MX"), ("example.com", "TXT"), ("example.com", "A"),
    ("example.com", "AAAA"), ("mx1.example.com", "A"), ("mx1.example.com", "AAAA"),
    ("alias.example.com", "A"), ("alias2.example.com", "AAAA"), ("txtonly.example.com", "A"),
    ("nosuch.example.com", "A"), ("nosuch.example.com", "MX"),
    ("10.2.0.192.in-addr.arpa", "PTR"),
    ("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa", "PTR"),
    ("many.example.com", "A"), ("mapped.example.com", "AAAA"), ("x.broken.test", "A"),
]


@pytest.mark.parametrize("name,qtype", CASES)
def test_lookup_matches_dnspython(ns, name, qtype):
    ours = client.lookup(name, qtype, dnstxt.DnsSettings(ns.dnscacheip), timeout=3)
    status, records = _dnspython(ns, name, qtype)
    assert ours.status == status, ours.error
    assert ours.qtype == qtype
    assert sorted(ours.records) == sorted(records)      # RRset order may rotate
    if status == "ok":
        assert ours.records and not ours.error


def test_values(ns):
    servers = dnstxt.DnsSettings(ns.dnscacheip)
    assert sorted(client.lookup("example.com", "MX", servers, timeout=3).records) == \
        [(10, "mx1.example.com"), (20, "mx2.example.net")]
    assert sorted(client.lookup("mx1.example.com", "AAAA", servers, timeout=3).records) == \
        ["2001:db8::1", "2001:db8::1:0:0:ff"]
    a = client.lookup("example.com", "TXT", servers, timeout=3)
    assert a.records == [b"v=spf1 -all"] and a.strings == [[b"v=spf1 ", b"-all"]]
    many = client.lookup("many.example.com", "A", servers, timeout=3)
    assert many.ok and len(many.records) == 300        # over 512 octets: came by TCP
    assert client.lookup("x.broken.test", "A", servers, timeout=3).status == "temp"
    assert client.lookup("nosuch.example.com", 1, servers, timeout=3).status == "nxdomain"
    assert client.lookup("txtonly.example.com", "MX", servers, timeout=3).status == "nodata"


def test_unknown_type_is_an_error():
    with pytest.raises(ValueError):
        client.lookup("example.com", "HINFOX")


def test_invalid_name_nxdomain():
    a = client.lookup("a..b", "A", dnstxt.DnsSettings("127.0.0.1:1"), timeout=1)
    assert a.status == "nxdomain" and "invalid name" in a.error


def test_deadline_and_timeout(fake):
    s = fake(lambda q, tcp: None)
    t0 = time.monotonic()
    a = client.lookup("x.example", "MX", s.dns, timeout=5, deadline=time.monotonic() + 0.3)
    assert a.status == "temp" and "timeout" in a.error
    assert time.monotonic() - t0 < 0.7
    a = client.lookup("x.example", "A", s.dns, timeout=5, deadline=time.monotonic() - 1)
    assert a.status == "temp" and "budget" in a.error


def test_bad_rdata_tries_next_server(fake):
    def bad(q, tcp):
        r = dns.message.make_response(q)
        r.use_edns(False)
        wire = bytearray(r.to_wire())
        # one A record with 3 octets of RDATA: a format error
        wire[7] = 1
        wire += b"\xc0\x0c" + b"\x00\x01\x00\x01" + b"\x00\x00\x00\x3c" + b"\x00\x03" + b"\x01\x02\x03"
        return bytes(wire)

    def good(q, tcp):
        r = dns.message.make_response(q)
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", "192.0.2.9"))
        return r
    b, g = fake(bad), fake(good)
    servers = dnstxt.DnsSettings("127.0.0.1:%d 127.0.0.1:%d" % (b.port, g.port))
    a = client.lookup("x.example", "A", servers, timeout=2)
    assert a.status == "ok" and a.records == ["192.0.2.9"]
    servers1 = dnstxt.DnsSettings("127.0.0.1:%d" % b.port)
    a = client.lookup("x.example", "A", servers1, timeout=1)
    assert a.status == "temp" and "A RDATA" in a.error


def test_query_type_on_the_wire(fake):
    s = fake(lambda q, tcp: dns.message.make_response(q))
    for t in ("A", "AAAA", "MX", "PTR", "TXT"):
        assert client.lookup("x.example", t, s.dns, timeout=2).status == "nodata"
    assert [dns.rdatatype.to_text(q.question[0].rdtype) for q, _ in s.queries] == \
        ["A", "AAAA", "MX", "PTR", "TXT"]
