"""dkimtestkey against a real DNS server (NSD on 127.0.0.1) with records made
by dknewkey and the usual paste mistakes.

The zone example.com is built once per module from dknewkey's own output (the
BIND lines pasted verbatim) plus hand-made broken records.
"""
import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from qmail_dkim.dns import txt as dnstxt
from qmail_dkim.tools import dkimtestkey as testkey
from tests.realparts.nsd import Blackhole, NsdServer, dead_udp_port, txt_rr, zone_text
from tests.realparts.tools import require_tool

REPO = Path(__file__).resolve().parent.parent


def _env(qh, dnscacheip, **extra):
    e = {k: v for k, v in os.environ.items() if k not in ("QMAILHOME", "CONTROLDIR", "DNSCACHEIP")}
    e.update(QMAILHOME=str(qh), DNSCACHEIP=dnscacheip, PYTHONPATH=str(REPO), DKIMDNSTIMEOUT="3")
    e.update(extra)
    return e


def _cli(prog, env, *args):
    return subprocess.run([sys.executable, str(REPO / "bin" / prog), *args], env=env,
                          capture_output=True, text=True, timeout=120)


def bind_section(out):
    """The BIND part of dknewkey's output, exactly as printed (label comment included)."""
    m = re.search(r"^(; BIND zone file.*?)\n\n", out, re.S | re.M)
    assert m, out
    return m.group(1)


def panel_value(out):
    return re.search(r"^value: (.*)$", out, re.M).group(1)


def pvalue(value):
    return value.split("p=", 1)[1]


def short_rsa_p(bits=512):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    n = (1 << (bits - 1)) | 0x1234567        # not a real modulus: only its size matters here
    pk = rsa.RSAPublicNumbers(65537, n).public_key()
    der = pk.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require_tool("nsd")
    qh = tmp_path_factory.mktemp("qmail")
    (qh / "control").mkdir()
    env0 = _env(qh, "127.0.0.1:1")
    outs = {}
    for args in (["-d", "example.com", "default"], ["-t", "ed25519", "-d", "example.com", "ed"],
                 ["-d", "example.com", "other"], ["fb"], ["-b", "1024", "-d", "example.com", "weak"]):
        r = _cli("dknewkey", env0, *args)
        assert r.returncode == 0, r.stderr
        outs[args[-1]] = r.stdout
    v = panel_value(outs["default"])           # v=DKIM1; k=rsa; h=sha256; p=...
    p = pvalue(v)
    head = v[:v.index("p=")]                   # "v=DKIM1; k=rsa; h=sha256; "
    bind_default = bind_section(outs["default"])
    strings = re.findall(r'"([^"]*)"', bind_default)
    records = [
        bind_default,                           # pasted verbatim
        bind_section(outs["ed"]),
        bind_section(outs["fb"]),               # relative name: loads into example.com
        bind_section(outs["weak"]),
        txt_rr("revoked._domainkey", "v=DKIM1; k=rsa; p="),
        # web panel: the zone file's strings pasted with their quotes
        txt_rr("quotes._domainkey", '" "'.join(strings)),
        txt_rr("quotes2._domainkey", " ".join('"%s"' % s for s in strings)),
        # split over two TXT records
        txt_rr("split._domainkey", head + "p=" + p[:200]),
        txt_rr("split._domainkey", p[200:]),
        # p= repeated in the second string
        'rep._domainkey IN TXT "%sp=%s" "p=%s"' % (head, p[:200], p[200:]),
        # the whole zone line pasted as the value (a panel joins its lines)
        txt_rr("zoneline._domainkey", re.sub(r"\s*\n\s*", " ", bind_default.split("\n", 1)[1])),
        # whitespace inside p=: legal FWS
        txt_rr("ws._domainkey", head + "p=" + p[:200] + " " + p[200:]),
        txt_rr("testing._domainkey", "v=DKIM1; k=rsa; h=sha256; t=y; p=" + p),
        txt_rr("sha1._domainkey", "v=DKIM1; k=rsa; h=sha1; p=" + p),
        txt_rr("short._domainkey", "v=DKIM1; k=rsa; p=" + short_rsa_p()),
        txt_rr("truncated._domainkey", "v=DKIM1; k=rsa; p=" + p[:255 - len("v=DKIM1; k=rsa; p=")]),
        txt_rr("pem._domainkey", "v=DKIM1; k=rsa; p=-----BEGIN PUBLIC KEY-----" + p
               + "-----END PUBLIC KEY-----"),
        txt_rr("syntax._domainkey", "v=DKIM1; k=rsa; p"),
        txt_rr("badv._domainkey", "v=DKIM2; k=rsa; p=" + p),
        txt_rr("multi._domainkey", v),
        txt_rr("multi._domainkey", v.replace("h=sha256;", "h=sha256; t=y;")),   # NSD drops duplicates
        txt_rr("mixed._domainkey", v),
        txt_rr("mixed._domainkey", "google-site-verification=abc"),
        txt_rr("vlast._domainkey", "k=rsa; p=%s; v=DKIM1" % p),
        txt_rr("nov._domainkey", "k=rsa; h=sha256; p=" + p),
        # "default._domainkey.example.com" typed into a panel that appends the domain
        txt_rr("dbl._domainkey.example.com", v),
        "nodata._domainkey IN A 127.0.0.1",
    ]
    zone = zone_text("example.com", records)
    with NsdServer({"example.com": zone}, servfail_zones=["broken.test"]) as ns:
        yield {"qh": qh, "ns": ns, "outs": outs, "value": v, "zone": zone,
               "env": _env(qh, ns.dnscacheip)}


