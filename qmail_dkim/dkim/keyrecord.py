"""Parsing a DKIM key record (RFC 6376 section 3.6.1, RFC 8463 for Ed25519).

    rec = parse_key_record(b"v=DKIM1; k=rsa; p=MIIBIjAN...")
    rec.k, rec.bits, rec.public_key()

parse_key_record raises KeyRecordError(letter, reason) with the
letters of qmail-dkim(8), VERIFICATION, checked in this order:

  L  tag-list unparsable, v= present and not "DKIM1", p= missing,
     k= not rsa/ed25519, s= not listing "email" or "*"
  N  p= empty (key revoked)
  R  p= not a key of type k= (bad base64, not an RSA public key, Ed25519 key
     not 32 octets), RSA key shorter than 1024 bits (RFC 8301), RSA key over
     16384 bits or with an even exponent or one over 64 bits (bounds on the
     arithmetic a stranger's key record can make us do)

The checks that depend on the signature (V: h=/k= against a=, M: g= against
i=) are methods, used by the verifier in its own order.

dkimpy's evaluate_pk() does part of this but reports every problem as one
KeyFormatError and ignores h=, g= and t=; the tags are parsed with dkimpy's
parse_tag_value and the RSA key with dkimpy's parse_public_key, the rest
(telling the letters apart) is here.
"""
import base64
import binascii
import re

from qmail_dkim.dkim.lib import dkim
import dkim.util  # noqa: E402 - tag-list parsing (imports logging; verify path only)
from qmail_dkim.dkim.text import short  # noqa: E402

MIN_RSA_BITS = 1024
# Bounds against keys that cost minutes of arithmetic (pow with a huge
# modulus and exponent): no real DKIM key comes near them.
MAX_RSA_BITS = 16384
MAX_RSA_EXPONENT_BITS = 64
KNOWN_KEY_TYPES = (b"rsa", b"ed25519")
# a= of a signature -> (key type, hash)
SIG_ALGORITHMS = {
    b"rsa-sha256": (b"rsa", b"sha256"),
    b"rsa-sha1": (b"rsa", b"sha1"),
    b"ed25519-sha256": (b"ed25519", b"sha256"),
}

_B64 = re.compile(rb"^[A-Za-z0-9+/]*={0,2}$")
_WS = re.compile(rb"[ \t\r\n]+")


class LetterError(Exception):
    """A verify-mode letter (qmail-dkim(8), VERIFICATION) and the reason:
    the base of KeyRecordError and dkim.verifier.Invalid."""

    def __init__(self, letter, reason):
        super().__init__(reason)
        self.letter = letter
        self.reason = reason


class KeyRecordError(LetterError):
    pass


def _colon_list(value):
    """'a : b:c' -> [b'a', b'b', b'c'] (lowercase, FWS removed, empties dropped)."""
    return [x for x in (_WS.sub(b"", v).lower() for v in value.split(b":")) if x]


