"""Test keys for DKIM: RSA (PKCS#1 / PKCS#8 PEM) and Ed25519 (PKCS#8 PEM or a bare
base64 seed as dkimpy's dknewkey writes it), with their DNS key records.

    k = rsa_key(2048)                 # or rsa_key(1024), ed25519_key()
    k.pem_pkcs1() / k.pem_pkcs8()     # bytes (pem_pkcs1 is RSA only)
    k.seed_b64()                      # bytes, Ed25519 only, no trailing newline (like dknewkey)
    k.public_b64()                    # the p= value
    k.dns_record(t="y", h="sha256")   # 'v=DKIM1; k=rsa; t=y; h=sha256; p=...'
    k.write(path, fmt="pkcs1"|"pkcs8"|"seed", mode=0o600)  -> Path
    install(home, k, "example.com", "default")   # -> home/control/domainkeys/example.com/default

``cached_rsa_key(bits, n)`` / ``cached_ed25519_key(n)`` memoize keys per process
(RSA generation costs ~50-300 ms), ``n`` distinguishes independent keys.
"""
from __future__ import annotations

import base64
import functools
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


@dataclass(frozen=True)
class TestKey:
    kind: str          # "rsa" or "ed25519"
    private: object    # cryptography private key object

    __test__ = False   # not a pytest test class

    @property
    def bits(self) -> int:
        return self.private.key_size if self.kind == "rsa" else 256

    def pem_pkcs1(self) -> bytes:
        """-----BEGIN RSA PRIVATE KEY----- (TraditionalOpenSSL). RSA only."""
        if self.kind != "rsa":
            raise ValueError("PKCS#1 is an RSA format")
        return self.private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.TraditionalOpenSSL,
                                          serialization.NoEncryption())

    def pem_pkcs8(self) -> bytes:
        """-----BEGIN PRIVATE KEY----- (as `openssl genpkey` writes)."""
        return self.private.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())

    def seed(self) -> bytes:
        if self.kind != "ed25519":
            raise ValueError("a seed is an Ed25519 format")
        return self.private.private_bytes(serialization.Encoding.Raw,
                                          serialization.PrivateFormat.Raw,
                                          serialization.NoEncryption())

    def seed_b64(self) -> bytes:
        """Base64 of the 32-byte seed, no newline: dkimpy dknewkey's key file."""
        return base64.b64encode(self.seed())

    def public_raw(self) -> bytes:
        pub = self.private.public_key()
        if self.kind == "rsa":
            return pub.public_bytes(serialization.Encoding.DER,
                                    serialization.PublicFormat.SubjectPublicKeyInfo)
        return pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def public_b64(self) -> str:
        """The p= value: base64 SubjectPublicKeyInfo DER (RSA) or the raw 32-byte key (Ed25519)."""
        return base64.b64encode(self.public_raw()).decode("ascii")

    def dns_record(self, **tags: str) -> str:
        """'v=DKIM1; k=<kind>; <tags...>; p=<key>'. Pass p="" for a revoked key,
        k=... / v=... to override (a tag given as None is left out)."""
        fields = {"v": "DKIM1", "k": self.kind}
        fields.update(tags)
        p = fields.pop("p", self.public_b64())
        parts = [f"{k}={v}" for k, v in fields.items() if v is not None]
        if p is not None:
            parts.append(f"p={p}")
        return "; ".join(parts)

    def write(self, path: str | os.PathLike, fmt: str | None = None, mode: int = 0o600) -> Path:
        """Write the private key. fmt: pkcs1 (RSA default), pkcs8 (Ed25519 default), seed."""
        fmt = fmt or ("pkcs1" if self.kind == "rsa" else "pkcs8")
        data = {"pkcs1": self.pem_pkcs1, "pkcs8": self.pem_pkcs8, "seed": self.seed_b64}[fmt]()
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path


