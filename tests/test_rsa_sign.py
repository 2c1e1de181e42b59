"""RSA keys and signatures on the per-message path (issue 13): privkey's own
PEM/DER readers accept what the re + base64 + dkimpy readers accepted and
refuse the rest with the same KeyFileError reasons; the OpenSSL path
(dkim/ossl.py, ctypes), the pure-Python path, dkimpy and `cryptography`
give the same signature octets; OpenSSL failing in any way falls back to
Python; the sign path imports neither `cryptography` nor dkimpy.

The measurements behind privkey.OPENSSL_FROM_BITS and
OPENSSL_LOADED_FROM_BITS: one signature in a fresh `python3 -S`, CPU ms,
median (min) of 21, 2-core machine under load (4-6), Python / OpenSSL
(import ctypes, dlopen, OpenSSL's first-use set-up included):
  libcrypto not loaded (the sign path since it hashes with _sha256):
    RSA-2048 14.7 (11.4) / 16.7 (11.8)   RSA-3072 45.7 (32.7) / 19.7 (14.4)
    RSA-4096 93.7 (77.6) / 26.3 (21.4)
  libcrypto loaded already (_hashlib, a large body):
    RSA-1024 2.4 (1.9) / 8.3 (5.8)   RSA-1536 6.2 (4.8) / 8.7 (7.0)
    RSA-2048 13.3 (10.7) / 9.4 (7.0)
"""
import base64
import ctypes
import hashlib
import os
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, utils

from qmail_dkim.dkim import ossl, privkey
from qmail_dkim.dkim.lib import dkim
from tests import qdkim
from tests.realparts import keys

REPO = Path(__file__).resolve().parent.parent
CRYPTO_HASH = {"sha256": hashes.SHA256(), "sha1": hashes.SHA1()}
needs_openssl = pytest.mark.skipif(ossl.library() is None, reason="no OpenSSL 3 libcrypto")


# -- the reference: how privkey read keys before it had its own readers
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


def reference(data):
    """('rsa', numbers) / ('ed25519', seed) / ('error', reason), as privkey
    decided with re, base64 and dkimpy's dkim.crypto.parse_private_key."""
    m = _PEM.search(data)
    if m:
        label = m.group(1).decode("ascii", "replace")
        if "ENCRYPTED" in label:
            return "error", "encrypted private keys are not supported"
        try:
            der = base64.b64decode(re.sub(rb"\s+", b"", m.group(2)), validate=True)
        except ValueError:
            return "error", "PEM block is not valid base64"
        if label == "PRIVATE KEY" and privkey.ED25519_OID_DER in der[:32]:
            i = der.find(privkey.ED25519_OID_DER)
            j = der.find(b"\x04\x22\x04\x20", i)
            if j < 0 or len(der) < j + 36:
                return "error", "malformed Ed25519 PKCS#8 key"
            return "ed25519", der[j + 4:j + 36]
        if label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
            try:
                rsa = dkim.crypto.parse_private_key(der)
            except Exception:
                return "error", "not a parsable RSA or Ed25519 private key"
            if rsa["modulus"] <= 0:
                return "error", "not a parsable RSA private key"
            return "rsa", rsa
        return "error", "unsupported PEM block %r" % label
    text = data.strip()
    if text and len(text) < 100:
        try:
            raw = base64.b64decode(text, validate=True)
        except ValueError:
            raw = b""
        if len(raw) == 32:
            return "ed25519", raw
    return "error", "no PEM private key or base64 Ed25519 seed found"


def outcome(data):
    try:
        k = privkey.parse_private_key(data, "/k")
    except privkey.KeyFileError as e:
        assert e.path == "/k"
        return "error", e.reason
    return k.kind, (k._rsa if k.kind == "rsa" else k._seed)


def pem(der, label="RSA PRIVATE KEY"):
    b64 = base64.b64encode(der)
    lines = b"\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return b"-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label.encode(), lines, label.encode())


