"""Our replacements for dkimpy on the verify path (issue 13: start-up cost,
qmail-dkimd(8) SPEED) against dkimpy itself, which stays the oracle here:

  keyrecord.parse_tag_list    dkim.util.parse_tag_value (RFC 6376 3.2 tag-lists)
  keyrecord.rsa_public_key    dkim.crypto.parse_public_key (DER RSA keys)
  keyrecord.b64decode_strict  the regex + base64.b64decode(validate=True) it replaced
  verifier.rsa_verify         dkim.crypto.RSASSA_PKCS1_v1_5_verify
  verifier.parse_c            dkim.canonicalization.CanonicalizationPolicy.from_c_value

Random input (hypothesis) and the hand-picked cases the letters depend on.
"""
import base64
import binascii
import hashlib
import re

import pytest
from cryptography.hazmat.primitives import serialization as ser
from hypothesis import example, given, settings, strategies as st

from qmail_dkim.dkim.lib import dkim
import dkim.canonicalization  # noqa: E402 - the oracles
import dkim.crypto  # noqa: E402
import dkim.util  # noqa: E402
from qmail_dkim.dkim import keyrecord, verifier  # noqa: E402
from tests.profiles import examples  # noqa: E402
from tests.realparts.keys import cached_rsa_key  # noqa: E402


# ------------------------------------------------------------- tag-lists

def ours(data):
    try:
        return ("ok", keyrecord.parse_tag_list(data))
    except keyrecord.DuplicateTag as e:
        return ("duplicate", e.args)
    except keyrecord.TagListError as e:
        return ("invalid", e.args)


def dkimpy(data):
    try:
        return ("ok", dkim.util.parse_tag_value(data))
    except dkim.util.DuplicateTag as e:
        return ("duplicate", e.args)
    except dkim.util.InvalidTagValueList as e:
        return ("invalid", e.args)


# the octets that matter to a tag-list parser, and some that must not
PIECES = [b"a", b"b", b"v", b"bh", b"Z", b"1", b"_", b"-", b"=", b";", b";", b"=", b" ", b"\t",
          b"\r\n", b"\n", b"\r", b"\x0b", b"\x0c", b"\x00", b"\xff", b"\xc3\xa9", b":", b"/",
          b"rsa-sha256", b"p=MIGf", b"DKIM1", b"@", b"\"", b"."]
TAGLIST_BYTES = st.lists(st.sampled_from(PIECES), max_size=40).map(b"".join)
NAMES = st.one_of(st.sampled_from([b"v", b"a", b"b", b"bh", b"d", b"p", b"k", b"x1", b"a_b",
                                   b"1a", b"_a", b"", b"a b", b"a-b", b"\xe9", b"A", b"h"]),
                  st.binary(max_size=4))
VALUES = st.one_of(st.binary(max_size=12), st.sampled_from(
    [b"", b" ", b"1", b"a=b", b"x\r\n\ty", b" \t ", b"rsa-sha256", b"\xff"]))
WS = st.sampled_from([b"", b" ", b"\t", b"\r\n\t", b"  ", b"\n", b"\x0c"])
STRUCTURED = st.lists(st.tuples(WS, NAMES, WS, WS, VALUES, WS), max_size=8).flatmap(
    lambda specs: st.sampled_from([b";", b"; ", b";;", b""]).map(
        lambda end: b";".join(a + n + b + b"=" + c + v + d for a, n, b, c, v, d in specs) + end))


@settings(max_examples=examples(500))
@given(st.one_of(TAGLIST_BYTES, STRUCTURED, st.binary(max_size=60)))
@example(b"")
@example(b";")
@example(b" ; ")
@example(b"a=1;;b=2")
@example(b"a=1; a=2")
@example(b"a b=1")            # dkimpy checks only the first octet of a name
@example(b"1a=1")
@example(b"\x0ba=1\x0c;")
@example(b"a==1")
@example(b"v=1; a=rsa-sha256; b=AAAA\r\n\t BBBB;")
def test_parse_tag_list_is_dkimpys(data):
    assert ours(data) == dkimpy(data)


