"""Per-signature DKIM verification (qmail-dkim(8), VERIFICATION).

Each DKIM-Signature field gets one letter. The checks run in this order and
the first that fails decides:

  H  tag-list unparsable; a required tag (v a b bh d h s) missing or given
     twice; bad base64 in b= or bh=; unknown a= or c=; a=rsa-sha1 (RFC 8301);
     d=, s=, h=, i=, l=, q=, t=, x= malformed; x= earlier than t=
  W  v= is not 1
  Y  i= is not in d= or a subdomain of it
  X  h= names From fewer times than the message has From: fields (RFC 6376
     section 8.15: an extra unsigned From: must not pass); with
     UNSIGNED_FROM set, only when h= does not include From at all
  K  x= is in the past (no grace)
  O  <s>._domainkey.<d> over 253 octets, or a label over 63
  P  key lookup: DNS timeout, SERVFAIL, REFUSED, no answer, DNS time budget
     used up
  Q  key lookup: NXDOMAIN or no TXT record at the name
  L  N  R   key record (see keyrecord.py)
  Y  key has t=s and i= is a subdomain of d=
  V  key k= does not fit a=, or key h= excludes the signature's hash
  M  key g= does not match the local part of i=
  U  body hash mismatch (also: l= longer than the body)
  I  signature does not verify
  J  instead of I or U when the key has t=y
  A  verifies; F instead when d= is neither the From: domain nor a parent of
     it and signing practice is disabled; E instead when l= leaves body
     content unsigned (A when HONOR_BODYLENGTHTAG is set)

Limits (so a message cannot make us work or wait without bound):

  * only the first MAX_SIGNATURES (10) DKIM-Signature fields, in header order,
    are evaluated; further ones are ignored (counted in the log as ignored=);
  * each DNS lookup is bounded by $DKIMDNSTIMEOUT (default 5 s), and all
    lookups for one message together (keys and practice) by
    verify/keys.py's DNS_BUDGET_FACTOR (3) times that; a key lookup after
    the budget is used up gets P;
  * the same key name is looked up once per message (verify/keys.py).

Key records come from the `keys` object the caller passes (verify/keys.py:
$SELECTOR_DATA or bounded DNS); this module asks no DNS itself.

Library use: tags are parsed with keyrecord.parse_tag_list (dkimpy's
parse_tag_value's outcomes), RSA signatures checked by rsa_verify below
(RFC 8017 RSASSA-PKCS1-v1_5, as dkimpy's), Ed25519 ones by ed25519_verify
(RFC 8032, with libsodium's checks, as PyNaCl's); the syntax
checks are plain bytes and str operations, no regular expressions. All of
that instead of dkimpy's modules and `re` for their imports (logging,
hashlib, base64, enum...): start-up cost on every verified message
(qmail-dkimd(8), SPEED). dkimpy's own verify() is not used: it reports
most failures as one exception or False, allows 10 hours of grace on x=,
fetches keys with its own unbounded DNS plug-in and adds the extra-From
hack; the letters need the finer checks below. Header hashing is
headerhash.py (shared with the signer).
"""
import time

from qmail_dkim.dkim import asn1, headerhash
from qmail_dkim.dkim.bodyhash import BodyHasher, hash_bodies, new_hash
from qmail_dkim.dkim.text import domain_key, short
from qmail_dkim.dkim.keyrecord import (DuplicateTag, KeyRecordError, LetterError, TagListError,
                                       b64decode_strict, parse_key_record, parse_tag_list,
                                       strip_fws)

MAX_SIGNATURES = 10
REQUIRED = (b"v", b"a", b"b", b"bh", b"d", b"h", b"s")
ALGORITHMS = {b"rsa-sha256": "sha256", b"ed25519-sha256": "sha256"}
CANONICALIZATIONS = (b"simple", b"relaxed")

# h= names: printable ASCII but ":" (RFC 5322 ftext); what translate() leaves
# of a name is what is not allowed in it.
_FTEXT = bytes(range(0x21, 0x3A)) + bytes(range(0x3B, 0x7F))
# domain labels after IDNA: LDH plus "_" (RFC 6376 3.5: selectors and d=)
_LABEL_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
_HEX = b"0123456789ABCDEFabcdef"


class Invalid(LetterError):
    pass


