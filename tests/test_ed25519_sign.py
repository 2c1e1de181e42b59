"""Ed25519 signing through OpenSSL (dkim/ossl.py; qmail-dkim(8), SIGNING):
the octets of RFC 8032 and of PyNaCl, which it replaced on the per-message
path (its import was ~30 ms of every Ed25519-signing run) and which still
signs where OpenSSL cannot."""
import random

import pytest

from qmail_dkim.dkim import ossl, privkey
from qmail_dkim.dkim.lib import nacl
from tests.realparts import keys

needs_openssl = pytest.mark.skipif(ossl.library() is None, reason="no OpenSSL 3 libcrypto")

# RFC 8032, 7.1, TEST 1 (empty message)
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_SIG = bytes.fromhex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
                            "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")


@needs_openssl
def test_rfc8032_vector():
    assert ossl.sign_ed25519(RFC8032_SEED, b"") == RFC8032_SIG


@needs_openssl
def test_same_octets_as_pynacl():
    rnd = random.Random(8032)
    for i in range(300):
        seed = rnd.randbytes(32)
        msg = rnd.randbytes(i % 97)         # DKIM signs a 32-octet SHA-256 hash (RFC 8463); any length works
        assert ossl.sign_ed25519(seed, msg) == nacl().SigningKey(seed).sign(msg).signature, i


@needs_openssl
def test_key_file_signs_through_openssl_else_pynacl(monkeypatch):
    key = privkey.parse_private_key(keys.cached_ed25519_key().pem_pkcs8())
    data = bytes(range(32))
    via_openssl = key.sign_ed25519(data)
    assert via_openssl == nacl().SigningKey(key._seed).sign(data).signature
    monkeypatch.setattr(ossl, "sign_ed25519", lambda seed, data: None)    # OpenSSL cannot
    assert key.sign_ed25519(data) == via_openssl


def test_refusals_are_none():
    assert ossl.sign_ed25519(b"short", b"x") is None
