"""ARC chain validation (RFC 8617 section 5.2), see qmail-dkim(8), ARC.

    from qmail_dkim.arc import chain
    res = chain.validate(fields, spool, records)  # records(name): verify/keys.py KeySource
    res.result        # "pass" / "fail" / "none"
    res.reason        # why (for the log and the header comment)
    res.instances     # number of ARC sets (0 when none)
    res.oldest_pass   # 0: every AMS validated; N: the oldest AMS that
                      # validated (all newer ones did too); None: not pass
    res.sealers       # ARC-Seal d= per instance, oldest (i=1) first
    res.aar           # the most recent ARC-Authentication-Results, parsed (aar.py)

Steps, the first failure decides (result fail):
  1. collect ARC-Seal (AS), ARC-Message-Signature (AMS) and
     ARC-Authentication-Results (AAR) fields and their instance i= (1..50);
     none at all: result none;
  2. every instance 1..N has exactly one of each (an AAR begins "i=N;");
  3. the AS tags: i a b cv d s required, no h=, a=rsa-sha256, cv= none for
     i=1 and pass above; cv=fail anywhere: fail (the chain was ended);
  4. the most recent AMS validates (DKIM rules with i= instead of v=;
     a=rsa-sha256 only; c= defaults to relaxed/relaxed; h= must not list
     ARC-Seal);
  5. older AMSs are checked for oldest-pass only (their failure is no failure:
     the message may have been changed on the way, which ARC is for);
  6. every AS, newest first, validates over the ARC sets 1..i (AAR, AMS, AS
     of each, relaxed header canonicalization).
Keys: RSA, 1024 bits at least (keyrecord.py), fetched once per name through
the caller's KeySource (bounded DNS, or $SELECTOR_DATA). t= is not compared
with the clock (RFC 8617 gives it no meaning for validation).

Why not dkimpy's ARC class: it needs the whole message in memory (bodies of
any size reach qmail-dkim), its rfc822_parse raises on lines our header
splitter accepts, its b= regular expression backtracks on hostile folding
(headerhash.strip_b exists for that), it reports failures through `logging`
(whose last-resort handler writes to fd 2, qmail's log) and it would do DNS
with its own unbounded plug-in. Everything below reuses the DKIM pieces the
verifier runs (tag parsing, canonicalization, RSA, key records, streamed body
hashing); the ValiMail ARC suite (tests/test_arc_suite.py) checks the result.
Like the verifier's, the syntax checks here are plain bytes operations, no
regular expressions: `re` (with enum, functools...) is start-up cost on the
per-message path (qmail-dkimd(8), SPEED).
"""
from qmail_dkim.arc import aar as aarparse
from qmail_dkim.dkim import headerhash
from qmail_dkim.dkim.bodyhash import BodyHasher, hash_bodies
from qmail_dkim.dkim.keyrecord import (DuplicateTag, KeyRecordError, TagListError,
                                       b64decode_strict, parse_key_record, parse_tag_list,
                                       strip_fws)
from qmail_dkim.dkim.text import short
from qmail_dkim.dkim.verifier import Invalid, norm_domain, parse_c, verify_signature

MAX_INSTANCE = 50
MAX_BODY_HASHES = 4
AS, AMS, AAR = b"arc-seal", b"arc-message-signature", b"arc-authentication-results"
ARC_FIELDS = (AS, AMS, AAR)
ALGORITHM = b"rsa-sha256"
RELAXED = (b"relaxed", b"relaxed")

_FWS = b" \t\r\n"
# h= names: printable ASCII but ":" (what translate() leaves is not allowed)
_FTEXT = bytes(range(0x21, 0x3A)) + bytes(range(0x3B, 0x7F))


def _digits(value, most):
    """1 to `most` ASCII digits, nothing else."""
    return 0 < len(value) <= most and value.isdigit()


def _aar_instance(value):
    """The N of an ARC-Authentication-Results value beginning "i=N;" (white
    space allowed around each part), None when it does not."""
    head, semi, _ = value.partition(b";")
    name, eq, num = head.partition(b"=")
    num = num.strip(_FWS)
    if not semi or not eq or name.strip(_FWS) != b"i" or not _digits(num, 10):
        return None
    return num