def der_of(pem_bytes):
    return base64.b64decode(b"".join(pem_bytes.strip().splitlines()[1:-1]))


# -- reading
def test_keys_of_every_generator(tmp_path):
    files = keys.generator_key_files(tmp_path, 1024)
    assert len(files) == 8
    for name, path in files.items():
        data = path.read_bytes()
        got = outcome(data)
        assert got == reference(data), name
        k = privkey.load_private_key(str(path))
        kind = "ed25519" if name.endswith("ed25519") else "rsa"
        assert k.kind == kind, name
        assert k.public_b64() == keys.load_key(data).public_b64(), name
        if kind == "rsa":
            n = keys.load_key(data).private.private_numbers()
            assert (k._rsa["modulus"], k._rsa["privateExponent"], k._rsa["coefficient"]) == (
                n.public_numbers.n, n.d, n.iqmp), name
    assert files["openssl-rsa-traditional"].read_bytes().startswith(b"-----BEGIN RSA PRIVATE KEY")
    assert files["openssl-rsa"].read_bytes().startswith(b"-----BEGIN PRIVATE KEY")
    assert b"BEGIN" not in files["dkimpy-dknewkey-ed25519"].read_bytes()


def _mutations(der, rnd):
    for n in range(len(der) + 1):               # every truncation
        yield der[:n]
    yield der + b"\x00junk after the key"
    specials = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x30, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff]
    for _ in range(400):
        b = bytearray(der)
        for _ in range(rnd.choice((1, 1, 2, 3))):
            i = rnd.randrange(len(b)) if rnd.random() < 0.6 else rnd.randrange(min(len(b), 40))
            what = rnd.random()
            if what < 0.6:
                b[i] = rnd.choice(specials) if rnd.random() < 0.5 else rnd.randrange(256)
            elif what < 0.8:
                del b[i]
            else:
                b.insert(i, rnd.choice(specials))
        yield bytes(b)


def test_malformed_keys_fail_as_before():
    """Every truncation and 400 random corruptions of a PKCS#1 and a PKCS#8
    RSA key, an Ed25519 and an EC key, under both labels: accepted with
    the same numbers, or refused with the same reason, as before."""
    rnd = random.Random(13)
    rsa = keys.cached_rsa_key(1024)
    ders = [der_of(rsa.pem_pkcs1()), der_of(rsa.pem_pkcs8()),
            der_of(keys.cached_ed25519_key().pem_pkcs8()), der_of(keys.ec_key_pkcs8())]
    seen = set()
    for der in ders:
        for bad in _mutations(der, rnd):
            for label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
                data = pem(bad, label)
                got = outcome(data)
                assert got == reference(data), (label, bad.hex())
                seen.add(got[1] if got[0] == "error" else got[0])
    # the corpus reaches every outcome
    assert {"rsa", "ed25519", "not a parsable RSA or Ed25519 private key",
            "malformed Ed25519 PKCS#8 key"} <= seen, seen


def test_der_leniency_kept():
    """Quirks of dkimpy's DER reader that keys in use may rely on."""
    ints = [0, 0xC5, 3, 7, 11, 13, 5, 9, 2]
    body = b"".join(b"\x02\x01" + bytes((v,)) for v in ints)
    cases = [
        b"\x30" + bytes((len(body),)) + body,                        # plain
        b"\x30\x82" + len(body).to_bytes(2, "big") + body,           # long form
        b"\x30\x81" + bytes((len(body) + 50,)) + body,               # SEQUENCE longer than the data
        b"\x30" + bytes((len(body),)) + body + b"\x02\x01\x05",      # a tenth integer
        b"\x30\x80" + body,                                          # indefinite: length 0
        b"\x30" + bytes((len(body) + 3,)) + b"\x02\x81\x01\x00" + body[3:],   # long-form INTEGER
        b"\x30" + bytes((len(body),)) + b"\x02\x00" + body[3:] + b"\x00",     # empty INTEGER
    ]
    wrapped = b"\x02\x01\x00\x30\x0d\x06\x09" + b"\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01" + b"\x05\x00"
    octets = b"\x04" + bytes((len(cases[0]),)) + cases[0]
    cases.append(b"\x30" + bytes((len(wrapped + octets),)) + wrapped + octets)       # PKCS#8
    cases.append(b"\x30" + bytes((len(wrapped + octets),)) + wrapped[:-1] + b"\x01" + octets)  # NULL 1
    results = []
    for der in cases:
        for label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
            data = pem(der, label)
            assert outcome(data) == reference(data), der.hex()
        results.append(outcome(pem(der))[0])
    assert results == ["rsa", "rsa", "rsa", "rsa", "error", "rsa", "rsa", "rsa", "error"]
    assert outcome(pem(cases[0]))[1]["modulus"] == 0xC5