def b64decode_strict(value):
    """base64 with FWS removed; raises ValueError for anything else."""
    v = _WS.sub(b"", value)
    if not _B64.match(v) or len(v) % 4:
        raise ValueError("not base64")
    try:
        return base64.b64decode(v, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64: %s" % e)


class KeyRecord:
    def __init__(self, tags):
        self.tags = tags                                     # raw dict bytes -> bytes
        self.v = tags.get(b"v")
        self.k = _WS.sub(b"", tags.get(b"k", b"rsa")).lower()
        self.h = _colon_list(tags[b"h"]) if b"h" in tags else None   # None: any
        self.s = _colon_list(tags.get(b"s", b"*"))
        self.t = _colon_list(tags.get(b"t", b""))
        self.g = tags.get(b"g")                             # None: any (RFC 4871)
        self.n = tags.get(b"n")
        self.p = _WS.sub(b"", tags.get(b"p", b""))
        self.key_bytes = b""
        self.bits = 0
        self._rsa = None
        self._ed = None

    # t= flags
    @property
    def testing(self):
        return b"y" in self.t

    @property
    def strict_identity(self):
        return b"s" in self.t

    def public_key(self):
        """RSA: dkimpy's dict {'modulus', 'publicExponent'} (for
        dkim.crypto.RSASSA_PKCS1_v1_5_verify). Ed25519: nacl VerifyKey."""
        if self.k == b"rsa":
            return self._rsa
        if self._ed is None:
            from qmail_dkim.dkim.lib import nacl
            self._ed = nacl().VerifyKey(self.key_bytes)
        return self._ed

    # V: does the key fit a signature's a=?
    def algorithm_mismatch(self, a):
        """None if a= (bytes, e.g. b'rsa-sha256') fits k= and h=, else a reason."""
        ktype, hashname = SIG_ALGORITHMS.get(a.lower(), (None, None))
        if ktype is None:
            return "unknown a=%s" % a.decode("ascii", "replace")
        if ktype != self.k:
            return "key k=%s does not fit a=%s" % (self.k.decode("ascii", "replace"),
                                                  a.decode("ascii", "replace"))
        if self.h is not None and hashname not in self.h:
            return "key h=%s excludes %s" % (b":".join(self.h).decode("ascii", "replace"),
                                             hashname.decode())
        return None

    # M: does g= match the local part of i=?
    def granularity_matches(self, local_part):
        """RFC 4871 3.6.1 g=: '*' matches anything, at most one '*' as a
        wildcard, empty g= matches nothing. Absent g=: matches."""
        if self.g is None:
            return True
        g = _WS.sub(b"", self.g)
        if g == b"*":
            return True
        if g == b"":
            return False
        if local_part is None:
            local_part = b""
        if b"*" in g:
            pre, _, post = g.partition(b"*")
            if b"*" in post:
                return False
            return (len(local_part) >= len(pre) + len(post)
                    and local_part.startswith(pre) and local_part.endswith(post))
        return local_part == g


def parse_key_record(txt):
    """bytes (one TXT record, strings joined) -> KeyRecord, or KeyRecordError."""
    if isinstance(txt, str):
        txt = txt.encode("utf-8", "surrogateescape")
    try:
        tags = dkim.util.parse_tag_value(txt)
    except dkim.util.InvalidTagValueList as e:
        raise KeyRecordError("L", "key record unparsable: %s" % _short(e))
    except Exception as e:          # noqa: BLE001 - any garbage is L, never a crash
        raise KeyRecordError("L", "key record unparsable: %s" % _short(e))
    rec = KeyRecord(tags)
    if rec.v is not None and rec.v != b"DKIM1":
        raise KeyRecordError("L", "key record v=%s is not DKIM1" % _short(rec.v))
    if b"p" not in tags:
        raise KeyRecordError("L", "key record has no p=")
    if rec.k not in KNOWN_KEY_TYPES:
        raise KeyRecordError("L", "key record k=%s unknown" % _short(rec.k))
    if b"*" not in rec.s and b"email" not in rec.s:
        raise KeyRecordError("L", "key record s=%s excludes email" % _short(tags.get(b"s")))
    if not rec.p:
        raise KeyRecordError("N", "key revoked (empty p=)")
    try:
        rec.key_bytes = b64decode_strict(rec.p)
    except ValueError:
        raise KeyRecordError("R", "key p= is not base64")
    if rec.k == b"rsa":
        try:
            rec._rsa = dkim.crypto.parse_public_key(rec.key_bytes)
            mod = rec._rsa["modulus"]
            exp = rec._rsa["publicExponent"]
        except Exception as e:      # noqa: BLE001 - dkimpy's ASN.1 parser raises several types
            raise KeyRecordError("R", "key p= is not an RSA public key: %s" % _short(e))
        if not isinstance(mod, int) or not isinstance(exp, int) or mod <= 0 or exp <= 1:
            raise KeyRecordError("R", "key p= is not an RSA public key")
        rec.bits = mod.bit_length()
        if rec.bits < MIN_RSA_BITS:
            raise KeyRecordError("R", "RSA key is %d bits, less than %d" % (rec.bits, MIN_RSA_BITS))
        if rec.bits > MAX_RSA_BITS or exp.bit_length() > MAX_RSA_EXPONENT_BITS or not exp & 1:
            raise KeyRecordError("R", "RSA key out of bounds (%d bits, exponent %d bits)"
                                 % (rec.bits, exp.bit_length()))
    else:
        if len(rec.key_bytes) != 32:
            raise KeyRecordError("R", "Ed25519 key p= is %d octets, not 32" % len(rec.key_bytes))
        rec.bits = 256
    return rec


def _short(x):
    return short(x, 60, "ascii")    # key records are ASCII text
