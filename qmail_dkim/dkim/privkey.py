"""Reading DKIM private keys (qmail-dkim(8), SIGNING, "The key: the % rule"),
and signing with them.

Accepted: PEM RSA (PKCS#1 "RSA PRIVATE KEY" or PKCS#8 "PRIVATE KEY"), PEM
Ed25519 (PKCS#8, as `openssl genpkey -algorithm ed25519` writes it), or a bare
base64 Ed25519 seed (as dkimpy's dknewkey writes it).

The PEM and DER readers and the pure-Python RSA signer are our own for
start-up cost on the per-message path (qmail-dkimd(8), SPEED): re, base64,
dkimpy's dkim.crypto and dkim.asn1 (which is what they replace: the DER
is read by asn1.py, dkimpy's reader, so the same keys are accepted) and `cryptography` all cost
imports on every message. Ed25519 PKCS#8 is a fixed 48-octet DER structure
(RFC 8410). Ed25519 signatures and RSA signatures of large keys go through
OpenSSL by ctypes (dkim/ossl.py), the other RSA ones in Python; PyNaCl
only signs Ed25519 where OpenSSL cannot.
"""
import binascii
import os
import sys

from qmail_dkim.dkim import asn1
from qmail_dkim.dkim.asn1 import INTEGER, NULL, OCTET_STRING, OID, SEQUENCE

ED25519_OID_DER = b"\x06\x03\x2b\x65\x70"          # 1.3.101.112
# qmail-dkimd only (qmail_dkim/daemon/server.py): keys already parsed, by the
# file's (st_dev, st_ino, st_size, st_mtime_ns), and a hook told of each key
# read from its file. None / None in qmail-dkim: every run reads the file.
cache = None
on_load = None
# RSA signing through OpenSSL (dkim/ossl.py) pays for its start-up (import
# ctypes, loading libcrypto, OpenSSL's first-use set-up) from 3072 bits, or
# from 2048 when libcrypto is in the process already or will be (_hashlib:
# a large body was hashed by OpenSSL; an Ed25519 key was read: it signs
# through OpenSSL); below, Python's pow() is as fast or faster.
# Measured per process: see tests/test_rsa_sign.py.
OPENSSL_FROM_BITS = 3072
OPENSSL_LOADED_FROM_BITS = 2048
_ed25519_read = False       # an Ed25519 key was read in this process
_WS = b" \t\n\r\x0b\x0c"                          # what \s matches in bytes
_LABEL = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_RSA_FIELDS = ("version", "modulus", "publicExponent", "privateExponent", "prime1",
               "prime2", "exponent1", "exponent2", "coefficient")


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
        self._rsa = rsa             # dict of the RSAPrivateKey's integers (_RSA_FIELDS)
        self._seed = seed           # 32-octet Ed25519 seed
        self.mode = mode            # st_mode of the file
        self.fast = None            # qmail-dkimd: sign(hashobj) through OpenSSL (None: failed)
        if kind == "ed25519":
            global _ed25519_read
            _ed25519_read = True

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
        """RSASSA-PKCS1-v1_5 signature of a sha256 or sha1 hash object."""
        if self.fast is not None:
            sig = self.fast(hashobj)
            if sig is not None:
                return sig          # else as without it
        name, digest = hashobj.name.lower(), hashobj.digest()
        if self.bits >= (OPENSSL_LOADED_FROM_BITS if _ed25519_read or "_hashlib" in sys.modules
                         else OPENSSL_FROM_BITS):
            ossl = _ossl()
            sig = ossl.sign(pkcs1_der(self._rsa), name, digest, (self.bits + 7) // 8) if ossl else None
            if sig is not None:
                return sig
        return rsa_sign_pure(self._rsa, name, digest)

    def sign_ed25519(self, data):
        """RFC 8032 Ed25519 (deterministic: OpenSSL and PyNaCl make the same
        octets); through OpenSSL, PyNaCl where OpenSSL cannot."""
        ossl = _ossl()
        sig = ossl.sign_ed25519(self._seed, data) if ossl else None
        if sig is not None:
            return sig
        from qmail_dkim.dkim.lib import nacl
        return nacl().SigningKey(self._seed).sign(data).signature

    def public_b64(self):
        """The p= value of the key's DNS record."""
        if self.kind == "ed25519":
            from qmail_dkim.dkim.lib import nacl
            raw = bytes(nacl().SigningKey(self._seed).verify_key)
            return binascii.b2a_base64(raw, newline=False).decode("ascii")
        # Tools only (dknewkey -p, dkimtestkey, qmail-dkim-check): not on the
        # signing path, so the cryptography import is affordable here.
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.hazmat.primitives import serialization
        pub = rsa.RSAPublicNumbers(self._rsa["publicExponent"], self._rsa["modulus"]).public_key()
        spki = pub.public_bytes(serialization.Encoding.DER,
                                serialization.PublicFormat.SubjectPublicKeyInfo)
        return binascii.b2a_base64(spki, newline=False).decode("ascii")


def _ossl():
    """dkim/ossl.py, or None where it cannot be imported."""
    try:
        from qmail_dkim.dkim import ossl
    except ImportError:     # no ctypes; or a qmail-dkimd worker that cannot import
        return None         # what its server did not (its account cannot read it)
    return ossl


def rsa_sign_pure(rsa, hash_name, digest):
    """RSASSA-PKCS1-v1_5 in Python (RFC 8017, 8.2.1), with the CRT: the
    octets of dkimpy's dkim.crypto.RSASSA_PKCS1_v1_5_sign and of OpenSSL."""
    size = (rsa["modulus"].bit_length() + 7) // 8
    em = asn1.emsa_pkcs1_v15(hash_name, digest, size)
    if em is None:
        raise ValueError("RSA key of %d bits is too small for %s" % (size * 8, hash_name))
    c = int.from_bytes(em, "big")
    p, q = rsa["prime1"], rsa["prime2"]
    m1 = pow(c, rsa["exponent1"], p)
    m2 = pow(c, rsa["exponent2"], q)
    s = m2 + rsa["coefficient"] * (m1 - m2) % p * q
    # reduced to size octets as dkimpy does (only a key whose numbers
    # disagree can give more)
    return (s & ((1 << 8 * size) - 1)).to_bytes(size, "big")


# -- DER: dkimpy's templates (dkim/crypto.py), read by asn1.parse as dkimpy
# read them, so that the same keys are accepted. The OID of PKCS#8 is not
# looked at (dkimpy did not).
_RSA_PRIVATE_KEY = ((SEQUENCE, ((INTEGER,),) * len(_RSA_FIELDS)),)
_PKCS8_PRIVATE_KEY = ((SEQUENCE, ((INTEGER,), (SEQUENCE, ((OID,), (NULL,))), (OCTET_STRING,))),)


def parse_rsa_der(der):
    """A PKCS#1 RSAPrivateKey or a PKCS#8 PrivateKeyInfo holding one -> dict;
    ValueError if it is neither."""
    try:
        try:
            pka = asn1.parse(_RSA_PRIVATE_KEY, der)
        except asn1.Asn1Error:
            pkt = asn1.parse(_PKCS8_PRIVATE_KEY, der)
            pka = asn1.parse(_RSA_PRIVATE_KEY, pkt[0][2])
    except asn1.Asn1Null:
        raise ValueError("NULL with content")
    return dict(zip(_RSA_FIELDS, pka[0]))


def _der_length(n):
    if n < 0x80:
        return bytes((n,))
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(b),)) + b