class SigResult:
    """One DKIM-Signature field and its outcome."""

    def __init__(self, index, field):
        self.index = index
        self.field = field
        self.letter = None
        self.reason = None
        self.tags = {}
        self.d = None          # A-label, lowercase (str) once valid
        self.s = None          # str
        self.a = None          # bytes, lowercase
        self.b = None          # decoded signature
        self.b_text = b""      # b= without FWS (header.b)
        self.bh = None
        self.canon = None
        self.hlist = []
        self.i_local = b""
        self.i_domain = None
        self.l = None
        self.t = None          # t= (int) once valid
        self.x = None          # x= (int) once valid
        self.key = None
        self.body = None       # BodyHasher used for this signature
        self.third_party = False  # verified, but d= is not the author's domain or a parent

    @property
    def header_b(self):
        return self.b_text[:8].decode("ascii", "replace") if self.b_text else None

    def set(self, letter, reason):
        self.letter = letter
        self.reason = reason
        return self

    def __repr__(self):
        return "SigResult(#%d %s %r d=%s s=%s)" % (self.index, self.letter, self.reason, self.d, self.s)


# ------------------------------------------------------------- tag checks

def norm_domain(raw, what):
    """bytes -> lowercase A-label str, or Invalid('H')."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Invalid("H", "%s= is not UTF-8" % what)
    text = domain_key(text)
    if not text:
        raise Invalid("H", "%s= is empty" % what)
    labels = []
    for label in text.split("."):
        if not label.isascii():
            try:
                label = label.encode("idna").decode("ascii")
            except UnicodeError:
                raise Invalid("H", "%s= has a label that is not a valid IDN" % what)
        if not label or label.strip(_LABEL_CHARS) or "-" in (label[0], label[-1]):
            raise Invalid("H", "%s= is not a domain name" % what)
        labels.append(label)
    return ".".join(labels)


def qp_decode(value):
    """dkim-quoted-printable (RFC 6376 2.11): =XX escapes, FWS dropped."""
    value = strip_fws(value)
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c == 0x3D:       # '='
            h = value[i + 1:i + 3]
            if len(h) != 2 or h.translate(None, _HEX):
                raise Invalid("H", "i= has a bad =XX escape")
            out.append(int(h, 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _b64(value, what):
    try:
        data = b64decode_strict(value)
    except ValueError:
        raise Invalid("H", "%s= is not valid base64" % what)
    if not data:
        raise Invalid("H", "%s= is empty" % what)
    return data


def check_tags(sig, opts, from_count):
    """H, W, Y (i= vs d=), X, K, O, in that order. Raises Invalid."""
    _check_syntax(sig)
    # W
    v = strip_fws(sig.tags[b"v"])
    if v != b"1":
        raise Invalid("W", "v=%s is not 1" % short(v))
    # Y (the t=s part follows once the key is known)
    if sig.i_domain is not None and not _in_domain(sig.i_domain, sig.d):
        raise Invalid("Y", "i= domain %s is not in d=%s" % (sig.i_domain, sig.d))
    _check_from(sig, opts, from_count)
    # K
    if sig.x is not None and sig.x < opts.now:
        raise Invalid("K", "signature expired (x=%d)" % sig.x)
    # O
    name = key_name(sig)
    if len(name) > 253 or any(len(label) > 63 for label in name.split(".")):
        raise Invalid("O", "key name %s... too long" % name[:40])


def _tag_list(sig):
    """H: the tag list parses, each required tag once. Sets sig.tags."""
    try:
        tags = parse_tag_list(sig.field.value)
    except DuplicateTag as e:
        raise Invalid("H", "tag %s given twice" % short(e.args[0] if e.args else b"?"))
    except TagListError as e:
        raise Invalid("H", "tag list unparsable: %s" % short(e))
    sig.tags = tags
    for t in REQUIRED:
        if t not in tags:
            raise Invalid("H", "no %s= tag" % t.decode())
    return tags


def _number(tags, name, digits=40):
    """Tag `name` as an int (FWS removed), None when absent; H when it is
    not 1 to `digits` ASCII digits."""
    if name not in tags:
        return None
    value = strip_fws(tags[name])
    if not 0 < len(value) <= digits or not value.isdigit():     # bytes: ASCII digits only
        raise Invalid("H", "%s= is not a number" % name.decode())
    return int(value)


def _check_syntax(sig):
    """H: every tag well-formed. Sets the parsed values on sig."""
    tags = _tag_list(sig)
    # d= and s= first, so that later failures can still name them
    # (parse_tag_list stripped the ends; FWS inside a name is an error)
    sig.d = norm_domain(tags[b"d"], "d")
    sig.s = norm_domain(tags[b"s"], "s")
    a = strip_fws(tags[b"a"]).lower()
    sig.a = a
    if a == b"rsa-sha1":
        raise Invalid("H", "a=rsa-sha1 is not allowed (RFC 8301)")
    if a not in ALGORITHMS:
        raise Invalid("H", "unknown a=%s" % short(a))
    sig.b_text = strip_fws(tags[b"b"])
    sig.b = _b64(tags[b"b"], "b")
    sig.bh = _b64(tags[b"bh"], "bh")
    c = strip_fws(tags.get(b"c", b"simple/simple")).lower()
    sig.canon = parse_c(c)
    if sig.canon is None:
        raise Invalid("H", "unknown c=%s" % short(c))
    hlist = [strip_fws(h).lower() for h in tags[b"h"].split(b":")]
    if not hlist or not all(h and not h.translate(None, _FTEXT) for h in hlist):
        raise Invalid("H", "h= is not a list of header names")
    sig.hlist = hlist
    if b"i" in tags:
        ident = qp_decode(tags[b"i"])
        if b"@" not in ident:
            raise Invalid("H", "i= has no @")
        local, _, idom = ident.rpartition(b"@")
        sig.i_local = local
        sig.i_domain = norm_domain(idom, "i")
    sig.l = _number(tags, b"l", 76)
    if b"q" in tags:
        methods = [strip_fws(m).lower() for m in tags[b"q"].split(b":")]
        if b"dns/txt" not in methods:
            raise Invalid("H", "q= does not offer dns/txt")
    sig.t = _number(tags, b"t")
    sig.x = _number(tags, b"x")
    if sig.t is not None and sig.x is not None and sig.x < sig.t:
        raise Invalid("H", "x= is earlier than t=")


def parse_c(c):
    """c= (FWS removed, lowercase) -> (header, body) canonicalization names
    (bytes), None when unknown. "x" alone is "x/simple" (RFC 6376 3.5), as
    dkimpy's CanonicalizationPolicy.from_c_value takes it."""
    parts = c.split(b"/")
    if len(parts) == 1:
        parts.append(b"simple")
    if len(parts) != 2 or parts[0] not in CANONICALIZATIONS or parts[1] not in CANONICALIZATIONS:
        return None
    return parts[0], parts[1]


