"""Pure core of sign mode: mode, From domain, domain syntax, % rule, dkimkeys,
options, header set, body canonicalization, key files, signature header."""
import base64
import hashlib
import random

import re

import pytest
from hypothesis import given, settings, strategies as st

from qmail_dkim import config, mode
from qmail_dkim.dns import names as domainname
from qmail_dkim.dkim import fromaddr
from qmail_dkim.sign import headers as headerset
from qmail_dkim.dkim import privkey as keyfile
from qmail_dkim.sign import keypath
from qmail_dkim.sign import options as signopts
from qmail_dkim.dkim.bodyhash import BodyHasher
from qmail_dkim.dkim.message import parse_header
from tests.profiles import examples
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


def test_bodyhash_moves_to_openssl_past_small_body_with_the_same_digest(monkeypatch):
    """Small bodies: the interpreter's own sha256 (no libcrypto to load);
    past SMALL_BODY canonical octets: OpenSSL's, fed what came so far."""
    import types
    from qmail_dkim.dkim import bodyhash
    # as in qmail-dkim: OpenSSL not loaded yet (here pytest has loaded it)
    monkeypatch.setattr(bodyhash, "sys", types.SimpleNamespace(modules={}))
    rnd = random.Random(13)
    bodies = [bytes(rnd.choice(b"ab \t\n\r") for _ in range(rnd.randint(0, 60))) for _ in range(60)]
    for small in (0, 1, 5, 17, 1 << 20):
        monkeypatch.setattr(bodyhash, "SMALL_BODY", small)
        for body in bodies:
            for canon in ("simple", "relaxed"):
                for limit in (None, 0, 9):
                    ref = BodyHasher(canon, limit=limit)
                    ref.hash = hashlib.sha256()     # OpenSSL from the start
                    ref.update(body)
                    for step in (1, 4, 1000):
                        h = BodyHasher(canon, limit=limit)
                        for i in range(0, len(body), step):
                            h.update(body[i:i + step])
                        assert (h.digest(), h.length) == (ref.digest(), ref.length), (small, body)
                        big = h.length if limit is None else min(limit, h.length)
                        assert (type(h.hash).__module__ == "_hashlib") == (big > small)
    monkeypatch.setattr(bodyhash, "SMALL_BODY", 1 << 20)
    assert BodyHasher("simple", "sha1").digest() == hashlib.sha1(b"\r\n").digest()
    with pytest.raises(ValueError):
        BodyHasher("simple", "md17")


def test_bodyhash_without_openssl_uses_the_builtin_hash(monkeypatch):
    """qmail-dkimd's workers cannot import what the server did not (they run
    as another account): a large body, or OpenSSL missing, still hashes."""
    import sys
    from qmail_dkim.dkim import bodyhash
    monkeypatch.setitem(sys.modules, "_hashlib", None)      # import _hashlib fails
    monkeypatch.setattr(bodyhash, "SMALL_BODY", 10)
    for name in ("sha256", "sha1"):
        h = bodyhash.new_hash(name, b"abc", big=True)
        assert h.digest() == hashlib.new(name, b"abc").digest() and h.name == name
        assert type(h).__module__ != "_hashlib"
    b = BodyHasher("simple")
    b.update(b"x" * 100 + b"\n")
    assert b.digest() == hashlib.sha256(b"x" * 100 + b"\r\n").digest()


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


# -- header canonicalization (headerhash.py) == dkimpy's, RFC 6376 3.4.1 / 3.4.2
NAME_OCTETS = bytes(range(0x21, 0x3a)) + bytes(range(0x3b, 0x7f))
NAMES = st.tuples(st.binary(min_size=1, max_size=6).map(
    lambda b: bytes(NAME_OCTETS[c % len(NAME_OCTETS)] for c in b)),
    st.sampled_from([b"", b" ", b"\t", b" \t "]))
# a value as HeaderField.crlf_value gives it: LF -> CRLF, folds start with WSP
LINE = st.lists(st.sampled_from([b"a", b"Bc", b" ", b"\t", b"  \t", b"\r", b"\x0b", b"\x0c",
                                 b":", b";", b"=", b"\xc3\xa9", b"\x00"]), max_size=8).map(b"".join)
VALUES = st.lists(LINE, min_size=1, max_size=4).map(
    lambda lines: b"\r\n".join(lines[:1] + [b" " + l if l[:1] not in (b" ", b"\t") else l
                                            for l in lines[1:]]) + b"\r\n")


def dkimpy_field(relaxed, name, value):
    from qmail_dkim.dkim.lib import dkim
    alg = dkim.canonicalization.Relaxed if relaxed else dkim.canonicalization.Simple
    [(n, v)] = alg.canonicalize_headers([(name, value)])
    return n + b":" + v