def test_parse_tag_list_examples():
    assert keyrecord.parse_tag_list(b" v = 1 ;a=x y ; ") == {b"v": b"1", b"a": b"x y"}
    assert keyrecord.parse_tag_list(b"") == {}
    with pytest.raises(keyrecord.DuplicateTag) as e:
        keyrecord.parse_tag_list(b"a=1; A=2; a=3")
    assert e.value.args == (b"a",)
    for bad in (b"a=1;;b=2", b"=1", b"a", b"1a=1", b"a=1; ;"):
        with pytest.raises(keyrecord.TagListError):
            keyrecord.parse_tag_list(bad)


# ------------------------------------------------------------- base64

_OLD_B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")


def old_b64decode_strict(value):
    """keyrecord.b64decode_strict before issue 13 (re + base64)."""
    v = re.sub(rb"[ \t\r\n]+", b"", value)
    if not _OLD_B64.match(v) or len(v) % 4:
        raise ValueError("not base64")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64: %s" % e)


def b64_outcome(f, data):
    try:
        return f(data)
    except ValueError:
        return ValueError


B64_PIECES = st.sampled_from([b"A", b"Q", b"z", b"+", b"/", b"=", b"==", b" ", b"\r\n\t", b"\n",
                              b"-", b"_", b"\x00", b"AAAA", b"\x0b", b"$", b"\xff"])


@settings(max_examples=examples(400))
@given(st.one_of(st.lists(B64_PIECES, max_size=20).map(b"".join), st.binary(max_size=24),
                 st.binary(max_size=40).map(base64.b64encode)))
@example(b"")
@example(b"AA==")
@example(b"A===")
@example(b"AA=A")
@example(b"=AAA")
@example(b"AAAA\n")
@example(b"AB==")              # non-zero bits after the last octet
def test_b64decode_strict_is_the_old_one(data):
    assert b64_outcome(keyrecord.b64decode_strict, data) == b64_outcome(old_b64decode_strict, data)


# ------------------------------------------------------------- RSA keys

def key_outcome(f, data):
    try:
        return ("ok", f(data))
    except Exception as e:          # noqa: BLE001 - dkimpy raises several types
        return ("error", str(e))


def _der_keys():
    key = cached_rsa_key(1024).private.public_key()
    spki = key.public_bytes(ser.Encoding.DER, ser.PublicFormat.SubjectPublicKeyInfo)
    pkcs1 = key.public_bytes(ser.Encoding.DER, ser.PublicFormat.PKCS1)
    return spki, pkcs1


SPKI, PKCS1 = _der_keys()


@st.composite
def mutated_keys(draw):
    data = bytearray(draw(st.sampled_from([SPKI, PKCS1])))
    for _ in range(draw(st.integers(0, 3))):
        how = draw(st.sampled_from(["set", "cut", "insert"]))
        pos = draw(st.integers(0, len(data)))
        if how == "set" and pos < len(data):
            data[pos] = draw(st.sampled_from([0x00, 0x02, 0x03, 0x05, 0x06, 0x30, 0x7F, 0x80, 0x81,
                                              0x82, 0x84, 0xFF, draw(st.integers(0, 255))]))
        elif how == "cut":
            data = data[:pos]
        else:
            data[pos:pos] = draw(st.binary(min_size=1, max_size=3))
    return bytes(data)


# structures the parser walks: tags and lengths only
ASN1_PIECES = st.sampled_from([b"\x30", b"\x02", b"\x03", b"\x05", b"\x06", b"\x04", b"\x00",
                               b"\x01", b"\x03", b"\x81", b"\x82\x00", b"\x80", b"\x05\x00",
                               b"\x02\x01\x03", b"\x30\x0d", b"\xff"])


