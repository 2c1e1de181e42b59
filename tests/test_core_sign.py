"""Pure core of sign mode: mode, From domain, domain syntax, % rule, dkimkeys,
options, header set, body canonicalization, key files, signature header."""
import base64
import hashlib
import random

import pytest

from qmail_dkim import config, mode
from qmail_dkim.dns import names as domainname
from qmail_dkim.dkim import fromaddr
from qmail_dkim.sign import headers as headerset
from qmail_dkim.dkim import privkey as keyfile
from qmail_dkim.sign import keypath
from qmail_dkim.sign import options as signopts
from qmail_dkim.dkim.bodyhash import BodyHasher
from qmail_dkim.dkim.message import parse_header
from tests.qdkim import spool_bytes
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key


# -- mode (qmail-dkim(8), MODES)
@pytest.mark.parametrize("env,expected", [
    ({"DKIMSIGN": "a/%/k", "DKIMKEY": "b"}, ("sign", "a/%/k")),
    ({"DKIMKEY": "b/k"}, ("sign", "b/k")),
    ({"DKIMKEY": ""}, ("sign", mode.DEFAULT_KEY)),
    ({"DKIMVERIFY": "FGH"}, ("verify", "FGH")),
    ({"DKIMVERIFY": "FGH", "RELAYCLIENT": ""}, ("verify", "FGH")),
    ({"DKIMVERIFY": "FGH", "RELAYCLIENT": "", "RELAYCLIENT_NODKIMVERIFY": ""}, ("sign", mode.DEFAULT_KEY)),
    ({"DKIMVERIFY": "FGH", "AUTHINFO": "x", "RELAYCLIENT_NODKIMVERIFY": ""}, ("sign", mode.DEFAULT_KEY)),
    ({"DKIMVERIFY": "FGH", "RELAYCLIENT_NODKIMVERIFY": ""}, ("verify", "FGH")),
    ({"RELAYCLIENT": ""}, ("sign", mode.DEFAULT_KEY)),
    ({"AUTHINFO": "joe"}, ("sign", mode.DEFAULT_KEY)),
    ({}, ("verify", "")),
])
def test_mode(env, expected):
    assert mode.select(env) == expected


# -- From domain
@pytest.mark.parametrize("value,domain", [
    ("a@Example.COM", "example.com"),
    ('"Doe, John" <john@ex.org>', "ex.org"),
    ("John (comment@x.y) <j@z.com> (c)", "z.com"),
    ("Team: a@one.com, b@two.com;", "one.com"),
    ("=?UTF-8?B?5bGx55Sw?= <y@\u65e5\u672c.jp>", "xn--wgv71a.jp"),
    ('"a@b"@real.net', "real.net"),
    ("<@route.com:u@dst.com>", "dst.com"),
    ("Name <x @ sub . ex . com>", "sub.ex.com"),
    ('"quoted \\" <fake@evil.com>" <good@ok.com>', "ok.com"),
    ("first@one.org, second@two.org", "one.org"),
])
def test_from_domain(value, domain):
    assert fromaddr.domain_of(value) == (domain, None)


@pytest.mark.parametrize("value", ["undisclosed-recipients:;", "bob", "", "<>"])
def test_from_without_address(value):
    d, reason = fromaddr.domain_of(value)
    assert d is None and reason


def test_from_header_first_field_folded():
    fields, _ = parse_header(b"To: x@y.z\nFrom: Joe\n <joe@Folded.Example>\nFrom: other@o.org\n\nbody\n")
    assert fromaddr.from_domain(fields) == ("folded.example", None)
    fields, _ = parse_header(b"To: x@y.z\n\nbody\n")
    assert fromaddr.from_domain(fields) == (None, "no From: header")


# -- domain syntax before a path is built
@pytest.mark.parametrize("dom", ["example.com", "a-b.c0.example", "xn--wgv71a.jp", "localhost"])
def test_domain_ok(dom):
    assert domainname.check(dom) is None