def test_pem_framing_as_before():
    k = keys.cached_rsa_key(1024).pem_pkcs1()
    b64 = b"".join(k.strip().splitlines()[1:-1])
    seed = keys.cached_ed25519_key().seed_b64()
    cases = [
        k, k.replace(b"\n", b"\r\n"), b"junk before\n" + k + b"junk after", k.replace(b"\n", b" "),
        b"-----BEGIN RSA PRIVATE KEY-----" + b64 + b"-----END RSA PRIVATE KEY-----",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b64 + b"\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN  RSA PRIVATE KEY-----\n" + b64 + b"\n-----END  RSA PRIVATE KEY-----\n",
        b"-----BEGIN rsa private key-----\n" + b64 + b"\n-----END rsa private key-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b64 + b"\n",
        b"-----BEGIN X-----\n-----BEGIN RSA PRIVATE KEY-----\n" + b64
        + b"\n-----END RSA PRIVATE KEY-----\n",
        b"------BEGIN RSA PRIVATE KEY-----\n" + b64 + b"\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b64[:-2] + b"\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b64 + b"==\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b64.replace(b"A", b"*", 1)
        + b"\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        b"-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
        b"-----BEGIN -----\nAAAA\n-----END -----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n\xff\xfe\n-----END RSA PRIVATE KEY-----\n",
        b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        seed, seed + b"\n", b"  " + seed + b"\r\n", seed[:-4], seed + b"AAAA", seed[:10] + b" " + seed[10:],
        b"", b"   \n", b"hello", b"\x00" * 40, b"=" * 44,
    ]
    kinds = set()
    for data in cases:
        got = outcome(data)
        assert got == reference(data), data[:80]
        kinds.add(got[0] if got[0] != "error" else got[1].split()[0])
    assert kinds >= {"rsa", "ed25519", "not", "PEM", "encrypted", "unsupported", "no", "malformed"}


def test_pkcs1_der_is_the_canonical_encoding():
    for bits, n in ((1024, 0), (2048, 0), (1100, 0)):
        t = keys.cached_rsa_key(bits, n)
        k = privkey.parse_private_key(t.pem_pkcs8())
        assert privkey.pkcs1_der(k._rsa) == der_of(t.pem_pkcs1())


# -- signing
def _expected(t, name, digest):
    return t.private.sign(digest, padding.PKCS1v15(), utils.Prehashed(CRYPTO_HASH[name]))


@needs_openssl
def test_signatures_identical_everywhere():
    """OpenSSL by ctypes, pure Python, dkimpy and cryptography: the same octets
    for many keys (sizes not multiples of 8 too) and random digests."""
    rnd = random.Random(2048)
    specs = [(1024, n) for n in range(8)] + [(2048, n) for n in range(4)] + [
        (1100, 0), (2100, 0), (3072, 0), (4096, 0)]
    for bits, n in specs:
        t = keys.cached_rsa_key(bits, n)
        k = privkey.parse_private_key(t.pem_pkcs1() if n % 2 else t.pem_pkcs8())
        size = (bits + 7) // 8
        der = privkey.pkcs1_der(k._rsa)
        for name in ("sha256", "sha1"):
            for _ in range(6 if bits <= 2048 else 2):
                h = hashlib.new(name, rnd.randbytes(rnd.randrange(200)))
                want = _expected(t, name, h.digest())
                assert ossl.sign(der, name, h.digest(), size) == want, (bits, n, name)
                assert privkey.rsa_sign_pure(k._rsa, name, h.digest()) == want, (bits, n, name)
                assert bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(h, k._rsa)) == want
                assert k.sign_rsa(h) == want


