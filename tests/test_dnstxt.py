"""dnstxt: server lists, wire format, statuses, bounds.

Through the in-process fake server of tests/fakedns.py (answers built with
dnspython, so the hand-written decoder is checked against an independent
encoder)."""
import socket
import struct
import time

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import pytest

from qmail_dkim.dns import txt as dnstxt


def txt_response(q, *records, name=None, ad=False):
    r = dns.message.make_response(q)
    name = name or q.question[0].name
    if records:
        rrs = dns.rrset.RRset(name, dns.rdataclass.IN, dns.rdatatype.TXT)
        for rec in records:
            strings = rec if isinstance(rec, (list, tuple)) else [rec]
            rrs.add(dns.rdata.from_text(
                "IN", "TXT", " ".join('"%s"' % s.decode() for s in strings)), 300)
        r.answer.append(rrs)
    if ad:
        r.flags |= dns.flags.AD
    return r


# ------------------------------------------------------------- servers()

@pytest.mark.parametrize("value,want", [
    ("127.0.0.1", [("127.0.0.1", 53)]),
    ("10.0.0.1 10.0.0.2", [("10.0.0.1", 53), ("10.0.0.2", 53)]),
    ("10.0.0.1,10.0.0.2:5353", [("10.0.0.1", 53), ("10.0.0.2", 5353)]),
    ("[::1]:5353", [("::1", 5353)]),
    ("[::1]", [("::1", 53)]),
    ("::1", [("::1", 53)]),
    ("10.0.0.1.10.0.0.2", [("10.0.0.1", 53), ("10.0.0.2", 53)]),
    ("0.0.0.0", [("127.0.0.1", 53)]),
    ("bogus 10.0.0.3", [("10.0.0.3", 53)]),
])
def test_servers_dnscacheip(value, want):
    assert dnstxt.servers(value) == want


def test_servers_resolv_conf(tmp_path, monkeypatch):
    rc = tmp_path / "resolv.conf"
    rc.write_text("# c\nsearch x\nnameserver 192.0.2.1\nnameserver ::1\nnameserver junk\n")
    monkeypatch.setattr(dnstxt, "RESOLV_CONF", str(rc))
    assert dnstxt.servers(None) == [("192.0.2.1", 53), ("::1", 53)]
    # DNSCACHEIP without a usable address falls back, as in djbdns
    assert dnstxt.servers("nonsense") == [("192.0.2.1", 53), ("::1", 53)]
    monkeypatch.setattr(dnstxt, "RESOLV_CONF", str(tmp_path / "none"))
    assert dnstxt.servers(None) == [("127.0.0.1", 53)]


def test_servers_capped():
    value = " ".join("10.0.0.%d" % i for i in range(1, 30))
    assert len(dnstxt.servers(value)) == dnstxt.MAX_SERVERS


@pytest.mark.parametrize("value,want", [("", 5.0), ("2", 2.0), ("0.25", 0.25),
                                        ("x", 5.0), ("-1", 5.0), ("nan", 5.0)])
def test_parse_timeout(value, want):
    assert dnstxt.parse_timeout(value) == want
    assert dnstxt.DnsSettings(timeout=value).timeout == want


def test_encode_name():
    assert dnstxt.encode_name("a.example.com.") == b"\x01a\x07example\x03com\x00"
    assert dnstxt.encode_name(b"s._domainkey.b\xc3\xbccher.example") == \
        b"\x01s\x0a_domainkey\x0dxn--bcher-kva\x07example\x00"
    for bad in ("a..b", "x" * 64 + ".com", ".".join(["abcdefghi"] * 30)):
        with pytest.raises(dnstxt.DnsNameError):
            dnstxt.encode_name(bad)


# ------------------------------------------------------------- lookups

def test_ok_split_strings_and_ad(fake):
    s = fake(lambda q, tcp: txt_response(q, [b"v=DKIM1; ", b"p=abc"], b"other", ad=True))
    a = dnstxt.lookup_txt("sel._domainkey.example.com", s.dns, timeout=2)
    assert a.status == "ok" and a.secure
    assert sorted(a.records) == [b"other", b"v=DKIM1; p=abc"]
    assert [b"v=DKIM1; ", b"p=abc"] in a.strings
    q, _ = s.queries[0]
    assert q.flags & dns.flags.RD and q.flags & dns.flags.AD
    assert q.question[0].rdtype == dns.rdatatype.TXT


def test_nxdomain(fake):
    def h(q, tcp):
        r = dns.message.make_response(q)
        r.set_rcode(dns.rcode.NXDOMAIN)
        return r
    s = fake(h)
    assert dnstxt.lookup_txt("x.example", s.dns, timeout=2).status == "nxdomain"


def test_nodata(fake):
    s = fake(lambda q, tcp: txt_response(q))
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=2)
    assert a.status == "nodata" and a.records == []


@pytest.mark.parametrize("rcode", [dns.rcode.SERVFAIL, dns.rcode.REFUSED, dns.rcode.NOTIMP])
def test_temp_rcodes(fake, rcode):
    def h(q, tcp):
        r = dns.message.make_response(q)
        r.set_rcode(rcode)
        return r
    s = fake(h)
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=2)
    assert a.status == "temp" and dns.rcode.to_text(rcode) in a.error


