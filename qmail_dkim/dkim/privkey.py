"""Reading DKIM private keys (qmail-dkim(8), SIGNING, "The key: the % rule").

Accepted: PEM RSA (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"), PEM
Ed25519 (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it), or a bare
base64 Ed25519 seed (as dkimpy's dknewkey writes it).

RSA keys are parsed by dkimpy (dkim.crypto), whose pure-Python RSA signs with
the CRT and costs no extra imports. Ed25519 PKCS#8 is a fixed 48-octet DER
structure (RFC 8410); we take the seed out of it ourselves so that the RSA
path never imports `cryptography`, and PyNaCl is imported only for Ed25519.
"""
import base64
import binascii
import os
import re

ED25519_OID_DER = b"\x06\x03\x2b\x65\x70"          # 1.3.101.112
# qmail-dkimd only (qmail_dkim/daemon/server.py): keys already parsed, by the
# file's (st_dev, st_ino, st_size, st_mtime_ns), and a hook told of each key
# read from its file. None / None in qmail-dkim: every run reads the file.
cache = None
on_load = None
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.S)


class KeyFileError(Exception):
    """A key file cannot be read or parsed. str() names the file, never key bytes."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__("%s: %s (uid=%d gid=%d)" % (path, reason, os.getuid(), os.getgid()))


class PrivateKey:
    def __init__(self, kind, path, rsa=None, seed=None, mode=0):
        self.kind = kind            # "rsa" or "ed25519"
        self.path = path
        self._rsa = rsa             # dkimpy's dict (modulus, exponents, primes)
        self._seed = seed           # 32-octet Ed25519 seed
        self.mode = mode            # st_mode of the file
        self.fast = None            # qmail-dkimd: sign(hashobj) through OpenSSL

    def __repr__(self):             # never show key material
        return "PrivateKey(%s, %r)" % (self.kind, self.path)

    @property
    def bits(self):
        if self.kind == "rsa":
            return self._rsa["modulus"].bit_length()
        return 256

    @property
    def world_readable(self):
        return bool(self.mode & 0o004)

    @property
    def algorithm(self):
        return b"rsa-sha256" if self.kind == "rsa" else b"ed25519-sha256"

    def sign_rsa(self, hashobj):
        if self.fast is not None:
            return self.fast(hashobj)
        from qmail_dkim.dkim.lib import dkim
        return bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(hashobj, self._rsa))

    def sign_ed25519(self, data):
        from qmail_dkim.dkim.lib import nacl
        return nacl().SigningKey(self._seed).sign(data).signature

    def public_b64(self):
        """The p= value of the key's DNS record."""
        if self.kind == "ed25519":
            from qmail_dkim.dkim.lib import nacl
            raw = bytes(nacl().SigningKey(self._seed).verify_key)
            return base64.b64encode(raw).decode("ascii")
        # Tools only (dknewkey -p, dkimtestkey, qmail-dkim-check): not on the
        # signing path, so the cryptography import is affordable here.
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives import serialization
        pub = rsa.RSAPublicNumbers(self._rsa["publicExponent"], self._rsa["modulus"]).public_key()
        spki = pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(spki).decode("ascii")


def _ed25519_seed_from_pkcs8(der):
    # OneAsymmetricKey: SEQ { INTEGER 0|1, SEQ { OID 1.3.101.112 }, OCTET STRING { OCTET STRING(32) } ...}
    i = der.find(ED25519_OID_DER)
    if i < 0:
        return None
    j = der.find(b"\x04\x22\x04\x20", i)
    if j < 0 or len(der) < j + 4 + 32:
        raise ValueError("malformed Ed25519 PKCS#8 key")
    return der[j + 4:j + 36]


def parse_private_key(data, path="<key>", mode=0):
    """Parse key bytes; raises KeyFileError (without quoting the bytes)."""
    m = _PEM.search(data)
    if m:
        label = m.group(1).decode("ascii", "replace")
        if "ENCRYPTED" in label:
            raise KeyFileError(path, "encrypted private keys are not supported")
        try:
            der = base64.b64decode(re.sub(rb"\s+", b"", m.group(2)), validate=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(path, "PEM block is not valid base64")
        if label == "PRIVATE KEY" and ED25519_OID_DER in der[:32]:
            try:
                seed = _ed25519_seed_from_pkcs8(der)
            except ValueError as e:
                raise KeyFileError(path, str(e))
            return PrivateKey("ed25519", path, seed=seed, mode=mode)
        if label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
            from qmail_dkim.dkim.lib import dkim
            try:
                rsa = dkim.crypto.parse_private_key(der)
            except Exception:   # dkimpy raises several types for bad DER
                raise KeyFileError(path, "not a parsable RSA or Ed25519 private key")
            if rsa["modulus"] <= 0:
                raise KeyFileError(path, "not a parsable RSA private key")
            return PrivateKey("rsa", path, rsa=rsa, mode=mode)
        raise KeyFileError(path, "unsupported PEM block %r" % label)
    # A bare base64 Ed25519 seed (dkimpy's dknewkey).
    text = data.strip()
    if text and len(text) < 100:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) == 32:
            return PrivateKey("ed25519", path, seed=raw, mode=mode)
    raise KeyFileError(path, "no PEM private key or base64 Ed25519 seed found")


def load_private_key(path):
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if cache is not None:
                hit = cache.get((st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns))
                if hit is not None:     # opened as always (permissions), parsed before
                    key = PrivateKey(hit.kind, path, hit._rsa, hit._seed, st.st_mode)
                    key.fast = hit.fast
                    return key
            data = f.read(1 << 20)
    except OSError as e:
        raise KeyFileError(path, e.strerror or str(e))
    key = parse_private_key(data, path, st.st_mode)
    if on_load is not None:
        on_load(path, st)
    return key