@settings(max_examples=examples(400))
@given(st.one_of(mutated_keys(), st.binary(max_size=20),
                 st.lists(ASN1_PIECES, max_size=16).map(b"".join)))
@example(SPKI)
@example(PKCS1)
@example(b"")
@example(b"\x30\x06\x30\x04\x06\x00\x05\x01")     # NULL with content: dkimpy's assert
def test_rsa_public_key_is_dkimpys(data):
    assert key_outcome(keyrecord.rsa_public_key, data) == \
        key_outcome(dkim.crypto.parse_public_key, data)


# ------------------------------------------------------------- RSA signatures

RSA = cached_rsa_key(1024)


@pytest.fixture(scope="module")
def rsa_parts():
    nums = RSA.private.private_numbers()
    pub = {"modulus": nums.public_numbers.n, "publicExponent": nums.public_numbers.e}
    der = RSA.private.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL,
                                    ser.NoEncryption())
    return pub, dkim.crypto.parse_private_key(der)


@settings(max_examples=examples(60), deadline=None)
@given(msg=st.binary(max_size=64), flip=st.integers(-1, 127), other=st.binary(max_size=8))
def test_rsa_verify_is_dkimpys(rsa_parts, msg, flip, other):
    pub, priv = rsa_parts
    h = hashlib.sha256(msg)
    sig = bytearray(dkim.crypto.RSASSA_PKCS1_v1_5_sign(h, priv))
    if flip >= 0:
        sig[flip] ^= 1
    sig = bytes(sig)
    for digest_of in (msg, msg + other):
        h2 = hashlib.sha256(digest_of)
        mine = verifier.rsa_verify(h2.digest(), sig, pub)
        assert mine == bool(dkim.crypto.RSASSA_PKCS1_v1_5_verify(h2, sig, pub))
        assert mine == (flip < 0 and digest_of == msg)


def test_rsa_verify_refuses_what_dkimpy_would_reduce(rsa_parts):
    """s + n (reduced mod n by dkimpy's arithmetic) and a short signature."""
    pub, priv = rsa_parts
    h = hashlib.sha256(b"x")
    sig = bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(h, priv))
    assert verifier.rsa_verify(h.digest(), sig, pub)
    k = len(sig)
    bigger = (int.from_bytes(sig, "big") + pub["modulus"])
    if bigger < 1 << (8 * k):
        assert not verifier.rsa_verify(h.digest(), bigger.to_bytes(k, "big"), pub)
    assert not verifier.rsa_verify(h.digest(), sig[1:], pub)
    assert not verifier.rsa_verify(h.digest()[:20], sig, pub)


# ------------------------------------------------------------- c=

@settings(max_examples=examples(200))
@given(st.lists(st.sampled_from([b"simple", b"relaxed", b"/", b"nowsp", b"", b"x"]),
                max_size=4).map(b"".join))
@example(b"relaxed")
@example(b"relaxed/")
@example(b"/simple")
@example(b"simple/relaxed/simple")
def test_parse_c_is_dkimpys(c):
    try:
        p = dkim.canonicalization.CanonicalizationPolicy.from_c_value(c)
        want = (p.header_algorithm.name, p.body_algorithm.name)
    except dkim.canonicalization.InvalidCanonicalizationPolicyError:
        want = None
    assert verifier.parse_c(c) == want


# ------------------------------------------------------------- Ed25519

import nacl.exceptions  # noqa: E402
import nacl.signing  # noqa: E402

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493