@settings(max_examples=examples(400))
@given(NAMES, VALUES, st.booleans())
def test_header_canonicalization_matches_dkimpy(name, value, relaxed):
    from qmail_dkim.dkim.headerhash import canonical_field
    name = name[0] + name[1]
    ours = canonical_field(relaxed, name, value)
    assert ours == dkimpy_field(relaxed, name, value)
    if relaxed:
        v = ours.split(b":", 1)[1][:-2]
        assert b"  " not in v and b"\t" not in v and b"\r\n" not in v
        assert v == v.strip()


def test_header_canonicalization_rfc_examples():
    from qmail_dkim.dkim.headerhash import canonical_field
    # RFC 6376 3.4.5
    assert canonical_field(True, b"A", b" X\r\n") == b"a:X\r\n"
    assert canonical_field(True, b"B ", b" Y\t\r\n\tZ  \r\n") == b"b:Y Z\r\n"
    assert canonical_field(False, b"B ", b" Y\t\r\n\tZ  \r\n") == b"B : Y\t\r\n\tZ  \r\n"
    # VT / FF / CR are not WSP: kept inside, stripped at the ends (as dkimpy)
    assert canonical_field(True, b"Subject", b" x \x0c\r\r\n") == b"subject:x\r\n"
    assert canonical_field(True, b"Subject", b"\x0b a \x0c\r  b\r\n") == b"subject:a \x0c\r b\r\n"


def old_header_hash(canon, fields, hlist, sig_name, sig_value):
    """headerhash.header_hash as it was (dkimpy's canonicalization), the oracle."""
    from qmail_dkim.dkim.lib import dkim
    from qmail_dkim.dkim.headerhash import select, strip_b
    policy = dkim.canonicalization.CanonicalizationPolicy.from_c_value(canon.encode())
    h = hashlib.sha256()
    pairs = [(f.raw[:f.colon - 1], f.crlf_value()) for f in select(fields, hlist)]
    for name, value in policy.canonicalize_headers(pairs):
        h.update(name + b":" + value)
    [(name, value)] = policy.canonicalize_headers([(sig_name, strip_b(sig_value[:-2]))])
    if canon.startswith("relaxed"):
        value = value[:-2]
    h.update(name + b":" + value)
    return h.digest()


HEADER_LINE = st.lists(st.sampled_from([b"a", b"Bc", b" ", b"\t", b"  ", b":", b"\xc3\xa9", b"\r",
                                        b"\x0b", b"\x0c"]),
                       max_size=6).map(b"".join)


@settings(max_examples=examples(200))
@given(st.lists(st.tuples(st.sampled_from([b"From", b"To", b"subject", b"SUBJECT ", b"X-A\t"]),
                          st.lists(HEADER_LINE, min_size=1, max_size=3)), min_size=1, max_size=6),
       st.sampled_from(["relaxed/relaxed", "simple/simple"]))
def test_header_hash_matches_dkimpy_on_random_headers(fields, canon):
    """Whole header hashes (selection bottom-up, b= removed, the signature
    field without its CRLF)."""
    from qmail_dkim.dkim.headerhash import header_hash
    raw = b"".join(n + b":" + b"\n\t".join(lines) + b"\n" for n, lines in fields)
    parsed, _ = parse_header(raw + b"\nbody\n")
    hlist = [f.lname for f in parsed][::-1] + [b"from", b"nosuch"]
    sig_value = b" v=1; a=rsa-sha256; h=from:to;\r\n\tbh=AAAA; b=abc\r\n\t def\r\n"
    for c in (canon.split("/")[0], tuple(canon.split("/")), canon.split("/")[0].encode()):
        got = header_hash(c, "sha256", parsed, hlist, b"DKIM-Signature", sig_value).digest()
        assert got == old_header_hash(canon, parsed, hlist, b"DKIM-Signature", sig_value)


def test_header_canon_takes_names_and_pairs_and_rejects_unknown_names():
    from qmail_dkim.dkim.headerhash import header_canon
    assert header_canon((b"simple", b"relaxed")) == "simple" and header_canon((b"relaxed", b"simple")) == "relaxed"
    assert header_canon(b"relaxed") == header_canon("relaxed") == "relaxed"
    with pytest.raises(ValueError):
        header_canon("nofws")


# -- header splitting without re: the same as the regular expressions it replaced
OLD_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+[ \t]*):")


@settings(max_examples=examples(300))
@given(st.lists(st.sampled_from([b"A", b"b-c", b":", b" ", b"\t", b"\n", b"\r", b"x:y", b"\x7f",
                                 b"\xc3\xa9", b"\x00", b"\n\n", b"\n "]), max_size=20).map(b"".join))
def test_header_split_matches_the_old_regular_expressions(data):
    from qmail_dkim.dkim.message import _name_end, HeaderField
    for pos in range(len(data) + 1):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end + 1
        m = OLD_NAME.match(data, pos, end)
        assert _name_end(data, pos, end) == (m.end() if m else -1), (data, pos)
    f = HeaderField(b"X", b"X:" + data, 0, 2)
    assert f.unfolded() == re.sub(rb"\r?\n(?=[ \t])", b"", data).strip().decode("utf-8", "replace")


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