def test_sign_rsa_takes_openssl_where_it_pays(monkeypatch):
    calls = []
    real = ossl.sign
    monkeypatch.setattr(ossl, "sign", lambda *a: calls.append(a) or real(*a))
    monkeypatch.setattr(privkey, "_ed25519_read", False)   # whatever other tests read
    h = hashlib.sha256(b"m")
    k = {bits: privkey.parse_private_key(keys.cached_rsa_key(bits).pem_pkcs1())
         for bits in (1024, 2048, 3072)}

    def signed_by_openssl(bits):
        del calls[:]
        assert k[bits].sign_rsa(h) == _expected(keys.cached_rsa_key(bits), "sha256", h.digest())
        assert all(c[1:] == ("sha256", h.digest(), bits // 8) for c in calls)
        return len(calls) == 1
    assert "_hashlib" in sys.modules             # libcrypto loaded: OpenSSL from 2048
    assert [signed_by_openssl(b) for b in (1024, 2048, 3072)] == [False, True, True]
    monkeypatch.delitem(sys.modules, "_hashlib")  # not loaded: from 3072
    assert [signed_by_openssl(b) for b in (1024, 2048, 3072)] == [False, False, True]
    privkey.parse_private_key(keys.cached_ed25519_key().pem_pkcs8())   # it will be: from 2048
    assert [signed_by_openssl(b) for b in (1024, 2048, 3072)] == [False, True, True]
    k[3072].fast = lambda hashobj: b"from qmail-dkimd"     # qmail-dkimd's hook comes first
    del calls[:]
    assert k[3072].sign_rsa(h) == b"from qmail-dkimd" and calls == []


def test_no_libcrypto_falls_back(monkeypatch):
    tried = []

    def no_lib(name, *a, **kw):
        tried.append(name)
        raise OSError("%s: cannot open shared object file" % name)
    monkeypatch.setattr(ossl, "_lib", None)
    monkeypatch.setattr(ossl.ctypes, "CDLL", no_lib)
    t = keys.cached_rsa_key(2048)
    k = privkey.parse_private_key(t.pem_pkcs1())
    h = hashlib.sha256(b"no libcrypto")
    assert ossl.sign(privkey.pkcs1_der(k._rsa), "sha256", h.digest(), 256) is None
    assert tried == ["libcrypto.so.3", "libcrypto.so"]
    assert k.sign_rsa(h) == _expected(t, "sha256", h.digest())
    assert ossl.library() is None and len(tried) == 2         # not tried again


def test_no_ctypes_falls_back(monkeypatch):
    """A Python without ctypes, or a qmail-dkimd worker (its account may not
    read what its server did not import): Python signs."""
    import qmail_dkim.dkim
    monkeypatch.delattr(qmail_dkim.dkim, "ossl")
    monkeypatch.setitem(sys.modules, "qmail_dkim.dkim.ossl", None)
    with pytest.raises(ImportError):
        from qmail_dkim.dkim import ossl as _  # noqa: F401
    t = keys.cached_rsa_key(2048)
    k = privkey.parse_private_key(t.pem_pkcs1())
    h = hashlib.sha256(b"no ctypes")
    assert k.sign_rsa(h) == _expected(t, "sha256", h.digest())


class _FakeFunc:
    def __init__(self, value):
        self.value = value

    def __call__(self, *a):
        return self.value


class _FakeLib:
    """A libcrypto that is OpenSSL `version` and lacks the names in `missing`."""

    def __init__(self, version, missing=()):
        self.OpenSSL_version_num = _FakeFunc(version)
        self.missing = missing

    def __getattr__(self, name):
        if name in self.missing or name.startswith("__"):
            raise AttributeError(name)
        f = _FakeFunc(0)
        setattr(self, name, f)
        return f


@pytest.mark.parametrize("lib", [_FakeLib(0x1010117f),                     # OpenSSL 1.1.1
                                 _FakeLib(0x30000000, ["EVP_PKEY_sign"])])  # a symbol missing
def test_unusable_libcrypto_falls_back(monkeypatch, lib):
    monkeypatch.setattr(ossl, "_lib", None)
    monkeypatch.setattr(ossl, "_open", lambda: lib)
    t = keys.cached_rsa_key(2048)
    k = privkey.parse_private_key(t.pem_pkcs1())
    h = hashlib.sha1(b"old")
    assert ossl.library() is None
    assert k.sign_rsa(h) == _expected(t, "sha1", h.digest())


STEPS = ["d2i_PrivateKey", "EVP_PKEY_CTX_new", "EVP_PKEY_sign_init",
         "EVP_PKEY_CTX_set_rsa_padding", "EVP_PKEY_CTX_set_signature_md", "EVP_PKEY_sign",
         "outlen"]


@needs_openssl
@pytest.mark.parametrize("step", STEPS)
def test_each_failing_call_falls_back_and_frees(monkeypatch, step):
    """One OpenSSL call after the other fails (NULL, 0 or a negative value, a
    short signature): None from ossl.sign, everything allocated freed, the
    error queue left empty, and sign_rsa's octets from Python."""
    lib = ossl.library()
    live = {"pkey": 0, "ctx": 0}

    def counted(fname, what, delta):
        real = getattr(lib, fname)

        def f(*a):
            r = real(*a)
            if delta > 0 and r or delta < 0:
                live[what] += delta
            return r
        monkeypatch.setattr(lib, fname, f)
    counted("d2i_PrivateKey", "pkey", 1)
    counted("EVP_PKEY_free", "pkey", -1)
    counted("EVP_PKEY_CTX_new", "ctx", 1)
    counted("EVP_PKEY_CTX_free", "ctx", -1)
    if step == "outlen":
        real_sign = lib.EVP_PKEY_sign

        def short(ctx, out, outlen, dgst, n):
            r = real_sign(ctx, out, outlen, dgst, n)
            outlen._obj.value -= 1
            return r
        monkeypatch.setattr(lib, "EVP_PKEY_sign", short)
    elif step in ("d2i_PrivateKey", "EVP_PKEY_CTX_new"):
        monkeypatch.setattr(lib, step, lambda *a: None)
    else:
        monkeypatch.setattr(lib, step, lambda *a: -2 if step.endswith("_md") else 0)
    lib.ERR_peek_error.argtypes = []
    lib.ERR_peek_error.restype = ctypes.c_ulong
    t = keys.cached_rsa_key(2048)
    k = privkey.parse_private_key(t.pem_pkcs1())
    h = hashlib.sha256(b"fail at " + step.encode())
    assert ossl.sign(privkey.pkcs1_der(k._rsa), "sha256", h.digest(), 256) is None
    assert live == {"pkey": 0, "ctx": 0}
    assert lib.ERR_peek_error() == 0
    assert k.sign_rsa(h) == _expected(t, "sha256", h.digest())


@needs_openssl
def test_openssl_refusals_are_none():
    lib = ossl.library()
    lib.ERR_peek_error.argtypes = []
    lib.ERR_peek_error.restype = ctypes.c_ulong
    k = privkey.parse_private_key(keys.cached_rsa_key(2048).pem_pkcs1())
    der = privkey.pkcs1_der(k._rsa)
    assert ossl.sign(b"\x30\x03\x02\x01\x00", "sha256", bytes(32), 256) is None     # not a key
    assert lib.ERR_peek_error() == 0                    # nothing left for hashlib to find
    assert ossl.sign(der, "md5", bytes(16), 256) is None
    assert ossl.sign(der, "sha256", bytes(32), 255) is None                          # too short
    assert ossl.sign(der, "sha256", bytes(32), 256) is not None
    assert hashlib.sha256(b"abc").hexdigest().startswith("ba7816bf")


def _rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


@needs_openssl
def test_no_leak_over_10000_signatures():
    k = privkey.parse_private_key(keys.cached_rsa_key(1024).pem_pkcs1())
    der, digest = privkey.pkcs1_der(k._rsa), hashlib.sha256(b"leak").digest()
    first = ossl.sign(der, "sha256", digest, 128)
    for _ in range(1000):                   # warm up: allocator pools, caches
        ossl.sign(der, "sha256", digest, 128)
    before = _rss_kb()
    for _ in range(10000):
        assert ossl.sign(der, "sha256", digest, 128) == first
    grown = _rss_kb() - before
    # an EVP_PKEY and its RSA are over 1 KB: one lost per call is 10+ MB
    assert grown < 1024, "RSS grew by %d KB over 10000 signatures" % grown


# -- what the sign path imports
_PROBE = """
import sys
from qmail_dkim.dkim import privkey
key = privkey.load_private_key(sys.argv[1])
class Digest:                       # a hash object, without hashlib
    name = "sha256"
    def digest(self):
        return bytes(range(32))
sig = key.sign_rsa(Digest())
print(sig.hex(), *sorted(sys.modules))
"""


@pytest.mark.parametrize("bits", [1024, 2048, 3072])
def test_sign_path_imports(tmp_path, bits):
    t = keys.cached_rsa_key(bits)
    path = t.write(tmp_path / "key", fmt="pkcs8")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-S", "-c", _PROBE, str(path)], env=env,
                         capture_output=True, check=True, text=True).stdout
    sig, *mods = out.split()
    assert bytes.fromhex(sig) == _expected(t, "sha256", bytes(range(32)))
    mods = set(mods)
    assert not {m for m in mods if m.split(".")[0] in ("cryptography", "dkim", "nacl")}, mods
    assert not mods & {"hashlib", "_hashlib", "re", "base64", "subprocess", "ctypes.util"}, mods
    if ossl.library() is not None:           # OpenSSL only where it pays
        assert ("ctypes" in mods) == (bits >= 3072), mods


@pytest.mark.parametrize("bits", [2048, 3072])
def test_sign_run_never_imports_cryptography(home, bits):
    """A whole qmail-dkim sign run: never `cryptography` (its import would
    cost more than it saves); OpenSSL by ctypes for RSA-3072, not for 2048."""
    keys.install(home, keys.cached_rsa_key(bits), "example.com", "default")
    r = qdkim.run(home, {"RELAYCLIENT": "", "PYTHONPROFILEIMPORTTIME": "1"})
    assert r.rc == 0 and r.field("result") == "signed", r.stderr
    imported = {line.split("|")[-1].strip() for line in r.stderr.splitlines()
                if line.startswith("import time:")}
    assert "qmail_dkim.dkim.privkey" in imported
    assert not {m for m in imported if m.startswith("cryptography")}
    if ossl.library() is not None:
        assert ("qmail_dkim.dkim.ossl" in imported) == (bits == 3072)


def test_a_failed_fast_signer_falls_back_to_the_usual_way():
    """qmail-dkimd's OpenSSL signer (PrivateKey.fast) returning None: the
    key signs as without it, the same octets."""
    h = hashlib.sha256(b"m")
    k = privkey.parse_private_key(keys.cached_rsa_key(2048).pem_pkcs1())
    k.fast = lambda hashobj: None
    assert k.sign_rsa(h) == _expected(keys.cached_rsa_key(2048), "sha256", h.digest())