@pytest.mark.parametrize("dom", ["..", "a..b", "a/b", "../etc", ".example.com", "ex\0ample.com",
                                 "-a.com", "a-.com", "a_b.com", "[1.2.3.4]", "x" * 64 + ".com",
                                 ("a" * 60 + ".") * 5 + "com", "", "ex ample.com", "\u00e9.com"])
def test_domain_rejected(dom):
    assert domainname.check(dom)


def test_parents_never_single_label():
    assert domainname.parents("a.b.example.com") == ["b.example.com", "example.com"]
    assert domainname.parents("example.com") == []


# -- the % rule
def test_keypath_direct_parent_fallback():
    have = {"control/domainkeys/example.com/default"}
    r = keypath.resolve("control/domainkeys/%/default", "a.b.example.com", have.__contains__)
    assert (r.path, r.domain, r.selector) == ("control/domainkeys/example.com/default", "example.com", "default")
    assert r.tried == ["control/domainkeys/a.b.example.com/default",
                       "control/domainkeys/b.example.com/default",
                       "control/domainkeys/example.com/default"]
    have = {"control/domainkeys//default"}
    r = keypath.resolve("control/domainkeys/%/default", "other.org", have.__contains__)
    assert (r.path, r.domain, r.selector) == ("control/domainkeys//default", "other.org", "default")
    r = keypath.resolve("control/domainkeys/%/default", "other.org", set().__contains__)
    assert r.path is None and not r.missing_fixed
    assert r.tried == ["control/domainkeys/other.org/default", "control/domainkeys//default"]


def test_keypath_every_percent_replaced():
    have = {"k/example.com/example.com.key"}
    r = keypath.resolve("k/%/%.key", "example.com", have.__contains__)
    assert r.path == "k/example.com/example.com.key" and r.selector == "example.com.key"


def test_keypath_without_percent():
    r = keypath.resolve("control/domainkeys/sel2024", "x.org", {"control/domainkeys/sel2024"}.__contains__)
    assert (r.path, r.domain, r.selector) == ("control/domainkeys/sel2024", "x.org", "sel2024")
    r = keypath.resolve("control/domainkeys/missing", "x.org", set().__contains__)
    assert r.missing_fixed and r.path is None


def test_file_exists_treats_permission_trouble_as_existing(tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "k").write_text("x")
    assert keypath.file_exists(str(d / "k"))
    assert not keypath.file_exists(str(d))            # a directory is not a key
    assert not keypath.file_exists(str(d / "nope"))


# -- control/dkimkeys
def test_dkimkeys_parse_and_match():
    rules = config.parse_dkimkeys("# c\n\nexample.com:k/ex:DKIMSIGNOPTIONS=-z 4,DKIMEXPIRE=\n"
                           "*.example.org:k/%/sub\n*:k/any\n")
    assert config.match_dkimkeys(rules, "Example.COM") == ("k/ex", {"DKIMSIGNOPTIONS": "-z 4", "DKIMEXPIRE": ""})
    assert config.match_dkimkeys(rules, "a.example.org") == ("k/%/sub", {})
    assert config.match_dkimkeys(rules, "example.org") == ("k/any", {})     # *.x is subdomains only
    assert config.match_dkimkeys(config.parse_dkimkeys("a.com:k\n"), "b.com") is None


@pytest.mark.parametrize("text", ["nocolon\n", ":k\n", "a.com:\n", "a.com:k:NOEQUALS\n", "a.com:k:1X=2\n"])
def test_dkimkeys_errors(text):
    with pytest.raises(config.DkimKeysError):
        config.parse_dkimkeys(text)


# -- DKIMSIGNOPTIONS
def test_options_defaults():
    o = signopts.parse("")
    assert o.canon == ("relaxed", "relaxed") and o.expire == 604800
    assert not (o.length or o.qtag or o.ttag or o.ztag) and o.identity is None and o.algorithm is None