class Fail(Exception):
    pass


class ArcResult:
    def __init__(self, result, reason="", instances=0):
        self.result = result
        self.reason = reason
        self.instances = instances
        self.oldest_pass = None
        self.sealers = []
        self.aar = None

    @property
    def sealer(self):
        """The d= of the most recent ARC-Seal (None without ARC sets)."""
        return self.sealers[-1] if self.sealers else None

    def __repr__(self):
        return "ArcResult(%r, %r, i=%d, sealers=%r)" % (self.result, self.reason,
                                                       self.instances, self.sealers)


def _domain(raw, what):
    """d= / s= value -> lowercase A-label str, or Fail."""
    try:
        return norm_domain(raw, what)
    except Invalid as e:
        raise Fail(e.reason)


def _instance_of(field):
    """(i= as int, parsed tags or None for an AAR) of an ARC field, or Fail."""
    if field.lname == AAR:
        value = _aar_instance(field.value)
        if value is None:
            raise Fail("ARC-Authentication-Results does not begin with i=N;")
        tags = None
    else:
        try:
            tags = parse_tag_list(field.value)
        except DuplicateTag as e:
            raise Fail("%s: tag %s given twice" % (_name(field), short(e)))
        except TagListError as e:
            raise Fail("%s tag list unparsable: %s" % (_name(field), short(e)))
        if b"i" not in tags:
            raise Fail("%s has no i=" % _name(field))
        value = strip_fws(tags[b"i"])
    if not _digits(value, 10):
        raise Fail("%s i=%s is not a number" % (_name(field), short(value)))
    i = int(value)
    if not 1 <= i <= MAX_INSTANCE:
        raise Fail("%s i=%d is out of range 1..%d" % (_name(field), i, MAX_INSTANCE))
    return i, tags


_NAMES = {AS: "ARC-Seal", AMS: "ARC-Message-Signature", AAR: "ARC-Authentication-Results"}


def _name(field):
    return _NAMES[field.lname]


class _Sig:
    """One AS or AMS with its checked tags (what verifier.verify_signature needs)."""

    def __init__(self, field, tags, instance):
        self.field = field
        self.tags = tags
        self.instance = instance
        self.d = self.s = None
        self.b = self.bh = None
        self.canon = None
        self.hlist = []
        self.l = None
        self.key = None


def _common_tags(sig, required):
    tags = sig.tags
    for t in required:
        if t not in tags:
            raise Fail("%s i=%d has no %s=" % (_name(sig.field), sig.instance, t.decode()))
    sig.d = _domain(tags[b"d"], "d")
    sig.s = _domain(tags[b"s"], "s")
    a = strip_fws(tags[b"a"]).lower()
    if a != ALGORITHM:
        raise Fail("%s i=%d a=%s is not rsa-sha256" % (_name(sig.field), sig.instance, short(a)))
    try:
        sig.b = b64decode_strict(tags[b"b"])
    except ValueError:
        raise Fail("%s i=%d b= is not base64" % (_name(sig.field), sig.instance))
    if not sig.b:
        raise Fail("%s i=%d b= is empty" % (_name(sig.field), sig.instance))
    if b"t" in tags and not _digits(strip_fws(tags[b"t"]), 10):
        raise Fail("%s i=%d t= is not a number" % (_name(sig.field), sig.instance))


def _seal_tags(sig):
    _common_tags(sig, (b"i", b"a", b"b", b"cv", b"d", b"s"))
    if b"h" in sig.tags:
        raise Fail("ARC-Seal i=%d has h=" % sig.instance)
    cv = sig.tags[b"cv"]
    if cv not in (b"none", b"pass", b"fail"):
        raise Fail("ARC-Seal i=%d cv=%s is not none, pass or fail" % (sig.instance, short(cv)))
    sig.cv = cv.decode()
    sig.canon = RELAXED