def test_timeout_bounded(fake):
    s = fake(lambda q, tcp: None)
    t0 = time.monotonic()
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=0.5)
    took = time.monotonic() - t0
    assert a.status == "temp" and "timeout" in a.error
    assert 0.4 < took < 1.0
    assert len(s.queries) == 2           # retried once within the budget


def test_dead_port_fails_fast():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    t0 = time.monotonic()
    a = dnstxt.lookup_txt("x.example", dnstxt.DnsSettings("127.0.0.1:%d" % port), timeout=3)
    assert a.status == "temp"
    assert time.monotonic() - t0 < 1.0      # ICMP port unreachable is seen at once


def test_second_server_answers(fake):
    bad = fake(lambda q, tcp: None)
    good = fake(lambda q, tcp: txt_response(q, b"hello"))
    servers = dnstxt.DnsSettings("127.0.0.1:%d 127.0.0.1:%d" % (bad.port, good.port))
    a = dnstxt.lookup_txt("x.example", servers, timeout=2)
    assert a.status == "ok" and a.records == [b"hello"]


def test_deadline(fake):
    s = fake(lambda q, tcp: None)
    t0 = time.monotonic()
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=5, deadline=time.monotonic() + 0.3)
    assert a.status == "temp" and time.monotonic() - t0 < 0.6
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=5, deadline=time.monotonic() - 1)
    assert a.status == "temp" and "budget" in a.error


def test_truncated_goes_tcp(fake):
    big = [b"p=" + b"A" * 250, b"B" * 250, b"C" * 250]          # over 512 octets
    s = fake(lambda q, tcp: txt_response(q, big))
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=2)
    # the fake answers plain 512-octet UDP only, so this needed TCP
    assert a.status == "ok" and a.records == [b"".join(big)]
    assert [tcp for _, tcp in s.queries] == [False, True]


def test_cname_followed(fake):
    def h(q, tcp):
        r = dns.message.make_response(q)
        qn = q.question[0].name
        target = dns.name.from_text("target.example.net.")
        r.answer.append(dns.rrset.from_text(qn, 300, "IN", "CNAME", "target.example.net."))
        r.answer.append(dns.rrset.from_text(target, 300, "IN", "TXT", '"v=DKIM1; p=x"'))
        r.answer.append(dns.rrset.from_text("unrelated.example.", 300, "IN", "TXT", '"no"'))
        return r
    s = fake(h)
    a = dnstxt.lookup_txt("sel._domainkey.example.com", s.dns, timeout=2)
    assert a.records == [b"v=DKIM1; p=x"]


def test_spoofed_answer_ignored(fake):
    def h(q, tcp):
        wrong = dns.message.make_query("other.example.", "TXT")
        forged = txt_response(wrong, b"forged")
        forged.id = q.id
        good = txt_response(q, b"real")
        return forged.to_wire() if len(s.queries) == 1 else good
    s = fake(h)
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=1)
    # the forged packet (answer to another question) is ignored; the
    # retransmission gets the real answer
    assert a.records == [b"real"]


def test_oversize_records(fake, monkeypatch):
    monkeypatch.setattr(dnstxt, "MAX_TXT_OCTETS", 100)
    s = fake(lambda q, tcp: txt_response(q, [b"x" * 90, b"y" * 20], b"small"))
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=2)
    assert a.status == "ok" and a.records == [b"small"] and a.oversize
    s2 = fake(lambda q, tcp: txt_response(q, [b"x" * 90, b"y" * 20]))
    a = dnstxt.lookup_txt("x.example", s2.dns, timeout=2)
    assert a.status == "nodata" and a.oversize


def test_formerr_retries_without_edns(fake):
    def h(q, tcp):
        r = dns.message.make_response(q)
        if q.edns >= 0:
            r.set_rcode(dns.rcode.FORMERR)
            return r
        return txt_response(q, b"old server")
    s = fake(h)
    assert dnstxt.lookup_txt("x.example", s.dns, timeout=2).records == [b"old server"]


def test_invalid_name_is_permanent():
    a = dnstxt.lookup_txt("a..b", dnstxt.DnsSettings("127.0.0.1:1"), timeout=1)
    assert a.status == "nxdomain" and "invalid name" in a.error


@pytest.mark.parametrize("junk", [b"", b"\x00" * 5, b"\xff" * 40])
def test_garbage_packets_ignored(fake, junk):
    s = fake(lambda q, tcp: junk)
    a = dnstxt.lookup_txt("x.example", s.dns, timeout=0.3)
    assert a.status == "temp"


def test_compression_loop_rejected():
    qid, q = dnstxt.build_query(dnstxt.encode_name("x.example"), qid=7)
    # header + question, then an answer whose owner name points at itself
    msg = struct.pack("!HHHHHH", 7, 0x8180, 1, 1, 0, 0) + q[12:12 + 15]
    off = len(msg)
    msg += struct.pack("!H", 0xC000 | off) + struct.pack("!HHIH", 16, 1, 0, 0)
    with pytest.raises(dnstxt.FormatError):
        dnstxt.parse_response(msg, 7, dnstxt.encode_name("x.example"))