def test_options_all():
    o = signopts.parse("-c s -l -q -t -h -i joe@example.com -x 3600 -z 4 -b 1024")
    assert o.canon == ("simple", "simple") and o.length and o.qtag and o.ttag and o.ztag
    assert o.identity == "joe@example.com" and o.expire == 3600 and o.algorithm == "ed25519"
    assert signopts.parse("-c t").canon == ("relaxed", "simple")
    assert signopts.parse("-c u").canon == ("simple", "relaxed")
    assert signopts.parse("-x -").expire is None
    assert signopts.parse("-z 2").algorithm == "rsa"


def test_options_sha1_refused_with_warning():
    for z in ("1", "3"):
        o = signopts.parse("-z " + z)
        assert o.algorithm == "rsa" and "RFC 8301" in o.warnings[0]


def test_options_env_overrides():
    o = signopts.parse("-i a@x.org -x 10", identity_env="b@y.org", expire_env="")
    assert o.identity == "b@y.org" and o.expire is None
    assert signopts.parse("", expire_env="99").expire == 99


@pytest.mark.parametrize("text", ["-c x", "-z 5", "-k", "-x soon", "-c", "extra", "-i"])
def test_options_errors(text):
    with pytest.raises(signopts.OptionError):
        signopts.parse(text)


def test_identity_check():
    assert signopts.check_identity("joe@example.com", "example.com") is None
    assert signopts.check_identity("@mail.example.com", "example.com") is None
    assert signopts.check_identity("joe@badexample.com", "example.com")
    assert signopts.check_identity("joe", "example.com")


# -- header set
def test_headerset():
    fields, _ = parse_header(b"Received: x\nFrom: a@b.c\nX-Mailer: y\nTo: t@u.v\nReturn-Path: <>\n"
                             b"DKIM-Signature: v=1\nDKIM-Status: good\nAuthentication-Results: h; none\n"
                             b"Subject: s\nTo: second@u.v\nList-Id: l\n\nbody\n")
    assert headerset.select(fields) == [b"from", b"to", b"subject", b"to", b"list-id"]
    assert headerset.select(fields, "subject:List-ID") == [b"from", b"to", b"to"]
    assert headerset.select(fields, "from") == [b"from", b"to", b"subject", b"to", b"list-id"]


# -- message splitting
def test_parse_header_offsets_and_no_separator():
    data = b"A: 1\nB: 2\n  cont\n\nbody\n"
    fields, off = parse_header(data)
    assert [f.name for f in fields] == [b"A", b"B"]
    assert fields[1].raw == b"B: 2\n  cont\n" and data[fields[1].start:fields[1].end] == fields[1].raw
    assert data[off:] == b"body\n"
    fields, off = parse_header(b"A: 1\nnot a header line\nmore\n")
    assert [f.name for f in fields] == [b"A"] and off == 5
    fields, off = parse_header(b"\nbody only\n")
    assert fields == [] and off == 1


# -- streaming body canonicalization == dkimpy's whole-body canonicalization
def test_bodyhash_matches_dkimpy_on_random_bodies():
    from qmail_dkim.dkim.lib import dkim
    C = dkim.canonicalization
    rnd = random.Random(7)
    bodies = [b"", b"\n", b"\n\n", b"a\n\n\n", b" \n\t\n", b"a\rb\n", b"x \t y  \n\n z\t\n\n"]
    bodies += [bytes(rnd.choice(b"ab \t\n\r") for _ in range(rnd.randint(0, 40))) for _ in range(400)]
    for body in bodies:
        # a last line without LF is sent (by qmail-remote) with CRLF
        sent = body if not body or body.endswith(b"\n") else body + b"\n"
        for canon, cls in (("simple", C.Simple), ("relaxed", C.Relaxed)):
            ref = cls.canonicalize_body(sent.replace(b"\n", b"\r\n"))
            for step in (1, 3, 1000):
                h = BodyHasher(canon)
                for i in range(0, len(body), step):
                    h.update(body[i:i + step])
                assert h.digest() == hashlib.sha256(ref).digest(), (canon, body, step)
                assert h.length == len(ref)