def rsa_key(bits: int = 2048) -> TestKey:
    return TestKey("rsa", rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ed25519_key() -> TestKey:
    return TestKey("ed25519", ed25519.Ed25519PrivateKey.generate())


def load_key(data: bytes) -> TestKey:
    """Parse PEM (PKCS#1/PKCS#8, RSA or Ed25519) or a bare base64 Ed25519 seed."""
    s = data.strip()
    if s.startswith(b"-----"):
        k = serialization.load_pem_private_key(s, password=None)
        if isinstance(k, rsa.RSAPrivateKey):
            return TestKey("rsa", k)
        if isinstance(k, ed25519.Ed25519PrivateKey):
            return TestKey("ed25519", k)
        raise ValueError(f"unsupported key type {type(k).__name__}")
    raw = base64.b64decode(s, validate=True)
    if len(raw) != 32:
        raise ValueError("not a 32-byte Ed25519 seed")
    return TestKey("ed25519", ed25519.Ed25519PrivateKey.from_private_bytes(raw))


def as_test_key(key) -> TestKey:
    """TestKey from a TestKey, a path to a key file, or key bytes."""
    if isinstance(key, TestKey):
        return key
    if isinstance(key, (bytes, bytearray)):
        return load_key(bytes(key))
    return load_key(Path(key).read_bytes())


@functools.lru_cache(maxsize=None)
def cached_rsa_key(bits: int = 2048, n: int = 0) -> TestKey:
    return rsa_key(bits)


@functools.lru_cache(maxsize=None)
def cached_ed25519_key(n: int = 0) -> TestKey:
    return ed25519_key()


def install(home, key: TestKey, domain: str | None = "example.com", selector: str = "default",
            fmt: str | None = None, mode: int = 0o600) -> Path:
    """Write key as QMAILHOME's control/domainkeys/<domain>/<selector> (domain None:
    control/domainkeys/<selector>, the fallback key). Returns the path."""
    d = Path(home) / "control" / "domainkeys"
    return key.write((d / domain if domain else d) / selector, fmt=fmt, mode=mode)


def generator_key_files(directory, bits: int = 1024) -> dict:
    """Key files as each key generator writes them, in directory -> {name: Path}:
    openssl-rsa / openssl-rsa-traditional: openssl genrsa (PKCS#8 since
    OpenSSL 3; -traditional: PKCS#1), openssl-pkey-*: openssl genpkey (RSA, Ed25519), qmail-dknewkey (RSA, Ed25519: PKCS#8) and dkimpy's
    dknewkey (RSA through openssl genrsa, Ed25519 as a bare base64 seed)."""
    import subprocess
    from dkim import dknewkey as dkimpy_dknewkey
    from qmail_dkim.tools import dknewkey
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    out = {}
    for name, argv in (
            ("openssl-rsa", ["openssl", "genrsa", "-out", "F", str(bits)]),
            ("openssl-rsa-traditional", ["openssl", "genrsa", "-traditional", "-out", "F",
                                         str(bits)]),
            ("openssl-pkey-rsa", ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                                  "rsa_keygen_bits:%d" % bits, "-out", "F"]),
            ("openssl-pkey-ed25519", ["openssl", "genpkey", "-algorithm", "ed25519",
                                      "-out", "F"])):
        out[name] = d / name
        subprocess.run([str(out[name]) if a == "F" else a for a in argv], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for kind in ("rsa", "ed25519"):
        out["qmail-dknewkey-" + kind] = d / ("qmail-dknewkey-" + kind)
        out["qmail-dknewkey-" + kind].write_bytes(dknewkey.generate(kind, bits)[0])
    saved = dkimpy_dknewkey.BITS_REQUIRED
    dkimpy_dknewkey.BITS_REQUIRED = bits
    try:
        out["dkimpy-dknewkey-rsa"] = d / "dkimpy-dknewkey-rsa"
        dkimpy_dknewkey.GenRSAKeys(str(out["dkimpy-dknewkey-rsa"]), verbose=False)
    finally:
        dkimpy_dknewkey.BITS_REQUIRED = saved
    out["dkimpy-dknewkey-ed25519"] = d / "dkimpy-dknewkey-ed25519"
    dkimpy_dknewkey.GenEd25519Keys(str(out["dkimpy-dknewkey-ed25519"]), verbose=False)
    return out


def ec_key_pkcs8() -> bytes:
    """A P-256 key in PKCS#8 PEM: a PRIVATE KEY that is neither RSA nor Ed25519."""
    from cryptography.hazmat.primitives.asymmetric import ec
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
