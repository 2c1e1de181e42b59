"""Header canonicalization (RFC 6376 3.4.1, 3.4.2) and hashing the signed
header fields and the signature field (RFC 6376 3.7, 5.4.2). Shared by
signer.py and verifier.py.

Our own code, not dkimpy's hash_headers() and canonicalization module: those
import `re` and `hashlib` (with enum, functools, collections and OpenSSL's
libcrypto), start-up cost on the per-message path (qmail-dkimd(8), SPEED);
hash_headers() also matches field names without the white space RFC 5322
allows before the colon (simple canonicalization must hash "Subject :" as
written) and strips trailing white space from the signature field.

Relaxed gives the same octets as dkimpy's (tests/test_core_sign.py compares
them on random fields): runs of SP and HTAB -- RFC 6376's WSP, never other
white space -- become one SP; at the two ends of a value Python's strip()
also drops VT, FF and a CR left by unfolding (a CR before LF is message
data, see message.py). RFC 6376 3.4.2 names only WSP there, but mailauth
drops them too and Mail::DKIM does at the start (tests/test_sign_independent.py
signs such values and checks them): what dkimpy does verifies at more places
than the letter of the RFC would.
"""
from qmail_dkim.dkim.bodyhash import new_hash

# dkimpy's RE_BTAG (the b= value with its folding white space) backtracks
# quadratically on a long run of folded white space, which a hostile
# signature can supply; strip_b below removes the same text in one pass.
_B64CH = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
_WSCH = frozenset(b" \t\r\n\x0b\x0c")


def select(fields, hlist):
    """For each h= name, the last not yet used occurrence, bottom-up
    (RFC 6376 5.4.2). Linear: an index of occurrences per name."""
    where = {}
    for i, f in enumerate(fields):
        where.setdefault(f.lname, []).append(i)
    selected = []
    for h in hlist:
        occ = where.get(h)
        if occ:
            selected.append(fields[occ.pop()])
    return selected


def strip_b(value):
    """A DKIM-Signature value (CRLF form) with the b= value removed: after
    each tag name "b" (preceded by ';' or white space, the start counts as
    ';'), optional white space and '=', the base64 characters and the white
    space between them go, and a line end right after them at the very end.
    The same text dkimpy's RE_BTAG removes, without its backtracking."""
    v = b";" + value
    n = len(v)
    out = bytearray()
    i = 0
    while i < n:
        c = v[i]
        if c == 0x62 and (v[i - 1] == 0x3B or v[i - 1] in _WSCH):     # 'b' after ';' / WSP
            j = i + 1
            while j < n and v[j] in _WSCH:
                j += 1
            if j < n and v[j] == 0x3D:                                  # '='
                j += 1
                out += v[i:j]
                k = last = j
                while k < n and (v[k] in _B64CH or v[k] in _WSCH):
                    if v[k] in _B64CH:
                        last = k + 1
                    k += 1
                i = last
                if v[i:] in (b"\r\n", b"\n"):
                    i = n
                continue
        out.append(c)
        i += 1
    return bytes(out[1:])


def header_canon(canon):
    """"relaxed" or "simple": the header canonicalization of `canon`, given
    as that name (str or bytes) or a (header, body) pair of names, as the
    signer, the verifier and arc/ pass it. ValueError for anything else."""
    if isinstance(canon, tuple):
        canon = canon[0]
    if isinstance(canon, bytes):
        canon = canon.decode("ascii", "replace")
    if canon not in ("relaxed", "simple"):
        raise ValueError("unknown header canonicalization %r" % (canon,))
    return canon


def relaxed_value(value):
    """RFC 6376 3.4.2 for a field value (CRLF form, as HeaderField.crlf_value
    gives it), exactly as dkimpy does it: unfolded (every CRLF removed; a
    bare LF, which that form never has, too), each run of SP / HTAB one SP,
    white space stripped at both ends. Byte methods only; never split()
    without an argument, which would also cut at VT, FF and CR inside."""
    v = value.replace(b"\r\n", b"")
    if b"\n" in v:
        v = v.replace(b"\n", b"")
    v = v.replace(b"\t", b" ")
    while b"  " in v:
        v = v.replace(b"  ", b" ")
    return v.strip()


def canonical_field(relaxed, name, value):
    """One header field as it is hashed: `name` as written before the colon
    (white space included), `value` after it in CRLF form. Simple: unchanged;
    relaxed: name lowercase without its trailing white space, ':',
    relaxed_value(), CRLF."""
    if not relaxed:
        return name + b":" + value
    return name.lower().rstrip() + b":" + relaxed_value(value) + b"\r\n"


def header_hash(canon, hashname, fields, hlist, sig_name, sig_value):
    """Hash object over the selected fields and the signature field.

    canon: see header_canon(); sig_name: the signature field's name as
    written; sig_value: its value in CRLF form, b= empty or not.
    """
    relaxed = header_canon(canon) == "relaxed"
    hasher = new_hash(hashname)
    for f in select(fields, hlist):
        hasher.update(canonical_field(relaxed, f.raw[:f.colon - 1], f.crlf_value()))
    if sig_value.endswith(b"\r\n"):
        sig_value = sig_value[:-2]
    sig = canonical_field(relaxed, sig_name, strip_b(sig_value))
    hasher.update(sig[:-2] if relaxed else sig)     # the signature field: no CRLF at its end
    return hasher