def test_bodyhash_last_line_without_newline_is_sent_with_crlf():
    a, b = BodyHasher("simple"), BodyHasher("simple")
    a.update(b"line")
    b.update(b"line\n")
    assert a.digest() == b.digest()


def test_bodyhash_one_long_line_is_streamed():
    h = BodyHasher("relaxed")
    for _ in range(256):
        h.update(b"a \t b" * 3000)
    h.update(b"  \t \n")
    assert h.digest() == hashlib.sha256(b"a b" * 3000 * 256 + b"\r\n").digest()


def test_bodyhash_limit():
    h = BodyHasher("simple", limit=4)
    h.update(b"abcdefgh\n")
    assert h.digest() == hashlib.sha256(b"abcd").digest() and h.length == 10


# -- key files
def test_key_formats(tmp_path):
    rsa, ed = cached_rsa_key(1024), cached_ed25519_key()
    for fmt in ("pkcs1", "pkcs8"):
        k = keyfile.load_private_key(str(rsa.write(tmp_path / ("r" + fmt), fmt=fmt)))
        assert k.kind == "rsa" and k.bits == 1024 and k.public_b64() == rsa.public_b64()
    for fmt in ("pkcs8", "seed"):
        k = keyfile.load_private_key(str(ed.write(tmp_path / ("e" + fmt), fmt=fmt)))
        assert k.kind == "ed25519" and k.public_b64() == ed.public_b64()


def test_key_errors_name_file_and_uid_but_not_content(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nTUlJQ1hBSUJBQUtCZ1FDd0pUU0VDUkVU\n-----END RSA PRIVATE KEY-----\n")
    with pytest.raises(keyfile.KeyFileError) as e:
        keyfile.load_private_key(str(bad))
    assert str(bad) in str(e.value) and "uid=" in str(e.value) and "TUlJ" not in str(e.value)
    with pytest.raises(keyfile.KeyFileError) as e:
        keyfile.load_private_key(str(tmp_path / "missing"))
    assert "No such file" in str(e.value)
    (tmp_path / "junk").write_bytes(b"hello")
    with pytest.raises(keyfile.KeyFileError):
        keyfile.load_private_key(str(tmp_path / "junk"))


def test_key_repr_hides_material(tmp_path):
    k = keyfile.load_private_key(str(cached_ed25519_key().write(tmp_path / "e", fmt="seed")))
    assert "seed" not in repr(k) and base64.b64encode(k._seed).decode() not in repr(k)


# -- headers larger than what we hold in memory
def test_spool_header_overflow_has_exact_body_offset_and_tail_fields(tmp_path):
    from qmail_dkim.spool import HEADER_MAX
    junk = b"X-Junk: " + b"j" * 100 + b"\n"
    head = b"From: joe@example.com\n" + junk * (HEADER_MAX // len(junk) + 50)
    tail = b"DKIM-Status: good\nAuthentication-Results: mx.test;\n dkim=pass\n"
    msg = head + tail + b"\nbody line\n"
    sp = spool_bytes(msg, tmp_path)
    try:
        assert sp.overflow and sp.body_offset == len(head + tail) + 1
        names = [f.lname for f in sp.tail_fields]
        assert names[-2:] == [b"dkim-status", b"authentication-results"]
        ar = sp.tail_fields[-1]
        assert msg[ar.start:ar.end] == b"Authentication-Results: mx.test;\n dkim=pass\n"
        assert b"".join(sp.body_chunks()) == b"body line\n"
        assert sp.fields[0].lname == b"from" and sp.fields[-1].end <= HEADER_MAX
    finally:
        sp.close()


def test_leading_continuation_line_is_a_nameless_field():
    fields, off = parse_header(b"\t; dkim=pass\nDKIM-Status: good\nFrom: a@b.c\n\nbody\n")
    assert [f.name for f in fields] == [b"", b"DKIM-Status", b"From"]
    assert headerset.select(fields) == [b"from"]