def _check_from(sig, opts, from_count):
    """X: From is signed; every From: field unless UNSIGNED_FROM is set."""
    if b"from" not in sig.hlist:
        raise Invalid("X", "h= does not include From")
    # UNSIGNED_FROM (set, even empty) relaxes this as C's libdkim does
    # (nAllowUnsignedFromHeaders). UNSIGNED_SUBJECT needs no check here: an
    # unsigned Subject is always accepted (see COMPATIBILITY in qmail-dkim(8)).
    if not opts.unsigned_from and sig.hlist.count(b"from") < from_count:
        raise Invalid("X", "%d From: fields, h= signs %d" % (from_count, sig.hlist.count(b"from")))


def _in_domain(sub, domain):
    return sub == domain or sub.endswith("." + domain)


def key_name(sig):
    return "%s._domainkey.%s" % (sig.s, sig.d)


# ------------------------------------------------------------- keys

def check_key(sig, keys):
    """P, Q, L, N, R, Y (t=s), V, M. Sets sig.key. Raises Invalid.
    `keys.records(name)` gives the TXT records or raises Invalid P/Q (verify
    mode's KeySource: the lookup is injected, dkim/ asks no DNS itself)."""
    name = key_name(sig)
    records = keys.records(name)
    first_error = None
    for rec in records:
        try:
            sig.key = parse_key_record(rec)
            break
        except KeyRecordError as e:
            if first_error is None:
                first_error = e
    if sig.key is None:
        if first_error is None:
            raise Invalid("Q", "key lookup %s: no TXT record" % name)
        raise Invalid(first_error.letter, first_error.reason)
    key = sig.key
    if key.strict_identity and sig.i_domain is not None and sig.i_domain != sig.d:
        raise Invalid("Y", "key has t=s and i= domain %s is not d=%s" % (sig.i_domain, sig.d))
    mismatch = key.algorithm_mismatch(sig.a)
    if mismatch:
        raise Invalid("V", mismatch)
    if not key.granularity_matches(sig.i_local):
        raise Invalid("M", "key g= does not match i=")


# ------------------------------------------------------------- hashing

def header_hash(sig, fields):
    """The hash object over the signed header fields and the signature field."""
    f = sig.field
    return headerhash.header_hash(sig.canon, ALGORITHMS[sig.a], fields, sig.hlist,
                                  f.raw[:f.colon - 1], f.crlf_value())