def _ams_tags(sig):
    tags = sig.tags
    _common_tags(sig, (b"i", b"a", b"b", b"bh", b"d", b"h", b"s"))
    try:
        sig.bh = b64decode_strict(tags[b"bh"])
    except ValueError:
        raise Fail("ARC-Message-Signature i=%d bh= is not base64" % sig.instance)
    if not sig.bh:
        raise Fail("ARC-Message-Signature i=%d bh= is empty" % sig.instance)
    c = strip_fws(tags.get(b"c", b"relaxed/relaxed")).lower()
    sig.canon = parse_c(c)
    if sig.canon is None:
        raise Fail("ARC-Message-Signature i=%d c=%s is unknown" % (sig.instance, short(c)))
    h = strip_fws(tags[b"h"]).lower()
    # empty names ("from::to", "h=") name no field: they select nothing (the suite's
    # ams_fields_h_mis_hdr and ams_fields_h_empty pass)
    hlist = [x for x in h.split(b":") if x]
    if any(x.translate(None, _FTEXT) for x in hlist):
        raise Fail("ARC-Message-Signature i=%d h= is not a list of header names" % sig.instance)
    if AS in hlist:
        raise Fail("ARC-Message-Signature i=%d h= lists ARC-Seal" % sig.instance)
    sig.hlist = hlist
    if b"l" in tags:
        lv = strip_fws(tags[b"l"])
        if not _digits(lv, 76):
            raise Fail("ARC-Message-Signature i=%d l= is not a number" % sig.instance)
        sig.l = int(lv)


class _Keys:
    """RSA keys by name through the caller's `records(name)` (verify/keys.py's
    KeySource: $SELECTOR_DATA or bounded DNS, one answer per name and
    message, shared with the DKIM signatures), parsed once."""

    def __init__(self, records):
        self.records = records
        self.cache = {}

    def key(self, sig):
        """The RSA key for sig (s._domainkey.d), or Fail."""
        name = "%s._domainkey.%s" % (sig.s, sig.d)
        if len(name) > 253:
            raise Fail("key name %s... too long" % name[:40])
        if name not in self.cache:
            self.cache[name] = self._fetch(name)
        found = self.cache[name]
        if isinstance(found, str):
            raise Fail(found)
        return found

    def _fetch(self, name):
        try:
            records = self.records(name)
        except Invalid as e:             # P: temporary, Q: no record: both fail the chain
            return e.reason
        first = None
        for rec in records:
            try:
                key = parse_key_record(rec)
            except KeyRecordError as e:
                first = first or e.reason
                continue
            if key.algorithm_mismatch(ALGORITHM):
                first = first or key.algorithm_mismatch(ALGORITHM)
                continue
            return key
        return "key %s: %s" % (name, first or "no usable record")


class _Bodies:
    """Body hashes by (canonicalization, l=), one streamed pass each, at most
    MAX_BODY_HASHES different ones per message (each l= value is another
    pass over the body: a hostile chain must not make us read it 50 times).
    The most recent AMS always gets its hash: it asks first."""

    def __init__(self, spool):
        self.spool = spool
        self.done = {}

    def digest(self, sig):
        k = (sig.canon[1].decode(), sig.l)
        if k not in self.done:
            if len(self.done) >= MAX_BODY_HASHES:
                raise Fail("ARC-Message-Signature i=%d: more than %d body hash variants"
                           % (sig.instance, MAX_BODY_HASHES))
            h = BodyHasher(k[0], "sha256", k[1])
            hash_bodies(self.spool, [h])
            if sig.l is not None and sig.l > h.length:
                self.done[k] = None
            else:
                self.done[k] = h.digest()
        return self.done[k]


def _check_ams(sig, fields, keys, bodies):
    """None if the AMS validates, else the reason."""
    try:
        sig.key = keys.key(sig)
    except Fail as e:
        return str(e)
    digest = bodies.digest(sig)
    if digest is None:
        return "ARC-Message-Signature i=%d l= is longer than the body" % sig.instance
    if digest != sig.bh:
        return "ARC-Message-Signature i=%d body hash mismatch" % sig.instance
    f = sig.field
    hasher = headerhash.header_hash(sig.canon, "sha256", fields, sig.hlist,
                                    f.raw[:f.colon - 1], f.crlf_value())
    if not verify_signature(sig, hasher):
        return "ARC-Message-Signature i=%d did not verify" % sig.instance
    return None


