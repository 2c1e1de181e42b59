"""qmail_dkim.tools.zonetext: the three renderings of a DKIM key record.

Real parts: the BIND line is loaded by NSD and read back with a DNS query; the
tinydns line is compiled by tinydns-data and read back with tinydns-get.
"""
import base64
import re
import shutil
import subprocess

import pytest

from qmail_dkim.tools import zonetext as dnsrecord
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key
from tests.realparts.nsd import NsdServer, zone_text
from tests.realparts.tools import find_tool, require_tool


def _value(bits=2048, testing=False):
    k = cached_rsa_key(bits)
    return dnsrecord.record_value("rsa", k.public_b64(), testing)


# ------------------------------------------------------------------ value

def test_rsa_value_has_h_sha256_and_order():
    v = dnsrecord.record_value("rsa", "QUJD")
    assert v == "v=DKIM1; k=rsa; h=sha256; p=QUJD"


def test_ed25519_value():
    k = cached_ed25519_key()
    v = dnsrecord.record_value("ed25519", k.public_b64())
    assert v.startswith("v=DKIM1; k=ed25519; p=")
    assert len(base64.b64decode(v.split("p=")[1])) == 32


def test_testing_flag():
    assert "; t=y; p=" in dnsrecord.record_value("rsa", "QUJD", testing=True)


def test_unknown_kind():
    with pytest.raises(ValueError):
        dnsrecord.record_value("dsa", "QUJD")


# ------------------------------------------------------------------ splitting

@pytest.mark.parametrize("bits", [1024, 2048, 4096])
def test_split_at_most_255_and_joins_back(bits):
    v = _value(bits).encode()
    parts = dnsrecord.split_strings(v)
    assert all(1 <= len(p) <= 255 for p in parts)
    assert b"".join(parts) == v
    if len(v) <= 255:               # 1024 bits: one string
        assert parts == [v]
    else:
        assert parts[0] == b"v=DKIM1; k=rsa; h=sha256; "
        assert parts[1].startswith(b"p=")


def test_split_without_p_tag_or_long_prefix():
    assert dnsrecord.split_strings(b"a" * 600) == [b"a" * 255, b"a" * 255, b"a" * 90]
    long_prefix = b"n=" + b"x" * 300 + b"; p=QUJD"
    parts = dnsrecord.split_strings(long_prefix)
    assert all(len(p) <= 255 for p in parts) and b"".join(parts) == long_prefix
    assert dnsrecord.split_strings(b"") == [b""]
    assert dnsrecord.split_strings(b"v=DKIM1; p=") == [b"v=DKIM1; p="]
    # "p=" inside another tag's value is not a split point
    assert dnsrecord.split_strings(b"n=ap=1") == [b"n=ap=1"]


def test_split_custom_limit():
    parts = dnsrecord.split_strings("v=DKIM1; p=ABCDEFGH", limit=4)
    assert all(len(p) <= 4 for p in parts)
    assert b"".join(parts) == b"v=DKIM1; p=ABCDEFGH"
    assert dnsrecord.split_strings("v=1; p=ABCDEFGHIJ", limit=8) == \
        [b"v=1; ", b"p=ABCDEF", b"GHIJ"]


# ------------------------------------------------------------------ BIND

def test_bind_line_shape():
    v = _value()
    line = dnsrecord.bind_line("sel._domainkey.example.com", v)
    assert line.startswith("sel._domainkey.example.com.\tIN\tTXT\t( ")
    assert line.endswith(" )")
    strings = re.findall(r'"([^"]*)"', line)
    assert "".join(strings) == v
    assert all(len(s) <= 255 for s in strings)
    # continuation lines are indented, so they are inside the parentheses
    for l in line.splitlines()[1:]:
        assert l.startswith("\t")


def test_bind_line_relative_and_short():
    line = dnsrecord.bind_line("sel._domainkey", "v=DKIM1; p=")
    assert line == 'sel._domainkey\tIN\tTXT\t"v=DKIM1; p="'
    assert dnsrecord.bind_line("x._domainkey.example.com.", "a", ttl=300) == \
        'x._domainkey.example.com.\t300\tIN\tTXT\t"a"'


def test_bind_quoting_escapes():
    assert dnsrecord._bind_quote(b'a"b\\c\x01\xff') == '"a\\"b\\\\c\\001\\255"'