def rsa_verify(digest, signature, pk):
    """RSASSA-PKCS1-v1_5 verification (RFC 8017 8.2.2) of a SHA-256 digest
    with pk = {'modulus', 'publicExponent'}: the EMSA-PKCS1-v1_5 encoding
    compared in full. The signature must be exactly k octets and below n
    (dkimpy reduces it mod n, which accepts s + n too). Ours, not dkimpy's
    RSASSA_PKCS1_v1_5_verify (the same arithmetic: pow), whose module imports
    hashlib, re and base64 -- start-up cost on every verified message
    (qmail-dkimd(8), SPEED)."""
    n = pk["modulus"]
    k = (n.bit_length() + 7) // 8
    if len(signature) != k or len(digest) != 32:
        return False
    s = int.from_bytes(signature, "big")
    if s >= n:
        return False
    want = asn1.emsa_pkcs1_v15("sha256", digest, k)
    if want is None:
        return False                # "intended encoded message length too short"
    return pow(s, pk["publicExponent"], n).to_bytes(k, "big") == want


# Ed25519 (RFC 8032 5.1), verification only: nothing secret, so plain
# variable-time integer arithmetic. Ours rather than PyNaCl's, whose import
# (cffi, libsodium, typing, re, enum...) costs some 40-70 ms on this 2-core
# machine, several times a whole verify run; this costs ~7 ms per signature:
# start-up cost on the per-message path (qmail-dkimd(8), SPEED).
# tests/test_taglist.py compares it with PyNaCl on valid, altered and
# crafted signatures and keys.
_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = 37095705934669439343138083508754565189542113879843219016388785533085940283555  # -121665/121666
_D2 = 2 * _D % _P
_SQRTM1 = 19681161376707505956807079304988542015446066515923890162744021073123829784752
_BASE = (15112221349535400772501151409588531511454012693041857206046113283949847762202,
         46316835694926478169428394003475163141307993866256225615783033603165251855960, 1,
         46827403850823179245072216630277197565144205554125654976674165829533817101731)
# y of the points of small order (the 8-torsion), also as the unreduced
# encodings p and p+1, as libsodium's blocklist has them
_Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022
_SMALL_ORDER_Y = frozenset([0, 1, _Y8, _P - _Y8, _P - 1, _P, _P + 1])
_MASK255 = (1 << 255) - 1


def _ed_add(p1, p2):
    """Extended coordinates (X, Y, Z, T), RFC 8032 5.1.4."""
    x1, y1, z1, t1 = p1
    x2, y2, z2, t2 = p2
    a = (y1 - x1) * (y2 - x2) % _P
    b = (y1 + x1) * (y2 + x2) % _P
    c = t1 * _D2 * t2 % _P
    d = z1 * 2 * z2 % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _ed_double(p1):
    x1, y1, z1, _ = p1
    a = x1 * x1 % _P
    b = y1 * y1 % _P
    c = 2 * z1 * z1 % _P
    h = a + b
    e = h - (x1 + y1) * (x1 + y1) % _P
    g = a - b
    f = c + g
    return e * f % _P, g * h % _P, f * g % _P, e * h % _P


