"""keyrecord: letters L, N, R and the V / M helpers."""
import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from qmail_dkim.dkim.keyrecord import KeyRecordError, parse_key_record
from tests.realparts.keys import cached_ed25519_key


def spki(pub):
    return base64.b64encode(pub.public_bytes(
        serialization.Encoding.DER,
        serialization.PublicFormat.SubjectPublicKeyInfo))


def rsa_pub_bits(bits):
    # A public key needs no private key: any odd modulus of that size will do.
    n = (1 << (bits - 1)) | 0x10001 | 1
    return rsa.RSAPublicNumbers(65537, n).public_key()


@pytest.fixture(scope="module")
def rsa2048(rsa_key):
    return rsa_key.private


def test_rsa_ok(rsa2048):
    rec = parse_key_record(b"v=DKIM1; k=rsa; p=" + spki(rsa2048.public_key()))
    assert rec.k == b"rsa" and rec.bits == 2048
    assert rec.public_key()["modulus"] == rsa2048.public_key().public_numbers().n
    assert not rec.testing and not rec.strict_identity


def test_rsa_default_k_and_fws_in_p(rsa2048):
    p = spki(rsa2048.public_key())
    folded = b" ".join(p[i:i + 50] for i in range(0, len(p), 50))
    rec = parse_key_record(b"p=" + folded + b" ; t = y : s ")
    assert rec.bits == 2048 and rec.testing and rec.strict_identity


def test_rsa_pkcs1_raw_accepted(rsa2048):
    raw = rsa2048.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.PKCS1)
    assert parse_key_record(b"p=" + base64.b64encode(raw)).bits == 2048


def test_ed25519_ok():
    k = cached_ed25519_key().private.public_key()
    raw = k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    rec = parse_key_record(b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw))
    assert rec.bits == 256
    vk = rec.public_key()
    assert bytes(vk) == raw


@pytest.mark.parametrize("txt", [
    b"v=DKIM1; p",                 # tag without =
    b"v=DKIM1; p=; p=",            # duplicate tag
    b"v=DKIM2; p=abcd",            # wrong version
    b"v=spf1 -all",
    b"v=DKIM1; k=rsa",             # no p=
    b"",
    b"v=DKIM1; k=dsa; p=abcd",     # unknown key type
    b"v=DKIM1; s=tlsrpt; p=abcd",  # service excludes email
])
def test_L(txt):
    with pytest.raises(KeyRecordError) as e:
        parse_key_record(txt)
    assert e.value.letter == "L", e.value.reason


@pytest.mark.parametrize("txt", [b"v=DKIM1; p=", b"v=DKIM1; k=rsa; p= ;", b"p="])
def test_N(txt):
    with pytest.raises(KeyRecordError) as e:
        parse_key_record(txt)
    assert e.value.letter == "N"


def test_service_star_and_email_list(rsa2048):
    p = spki(rsa2048.public_key())
    parse_key_record(b"s=*; p=" + p)
    parse_key_record(b"s=tlsrpt:email; p=" + p)


@pytest.mark.parametrize("p", [
    b"not base64!",
    b"QUJD",                               # base64 of 'ABC', not a key
    base64.b64encode(b"\x30\x03\x02\x01\x01"),
])
def test_R_garbage(p):
    with pytest.raises(KeyRecordError) as e:
        parse_key_record(b"k=rsa; p=" + p)
    assert e.value.letter == "R"


def test_R_short_rsa():
    with pytest.raises(KeyRecordError) as e:
        parse_key_record(b"k=rsa; p=" + spki(rsa_pub_bits(512)))
    assert e.value.letter == "R" and "512" in e.value.reason
    assert parse_key_record(b"k=rsa; p=" + spki(rsa_pub_bits(1024))).bits == 1024


def test_R_ed25519_wrong_length(rsa2048):
    with pytest.raises(KeyRecordError) as e:
        parse_key_record(b"k=ed25519; p=" + spki(rsa2048.public_key()))
    assert e.value.letter == "R"


def test_algorithm_mismatch(rsa2048):
    rec = parse_key_record(b"k=rsa; h=sha1; p=" + spki(rsa2048.public_key()))
    assert rec.algorithm_mismatch(b"rsa-sha256")
    assert rec.algorithm_mismatch(b"rsa-sha1") is None
    assert rec.algorithm_mismatch(b"ed25519-sha256")
    rec = parse_key_record(b"k=rsa; h=sha1:sha256; p=" + spki(rsa2048.public_key()))
    assert rec.algorithm_mismatch(b"rsa-sha256") is None
    rec = parse_key_record(b"p=" + spki(rsa2048.public_key()))
    assert rec.algorithm_mismatch(b"rsa-sha256") is None


@pytest.mark.parametrize("g,local,ok", [
    (None, b"anyone", True), (b"*", b"x", True), (b"", b"x", False),
    (b"joe", b"joe", True), (b"joe", b"jo", False),
    (b"j*e", b"jonne", True), (b"j*e", b"jon", False), (b"*e", b"e", True),
    (b"ab*", b"a", False),
])
def test_granularity(rsa2048, g, local, ok):
    txt = b"p=" + spki(rsa2048.public_key())
    if g is not None:
        txt += b"; g=" + g
    assert parse_key_record(txt).granularity_matches(local) is ok