def check(world, selector, *args, domain="example.com", env=None):
    out = io.StringIO()
    rc = testkey.main(["-d", domain, "-s", selector, *args], env=env or world["env"], out=out)
    return rc, out.getvalue()


def keypath(world, selector, domain="example.com"):
    return str(Path(world["qh"]) / "control" / "domainkeys" / domain / selector)


# ------------------------------------------------------------------ the happy path

def test_dknewkey_bind_line_then_dkimtestkey_cli(world):
    """dknewkey's BIND line, pasted verbatim into NSD's zone: key OK and it matches."""
    assert bind_section(world["outs"]["default"]) in world["zone"]
    r = _cli("dkimtestkey", world["env"], "-d", "example.com", "-s", "default", "-v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "dkimtestkey: checking key 'default._domainkey.example.com'" in r.stdout
    assert "matches the private key %s" % keypath(world, "default") in r.stdout
    assert "dkimtestkey: key not secure\n" in r.stdout
    assert r.stdout.endswith("dkimtestkey: key OK\n")
    assert "error" not in r.stdout and "warning" not in r.stdout


def asked(world):
    ip = world["env"]["DNSCACHEIP"]
    return "dkimtestkey: asked %s (DNSCACHEIP); answer from %s\n" % (ip, ip)


def test_quiet_output_is_opendkim_like(world):
    """opendkim-testkey's lines, after the server asked (issue: a cache's
    answer was taken for the authoritative one)."""
    rc, out = check(world, "default")
    assert rc == 0
    assert out == asked(world) + "dkimtestkey: key not secure\ndkimtestkey: key OK\n"


# ------------------------------------------------------------------ the table
#
# One row per record (or key) case: the selector, extra arguments, the exit
# status and the texts the output must hold. In arguments and texts, {key:NAME}
# is the path of the private key dknewkey wrote for selector NAME
# ({key:/NAME} for the fallback key control/domainkeys/NAME) and {value} the
# key record dknewkey printed for "default". Exit 0 must end with "key OK",
# exit 1 must not say it.

CASES = [
    # -- keys and their match
    ("ed25519", "ed", ["-v"], 0, ["key type ed25519", "matches the private key"]),
    ("fallback key found without -k", "fb", ["-v"], 0,
     ["matches the private key {key:/fb}"]),
    ("1024-bit RSA is a warning", "weak", [], 0, ["warning: 1024-bit RSA key"]),
    ("no private key: not compared", "testing", ["-v"], 0, ["not compared"]),
    ("mismatch with another key", "default", ["-k", "{key:other}"], 1,
     ["does not match the private key {key:other}"]),
    ("key type mismatch", "ed", ["-k", "{key:default}"], 1, ["is rsa, the record says k=ed25519"]),
    ("-k names a missing file", "default", ["-k", "/nonexistent/key"], 1,
     ["/nonexistent/key", "No such file"]),
    # -- record problems
    ("revoked", "revoked", [], 1, ["key revoked"]),
    ("NXDOMAIN", "nosuch", [], 1, ["'nosuch._domainkey.example.com' record not found (NXDOMAIN",
                                   "negative caching", "DNSCACHEIP=its-address"]),
    ("no TXT record", "nodata", [], 1, ["has no TXT record"]),
    ("domain typed twice", "dbl", [], 1,
     ["dbl._domainkey.example.com.example.com", "enter only 'dbl._domainkey'"]),
    ("quotes pasted inside p=", "quotes", [], 1,
     ['quote characters (")', "inside p=", "the value meant was probably: {value}\n",
      "(that value parses as a valid key record)"]),
    ("quotes pasted around strings", "quotes2", [], 1,
     ['quote characters (")', "the value meant was probably: {value}\n",
      "(that value parses as a valid key record)"]),
    ("split over two records", "split", [], 1,
     ["split over 2 separate TXT records",
      "joined into one record the pieces give a valid key record: {value}"]),
    ("p= repeated", "rep", [], 1,
     ["p= appears 2 times", "the value meant was probably: {value}\n"]),
    ("whole zone line pasted", "zoneline", [], 1,
     ["whole zone file line", "the value meant was probably: {value}\n"]),
    ("whitespace in p= is legal, with a warning", "ws", ["-k", "{key:default}", "-v"], 0,
     ["warning: whitespace inside p=", "matches the private key"]),
    ("t=y is a warning", "testing", ["-k", "{key:default}"], 0, ["warning: t=y is still set"]),
    ("h=sha1 only", "sha1", [], 1, ["h=sha1 excludes sha256"]),
    ("short key", "short", [], 1, ["512 bits, less than 1024"]),
    ("truncated key", "truncated", [], 1, ["invalid public key", "truncated"]),
    ("PEM pasted into p=", "pem", [], 1, ["PEM block"]),
    ("syntax error", "syntax", [], 1, ["syntax error"]),
    ("v= not DKIM1", "badv", [], 1, ["not DKIM1"]),
    ("two DKIM records", "multi", [], 1, ["2 DKIM key records"]),
    ("other TXT records ignored", "mixed", ["-v", "-k", "{key:default}"], 0,
     ["1 other TXT record at this name ignored"]),
    ("v= not first", "vlast", ["-k", "{key:default}"], 0, ["not the first tag"]),
    ("no v=", "nov", ["-k", "{key:default}"], 0, ["no v=DKIM1"]),
]


# What Python shows of its own values: bytes and dict reprs, OSError's str().
PYTHON_INTERNALS = re.compile(r"""\bb'|\bb"|\[Errno|\{'|Traceback|Error\(""")


def _fill(world, text):
    text = text.replace("{value}", world["value"])
    return re.sub(r"\{key:(/?)([\w.-]+)\}",
                  lambda m: (str(Path(world["qh"]) / "control" / "domainkeys" / m.group(2))
                             if m.group(1) else keypath(world, m.group(2))), text)


@pytest.mark.parametrize("sel,args,rc,texts", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_case(world, sel, args, rc, texts):
    got, out = check(world, sel, *[_fill(world, a) for a in args])
    assert got == rc, out
    assert not PYTHON_INTERNALS.search(out), out     # messages a person reads
    for t in texts:
        assert _fill(world, t) in out
    if rc == 0:
        assert out.endswith("dkimtestkey: key OK\n"), out
    else:
        assert "key OK" not in out, out


def test_mismatch_cli(world):
    r = _cli("dkimtestkey", world["env"], "-d", "example.com", "-s", "default",
             "-k", keypath(world, "other"))
    assert r.returncode == 1
    assert "does not match" in r.stdout


def test_nxdomain_cli(world):
    r = _cli("dkimtestkey", world["env"], "-d", "example.com", "-s", "nosuch")
    assert r.returncode == 1
    assert "record not found" in r.stdout


# ------------------------------------------------------------------ DNS trouble: exit 2

def test_dead_port_is_temporary(world):
    env = dict(world["env"], DNSCACHEIP="127.0.0.1:%d" % dead_udp_port(), DKIMDNSTIMEOUT="2")
    r = _cli("dkimtestkey", env, "-d", "example.com", "-s", "default")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "temporary DNS failure" in r.stdout
    assert "key OK" not in r.stdout


def test_timeout_is_temporary(world):
    with Blackhole() as bh:
        env = dict(world["env"], DNSCACHEIP=bh.dnscacheip, DKIMDNSTIMEOUT="0.5")
        rc, out = check(world, "default", env=env)
    assert rc == 2
    assert "timeout" in out


def test_servfail_is_temporary(world):
    rc, out = check(world, "default", domain="broken.test")
    assert rc == 2
    assert "SERVFAIL" in out


# ------------------------------------------------------------------ DNSSEC

def test_key_secure_only_with_ad_bit(world, monkeypatch):
    real = dnstxt.lookup_txt

    def secure_lookup(name, *args, **kw):
        a = real(name, *args, **kw)
        a.secure = True
        return a

    monkeypatch.setattr(dnstxt, "lookup_txt", secure_lookup)
    rc, out = check(world, "default")
    assert rc == 0
    assert out == asked(world) + "dkimtestkey: key secure\ndkimtestkey: key OK\n"


# ------------------------------------------------------------------ usage

@pytest.mark.parametrize("args", [[], ["-d", "example.com"], ["-s", "x"], ["-d", "a", "-s", "b", "c"],
                                  ["-q"]])
def test_usage(args):
    rc = testkey.main(args, env={}, out=io.StringIO())
    assert rc == 64


@pytest.mark.parametrize("domain,sel", [("a/b", "s"), ("example.com", "a/b"),
                                        ("a" * 60 + "." + "b" * 60 + "." + "c" * 60 + ".com", "s" * 63)])
def test_bad_names(domain, sel):
    out = io.StringIO()
    rc = testkey.main(["-d", domain, "-s", sel], env={"DNSCACHEIP": "127.0.0.1:1"}, out=out)
    assert rc == 1
    assert "error:" in out.getvalue()


# ------------------------------------------------------------------ end to end

def test_new_key_signs_and_verifies_with_mail_dkim(world):
    """dknewkey -> BIND line in NSD -> qmail-dkim signs with the new keys ->
    Perl Mail::DKIM (an independent verifier) fetches the records from NSD: pass.
    Mail::DKIM (bookworm) has no Ed25519: that signature is checked by dkimpy with
    the record as NSD serves it."""
    from tests import qdkim
    from tests.realparts.verifiers import mail_dkim_verify
    require_tool("perl-mail-dkim")
    if not qdkim.QMAIL_DKIM:
        pytest.skip("qmail-dkim not installed in the venv")
    r = qdkim.run(world["qh"], {"DKIMKEY": "control/domainkeys/%/default",
                                "DKIMSIGNEXTRA": "control/domainkeys/%/ed"})
    assert r.rc == 0, r.stderr
    results = mail_dkim_verify(r.msg, world["ns"].port)
    assert results[0] == ("pass", "pass"), results
    assert "ed25519" in results[1][1]            # Mail::DKIM: unsupported algorithm
    import dkim
    from tests.realparts.verifiers import to_crlf

    def dnsfunc(name, timeout=5):
        ans = world["ns"].query(name.decode().rstrip("."), "TXT")
        return b"".join(b"".join(rr.strings) for rrset in ans.answer for rr in rrset)
    d = dkim.DKIM(to_crlf(r.msg))
    assert d.verify(idx=1, dnsfunc=dnsfunc)
    assert d.verify(idx=0, dnsfunc=dnsfunc)


def test_default_key_unreadable_is_a_warning(world, monkeypatch):
    from qmail_dkim.dkim import privkey as keyfile

    def denied(path):
        raise keyfile.KeyFileError(path, "Permission denied")
    monkeypatch.setattr(keyfile, "load_private_key", denied)
    rc, out = check(world, "default")
    assert rc == 0, out
    assert "warning: private key not compared" in out and "Permission denied" in out
    rc, out = check(world, "default", "-k", keypath(world, "default"))
    assert rc == 1
    assert "error: cannot use the private key" in out


def test_k_accepts_dkimpy_seed_and_pkcs1(world, tmp_path):
    from tests.realparts.keys import load_key
    ed = load_key(Path(keypath(world, "ed")).read_bytes())
    (tmp_path / "seed").write_bytes(ed.seed_b64())
    rc, out = check(world, "ed", "-k", str(tmp_path / "seed"))
    assert rc == 0, out
    rsa = load_key(Path(keypath(world, "default")).read_bytes())
    (tmp_path / "pkcs1").write_bytes(rsa.pem_pkcs1())
    rc, out = check(world, "default", "-k", str(tmp_path / "pkcs1"))
    assert rc == 0, out


@pytest.mark.parametrize("value,expect", [
    ("127.0.0.1:%d 10.0.0.300", "DNSCACHEIP entries that are not addresses skipped: 10.0.0.300"),
    ("'127.0.0.1'", "DNSCACHEIP has no usable address ('127.0.0.1'): /etc/resolv.conf used instead"),
])
def test_malformed_dnscacheip_is_named(world, value, expect):
    """A DNSCACHEIP entry that is not an address is skipped; with none left,
    /etc/resolv.conf answers: dkimtestkey says so, and which server it asked."""
    port = world["env"]["DNSCACHEIP"].rsplit(":", 1)[1]
    env = dict(world["env"], DNSCACHEIP=value.replace("%d", port), DKIMDNSTIMEOUT="1")
    rc, out = check(world, "default", env=env)
    assert "dkimtestkey: warning: " + expect in out, out
    assert "dkimtestkey: asked " in out
    if "no usable" in expect:
        assert "(/etc/resolv.conf)" in out or "(the default" in out, out
    else:
        assert "(DNSCACHEIP); answer from 127.0.0.1:%s" % port in out, out