def _ed_decode(s):
    """RFC 8032 5.1.3 point decoding (y taken mod p), None when x^2 has no root."""
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y = (y & _MASK255) % _P
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x = u * pow(v, 3, _P) * pow(u * pow(v, 7, _P), (_P - 5) // 8, _P) % _P
    vxx = v * x * x % _P
    if vxx != u:
        if vxx != (-u) % _P:
            return None
        x = x * _SQRTM1 % _P
    if (x & 1) != sign:
        x = (-x) % _P
    return x, y, 1, x * y % _P


def _ed_encode(pt):
    x, y, z, _ = pt
    zi = pow(z, _P - 2, _P)
    x, y = x * zi % _P, y * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def _ed_double_mul(a, pa, b, pb):
    """[a]pa + [b]pb with one chain of doublings (Straus)."""
    table = (None, pa, pb, _ed_add(pa, pb))
    q = (0, 1, 1, 0)
    for i in range(max(a.bit_length(), b.bit_length()) - 1, -1, -1):
        q = _ed_double(q)
        k = ((a >> i) & 1) | (((b >> i) & 1) << 1)
        if k:
            q = _ed_add(q, table[k])
    return q


def _sha512(data):
    try:
        from _sha512 import sha512          # built in (3.11); no OpenSSL load
    except ImportError:
        try:
            from _sha2 import sha512        # 3.12 and later
        except ImportError:                 # built without them: OpenSSL's
            return new_hash("sha512", data).digest()
    return sha512(data).digest()


def ed25519_verify(pk, msg, signature):
    """RFC 8032 Ed25519 verification of `msg` (bytes) with the 32-octet key
    `pk`, with libsodium's checks first (crypto_sign_verify_detached): S
    below the group order, neither R nor the key of small order, the key's
    y below p; then R == [S]B - [SHA-512(R || A || msg)]A, compared as
    encodings."""
    if len(signature) != 64 or len(pk) != 32:
        return False
    r, s = signature[:32], int.from_bytes(signature[32:], "little")
    if s >= _L or int.from_bytes(r, "little") & _MASK255 in _SMALL_ORDER_Y:
        return False
    ay = int.from_bytes(pk, "little") & _MASK255
    if ay >= _P or ay in _SMALL_ORDER_Y:
        return False
    a = _ed_decode(pk)
    if a is None:
        return False
    h = int.from_bytes(_sha512(r + pk + msg), "little") % _L
    neg_a = ((-a[0]) % _P, a[1], a[2], (-a[3]) % _P)
    return _ed_encode(_ed_double_mul(s, _BASE, h, neg_a)) == r


def verify_signature(sig, hasher):
    """True if b= is a valid signature over the hash."""
    key = sig.key
    if key.k == b"rsa":
        return rsa_verify(hasher.digest(), sig.b, key.public_key())
    return ed25519_verify(key.public_key(), hasher.digest(), sig.b)


# ------------------------------------------------------------- driver

class Options:
    """What the letters depend on besides the message and the key."""

    def __init__(self, from_domain, practice_disabled, now=None, honor_l=False,
                 unsigned_from=False):
        self.from_domain = from_domain              # the From: domain (A-label) or None
        self.practice_disabled = practice_disabled  # F instead of A for third parties
        self.honor_l = honor_l                      # HONOR_BODYLENGTHTAG: A instead of E
        self.unsigned_from = unsigned_from          # UNSIGNED_FROM: not every From: signed
        self.now = int(time.time()) if now is None else now


def verify_all(fields, spool, opts, keys):
    """Evaluate the DKIM-Signature fields among `fields` (header order).
    Returns (results for the first MAX_SIGNATURES, number ignored)."""
    sigfields = [f for f in fields if f.lname == b"dkim-signature"]
    ignored = max(0, len(sigfields) - MAX_SIGNATURES)
    from_count = sum(1 for f in fields if f.lname == b"from")
    results = [SigResult(i, f) for i, f in enumerate(sigfields[:MAX_SIGNATURES])]

    for sig in results:
        try:
            check_tags(sig, opts, from_count)
            check_key(sig, keys)
        except Invalid as e:
            sig.set(e.letter, e.reason)

    # one pass over the body for all the (canonicalization, hash, l=) needed
    pending = [s for s in results if s.letter is None]
    hashers = {}
    for sig in pending:
        k = (sig.canon[1].decode(), ALGORITHMS[sig.a], sig.l)
        if k not in hashers:
            hashers[k] = BodyHasher(k[0], k[1], k[2])
        sig.body = hashers[k]
    if hashers:
        hash_bodies(spool, list(hashers.values()))

    for sig in pending:
        testing = sig.key.testing
        if sig.l is not None and sig.l > sig.body.length:
            sig.set("J" if testing else "U", "l=%d is longer than the body (%d)" % (sig.l, sig.body.length))
            continue
        if sig.body.digest() != sig.bh:
            sig.set("J" if testing else "U", "body hash mismatch")
            continue
        if not verify_signature(sig, header_hash(sig, fields)):
            sig.set("J" if testing else "I", "signature did not verify")
            continue
        third_party = not (opts.from_domain and _in_domain(opts.from_domain, sig.d))
        sig.third_party = third_party
        if third_party and opts.practice_disabled:
            sig.set("F", "third-party signature (d=%s)" % sig.d)
        elif sig.l is not None and sig.l < sig.body.length and not opts.honor_l:
            sig.set("E", "l= leaves %d octets unsigned" % (sig.body.length - sig.l))
        else:
            sig.set("A", "verified")
    return results, ignored


def message_letter(results):
    """S when unsigned; A if any signature is A; else E if any E; else F if
    any F; else the first signature's letter."""
    if not results:
        return "S"
    letters = [r.letter for r in results]
    for good in "AEF":
        if good in letters:
            return good
    return letters[0]