# ------------------------------------------------------------------ tinydns

def _tinydns_unescape(s):
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), s.encode())


def _wire_strings(rdata):
    out, i = [], 0
    while i < len(rdata):
        n = rdata[i]
        out.append(rdata[i + 1:i + 1 + n])
        i += 1 + n
    assert i == len(rdata)
    return out


def test_tinydns_line_shape():
    v = _value()
    line = dnsrecord.tinydns_line("sel._domainkey.example.com.", v)
    m = re.fullmatch(r":sel\._domainkey\.example\.com:16:([^:]*):3600", line)
    assert m, line
    assert ":" not in m.group(1) and " " not in m.group(1)
    strings = _wire_strings(_tinydns_unescape(m.group(1)))
    assert b"".join(strings) == v.encode()
    assert all(len(s) <= 255 for s in strings)


def test_tinydns_escapes_colon_and_backslash():
    rd = dnsrecord.tinydns_rdata(b"a:b\\c")
    assert rd == "\\005a\\072b\\134c"


# ------------------------------------------------------------------ render_all

def test_render_all_labels_and_panel_value():
    v = _value()
    text = dnsrecord.render_all("sel", "example.com", v, comment="test")
    assert text.startswith("; test\n; BIND zone file")
    assert "\nname:  sel._domainkey.example.com\n" in text
    assert "\nvalue: %s\n" % v in text
    assert "\n# tinydns-data" in text
    assert re.search(r"^:sel\._domainkey\.example\.com:16:", text, re.M)


def test_render_all_fallback_key():
    text = dnsrecord.render_all("sel", None, "v=DKIM1; p=QUJD")
    assert re.search(r"^sel\._domainkey\tIN\tTXT\t", text, re.M)
    assert re.search(r"^:sel\._domainkey\.DOMAIN:16:", text, re.M)


def test_check_name():
    assert dnsrecord.check_name("default")
    assert dnsrecord.check_name("s2024.mail_1")
    assert not dnsrecord.check_name("a/b")
    assert not dnsrecord.check_name("..")
    assert not dnsrecord.check_name("")
    assert not dnsrecord.check_name("-x")
    assert not dnsrecord.check_name("a" * 64)


# ------------------------------------------------------------------ real parts

@pytest.mark.parametrize("bits", [1024, 2048, 4096])
def test_bind_line_loads_into_nsd(bits):
    require_tool("nsd")
    v = _value(bits)
    abs_line = dnsrecord.bind_line("abs._domainkey.example.com", v)
    rel_line = dnsrecord.bind_line("rel._domainkey", v)
    with NsdServer({"example.com": zone_text("example.com", [abs_line, rel_line])}) as ns:
        for sel in ("abs", "rel"):
            r = ns.query("%s._domainkey.example.com" % sel, "TXT")
            assert r.rcode() == 0
            rrs = [rr for rrset in r.answer for rr in rrset]
            assert len(rrs) == 1
            assert b"".join(rrs[0].strings) == v.encode()
            assert all(len(s) <= 255 for s in rrs[0].strings)


@pytest.mark.parametrize("kind", ["rsa2048", "rsa4096", "ed25519"])
def test_tinydns_line_compiles_and_reads_back(tmp_path, kind):
    require_tool("tinydns-data", "tinydns-get")
    if kind == "ed25519":
        v = dnsrecord.record_value("ed25519", cached_ed25519_key().public_b64())
    else:
        v = _value(int(kind[3:]))
    name = "sel._domainkey.example.com"
    (tmp_path / "data").write_text(".example.com:127.0.0.1:a:259200\n"
                                   + dnsrecord.tinydns_line(name, v) + "\n")
    r = subprocess.run([find_tool("tinydns-data")], cwd=tmp_path, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([find_tool("tinydns-get"), "16", name], cwd=tmp_path,
                       capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    out = r.stdout.decode()
    assert "noerror" in out
    m = re.search(r"^answer: %s 3600 16 (\S+)$" % re.escape(name), out, re.M)
    assert m, out
    strings = _wire_strings(_tinydns_unescape(m.group(1)))
    assert b"".join(strings) == v.encode()
    assert all(len(s) <= 255 for s in strings)