def _check_seal(sig, sets, keys):
    """None if the AS validates over sets 1..i, else the reason."""
    try:
        sig.key = keys.key(sig)
    except Fail as e:
        return str(e)
    # The sets 1..i in order (AAR, AMS, AS each), this seal last with b=
    # emptied: header_hash does exactly that when given the fields bottom-up
    # (it takes each h= name's last unused occurrence) and the names top-down.
    signed = [sets[j][kind] for j in range(1, sig.instance + 1) for kind in (AAR, AMS, AS)]
    signed.pop()                    # this seal: the signature field
    f = sig.field
    hasher = headerhash.header_hash(sig.canon, "sha256", signed[::-1],
                                    [x.lname for x in signed], f.raw[:f.colon - 1],
                                    f.crlf_value())
    if not verify_signature(sig, hasher):
        return "ARC-Seal i=%d did not verify" % sig.instance
    return None


def validate(fields, spool, records):
    """The ARC result for a message (its header `fields`, body in `spool`);
    `records(name)` -> the TXT records at a key name, or raises
    dkim.verifier.Invalid (letter P: temporary). Never raises for anything
    a message can contain."""
    arc = [f for f in fields if f.lname in ARC_FIELDS]
    if not arc:
        return ArcResult("none", "no ARC sets")
    res = ArcResult("fail")
    keys = _Keys(records)
    try:
        _validate(res, arc, fields, spool, keys)
    except Fail as e:
        res.result = "fail"
        res.reason = str(e)
        res.oldest_pass = None
    return res


def _validate(res, arc, fields, spool, keys):
    sets = {}
    tags = {}
    for f in arc:
        i, t = _instance_of(f)
        slot = sets.setdefault(i, {})
        if f.lname in slot:
            raise Fail("two %s fields for i=%d" % (_name(f), i))
        slot[f.lname] = f
        tags[f.lname, i] = t
    n = max(sets)
    res.instances = n
    for i in range(1, n + 1):
        for kind in (AAR, AMS, AS):
            if kind not in sets.get(i, {}):
                raise Fail("ARC set i=%d has no %s" % (i, _NAMES[kind]))
    seals = {}
    for i in range(n, 0, -1):
        f = sets[i][AS]
        sig = _Sig(f, tags[AS, i], i)
        _seal_tags(sig)
        seals[i] = sig
    res.sealers = [seals[i].d for i in range(1, n + 1)]
    res.aar = aarparse.parse(sets[n][AAR].value)
    for i in range(n, 0, -1):
        cv = seals[i].cv
        if cv == "fail":
            raise Fail("ARC-Seal i=%d says cv=fail: the chain was ended" % i)
        if i == 1 and cv != "none":
            raise Fail("ARC-Seal i=1 says cv=%s, not none" % cv)
        if i > 1 and cv != "pass":
            raise Fail("ARC-Seal i=%d says cv=%s, not pass" % (i, cv))

    bodies = _Bodies(spool)
    newest = _Sig(sets[n][AMS], tags[AMS, n], n)
    _ams_tags(newest)
    why = _check_ams(newest, fields, keys, bodies)
    if why:
        raise Fail(why)
    oldest = n
    for i in range(n - 1, 0, -1):
        try:
            sig = _Sig(sets[i][AMS], tags[AMS, i], i)
            _ams_tags(sig)
            if _check_ams(sig, fields, keys, bodies):
                break
        except Fail:
            break
        oldest = i
    for i in range(n, 0, -1):
        why = _check_seal(seals[i], sets, keys)
        if why:
            raise Fail(why)
    res.result = "pass"
    res.reason = "%d ARC set%s" % (n, "" if n == 1 else "s")
    res.oldest_pass = 0 if oldest == 1 else oldest