def test_ed25519_constants():
    """The curve constants verifier.py writes as numbers (RFC 8032 5.1)."""
    d = -121665 * pow(121666, _P - 2, _P) % _P
    assert verifier._D == d and verifier._D2 == 2 * d % _P
    assert verifier._SQRTM1 == pow(2, (_P - 1) // 4, _P)
    by = 4 * pow(5, _P - 2, _P) % _P
    assert verifier._ed_decode(by.to_bytes(32, "little")) == verifier._BASE
    # the small-order y: 1 (order 1), p-1 (2), 0 (4) and the order-8 ones
    pt = verifier._ed_decode(verifier._Y8.to_bytes(32, "little"))
    for _ in range(3):
        pt = verifier._ed_double(pt)
    assert verifier._ed_encode(pt) == (1).to_bytes(32, "little")


def nacl_verify(pk, msg, sig):
    try:
        nacl.signing.VerifyKey(pk).verify(msg, sig)
        return True
    except (nacl.exceptions.BadSignatureError, ValueError, TypeError):
        return False


SMALL = [0, 1, 2707385501144840649318225287225658788936804267575313519463743609750303402022,
         55188659117513257062467267217118295137698188065244968500265048394206261417927,
         _P - 1, _P, _P + 1]


@st.composite
def ed_cases(draw):
    """(public key, message, signature): valid ones from a random key, then
    maybe altered: a bit flipped, S + L, a small-order or unreduced R or
    key, a random key, the other key."""
    seed = draw(st.binary(min_size=32, max_size=32))
    sk = nacl.signing.SigningKey(seed)
    pk = bytes(sk.verify_key)
    msg = draw(st.binary(max_size=40))
    sig = sk.sign(msg).signature
    how = draw(st.sampled_from(["none", "flip", "s+l", "small r", "small pk", "pk y+p",
                                "random pk", "msg", "r y+p", "s=0"]))
    if how == "flip":
        i = draw(st.integers(0, 63 + 32))
        if i < 64:
            sig = sig[:i] + bytes([sig[i] ^ (1 << draw(st.integers(0, 7)))]) + sig[i + 1:]
        else:
            i -= 64
            pk = pk[:i] + bytes([pk[i] ^ (1 << draw(st.integers(0, 7)))]) + pk[i + 1:]
    elif how == "s+l":
        s = int.from_bytes(sig[32:], "little") + _L
        if s < 1 << 256:
            sig = sig[:32] + s.to_bytes(32, "little")
    elif how == "small r":
        y = draw(st.sampled_from(SMALL)) | (draw(st.integers(0, 1)) << 255)
        sig = y.to_bytes(32, "little") + sig[32:]
    elif how == "small pk":
        pk = (draw(st.sampled_from(SMALL)) | (draw(st.integers(0, 1)) << 255)).to_bytes(32, "little")
    elif how == "pk y+p":
        y = int.from_bytes(pk, "little")
        if (y & ((1 << 255) - 1)) + _P < 1 << 255:
            pk = (y + _P).to_bytes(32, "little")
    elif how == "r y+p":
        y = int.from_bytes(sig[:32], "little")
        if (y & ((1 << 255) - 1)) + _P < 1 << 255:
            sig = (y + _P).to_bytes(32, "little") + sig[32:]
    elif how == "random pk":
        pk = draw(st.binary(min_size=32, max_size=32))
    elif how == "msg":
        msg = msg + b"x"
    elif how == "s=0":
        sig = sig[:32] + bytes(32)
    return pk, msg, sig


@settings(max_examples=examples(150), deadline=None)
@given(ed_cases())
def test_ed25519_verify_is_pynacls(case):
    pk, msg, sig = case
    assert verifier.ed25519_verify(pk, msg, sig) == nacl_verify(pk, msg, sig)


def test_ed25519_verify_accepts_and_refuses():
    sk = nacl.signing.SigningKey(bytes(range(32)))
    pk, sig = bytes(sk.verify_key), sk.sign(b"digest").signature
    assert verifier.ed25519_verify(pk, b"digest", sig)
    assert not verifier.ed25519_verify(pk, b"digesT", sig)
    assert not verifier.ed25519_verify(pk, b"digest", sig[:63])
    assert not verifier.ed25519_verify(pk[:31], b"digest", sig)