def pkcs1_der(rsa):
    """The RSAPrivateKey DER of the numbers we read (two primes, version 0),
    as OpenSSL is given them: it signs with exactly what the Python signer would."""
    body = b"\x02\x01\x00"
    for k in _RSA_FIELDS[1:]:
        v = rsa[k]
        b = v.to_bytes(v.bit_length() // 8 + 1, "big")
        body += b"\x02" + _der_length(len(b)) + b
    return b"\x30" + _der_length(len(body)) + body


def _pem_block(data):
    """(label, base64 text) of the first PEM block, as the regular expression
    -----BEGIN ([A-Z0-9 ]+)-----\\s*(.*?)\\s*-----END \\1----- finds it; None if none."""
    i = data.find(b"-----BEGIN ")
    while i >= 0:
        j = k = i + 11
        while k < len(data) and data[k] in _LABEL:
            k += 1
        if k > j and data.startswith(b"-----", k):
            end = data.find(b"-----END " + data[j:k] + b"-----", k + 5)
            if end >= 0:
                return data[j:k].decode("ascii"), data[k + 5:end].strip(_WS)
        i = data.find(b"-----BEGIN ", i + 1)
    return None


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
    block = _pem_block(data)
    if block:
        label, text = block
        if "ENCRYPTED" in label:
            raise KeyFileError(path, "encrypted private keys are not supported")
        try:
            der = binascii.a2b_base64(text.translate(None, _WS), strict_mode=True)
        except (binascii.Error, ValueError):
            raise KeyFileError(path, "PEM block is not valid base64")
        if label == "PRIVATE KEY" and ED25519_OID_DER in der[:32]:
            try:
                seed = _ed25519_seed_from_pkcs8(der)
            except ValueError as e:
                raise KeyFileError(path, str(e))
            return PrivateKey("ed25519", path, seed=seed, mode=mode)
        if label in ("RSA PRIVATE KEY", "PRIVATE KEY"):
            try:
                rsa = parse_rsa_der(der)
            except ValueError:
                raise KeyFileError(path, "not a parsable RSA or Ed25519 private key")
            if rsa["modulus"] <= 0:
                raise KeyFileError(path, "not a parsable RSA private key")
            return PrivateKey("rsa", path, rsa=rsa, mode=mode)
        raise KeyFileError(path, "unsupported PEM block %r" % label)
    # A bare base64 Ed25519 seed (dkimpy's dknewkey).
    text = data.strip()
    if text and len(text) < 100:
        try:
            raw = binascii.a2b_base64(text, strict_mode=True)
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
