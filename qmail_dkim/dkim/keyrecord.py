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
KeyFormatError and ignores h=, g= and t=. The tag-list parser
(parse_tag_list, also for DKIM-Signature and ARC fields) and the RSA key
reader are ours, with dkimpy's parse_tag_value and parse_public_key's
outcomes (tests/test_taglist.py compares them on random input): dkimpy's
module for the one imports logging, threading and traceback, its other
needs hashlib, re and base64 -- start-up cost on every verified message
(qmail-dkimd(8), SPEED).
"""
import binascii

from qmail_dkim.dkim import asn1
from qmail_dkim.dkim.asn1 import BIT_STRING, INTEGER, NULL, OID, SEQUENCE
from qmail_dkim.dkim.text import short

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

_B64ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_FWS = b" \t\r\n"            # what removing FWS takes out (RFC 6376 3.2: WSP, CR, LF)


class LetterError(Exception):
    """A verify-mode letter (qmail-dkim(8), VERIFICATION) and the reason:
    the base of KeyRecordError and dkim.verifier.Invalid."""

    def __init__(self, letter, reason):
        super().__init__(reason)
        self.letter = letter
        self.reason = reason


class KeyRecordError(LetterError):
    pass


# ------------------------------------------------------------- tag lists

class TagListError(ValueError):
    """A tag-list that does not parse; args[0] is the offending tag-spec
    (dkimpy's InvalidTagValueList)."""


class DuplicateTag(TagListError):
    """A tag given twice; args[0] is its name (dkimpy's DuplicateTag)."""


def parse_tag_list(tag_list):
    """An RFC 6376 section 3.2 tag-list (bytes) -> {name: value} (bytes,
    white space around names and values stripped, inner FWS kept).

    Written here rather than imported from dkimpy (dkim.util imports
    logging: start-up cost on every verified message, qmail-dkimd(8),
    SPEED), with the outcomes of its parse_tag_value, which the letters
    were built on: a trailing ";" is allowed; a tag-spec without "=", an
    empty one, or a name not starting with a letter raises TagListError;
    a name given twice raises DuplicateTag. tests/test_taglist.py checks
    both agree on random input."""
    tags = {}
    specs = tag_list.strip().split(b";")
    if not specs[-1]:
        specs.pop()                 # trailing semicolons are valid
    for spec in specs:
        name, eq, value = spec.partition(b"=")
        if not eq:
            raise TagListError(spec)
        name = name.strip()
        # ALPHA first (bytes.isalpha is ASCII only); dkimpy checks no more of it
        if not name[:1].isalpha():
            raise TagListError(spec)
        if name in tags:
            raise DuplicateTag(name)
        tags[name] = value.strip()
    return tags


def strip_fws(value):
    """bytes without the white space FWS consists of (SP, HTAB, CR, LF)."""
    return value.translate(None, _FWS)


def _colon_list(value):
    """'a : b:c' -> [b'a', b'b', b'c'] (lowercase, FWS removed, empties dropped)."""
    return [x for x in (strip_fws(v).lower() for v in value.split(b":")) if x]


def b64decode_strict(value):
    """base64 with FWS removed; raises ValueError for anything else: only
    the alphabet, at most two "=" and only at the end, a multiple of 4
    long. (binascii, not the base64 module: the same decoder without its
    imports, start-up cost on the per-message path, qmail-dkimd(8), SPEED.)"""
    v = strip_fws(value)
    data = v.rstrip(b"=")
    if len(v) - len(data) > 2 or len(v) % 4 or data.translate(None, _B64ALPHABET):
        raise ValueError("not base64")
    try:
        return binascii.a2b_base64(v, strict_mode=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("not base64: %s" % e)


# ------------------------------------------------------------- RSA keys

# RFC 8017 / RFC 5280 SubjectPublicKeyInfo holding an RSAPublicKey, and the
# bare RSAPublicKey that some DKIM records carry: the templates of dkimpy's
# crypto.py.
_SPKI = ((SEQUENCE, ((SEQUENCE, ((OID,), (NULL,))), (BIT_STRING,))),)
_RSA_PUBLIC_KEY = ((SEQUENCE, ((INTEGER,), (INTEGER,))),)


def rsa_public_key(data):
    """DER SubjectPublicKeyInfo or bare RSAPublicKey -> {'modulus': n,
    'publicExponent': e}; ValueError otherwise. dkimpy's parse_public_key,
    same results (compared on random input in tests/test_taglist.py)."""
    try:
        try:
            x = asn1.parse(_SPKI, data)
            pkd = asn1.parse(_RSA_PUBLIC_KEY, x[0][1][1:])
        except asn1.Asn1Error as e_spki:
            try:
                pkd = asn1.parse(_RSA_PUBLIC_KEY, data)
            except asn1.Asn1Error as e_rsa:
                raise ValueError("Unparsable public key; SubjectPublicKeyInfo: %s; RSAPublicKey: %s"
                                 % (e_spki, e_rsa))
    except asn1.Asn1Null:
        raise ValueError("")
    return {"modulus": pkd[0][0], "publicExponent": pkd[0][1]}


class KeyRecord:
    def __init__(self, tags):
        self.tags = tags                                     # raw dict bytes -> bytes
        self.v = tags.get(b"v")
        self.k = strip_fws(tags.get(b"k", b"rsa")).lower()
        self.h = _colon_list(tags[b"h"]) if b"h" in tags else None   # None: any
        self.s = _colon_list(tags.get(b"s", b"*"))
        self.t = _colon_list(tags.get(b"t", b""))
        self.g = tags.get(b"g")                             # None: any (RFC 4871)
        self.n = tags.get(b"n")
        self.p = strip_fws(tags.get(b"p", b""))
        self.key_bytes = b""
        self.bits = 0
        self._rsa = None

    # t= flags
    @property
    def testing(self):
        return b"y" in self.t

    @property
    def strict_identity(self):
        return b"s" in self.t

    def public_key(self):
        """RSA: the dict {'modulus', 'publicExponent'} (dkimpy's form, for
        dkim.verifier.rsa_verify). Ed25519: the 32 octets of the key (for
        dkim.verifier.ed25519_verify)."""
        if self.k == b"rsa":
            return self._rsa
        return self.key_bytes

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
        g = strip_fws(self.g)
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
        tags = parse_tag_list(txt)
    except TagListError as e:
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
            rec._rsa = rsa_public_key(rec.key_bytes)
            mod = rec._rsa["modulus"]
            exp = rec._rsa["publicExponent"]
        except ValueError as e:
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
