"""Hashing the signed header fields and the signature field (RFC 6376 3.7,
5.4.2). Shared by signer.py and verifier.py.

dkimpy's hash_headers() would do, but it lives in the package __init__
(which dkimlib.py avoids running: start-up time), matches field names
without the white space RFC 5322 allows before the colon (simple
canonicalization must hash "Subject :" as written), and strips trailing
white space from the signature field. Canonicalization itself is dkimpy's.
"""
import hashlib

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


def header_hash(canon, hashname, fields, hlist, sig_name, sig_value):
    """hashlib object over the selected fields and the signature field.

    canon: dkimpy CanonicalizationPolicy; sig_name: the signature field's
    name as written; sig_value: its value in CRLF form, b= empty or not.
    """
    from qmail_dkim.dkim.lib import dkim
    hasher = hashlib.new(hashname)
    pairs = [(f.raw[:f.colon - 1], f.crlf_value()) for f in select(fields, hlist)]
    for name, value in canon.canonicalize_headers(pairs):
        hasher.update(name + b":" + value)
    if sig_value.endswith(b"\r\n"):
        sig_value = sig_value[:-2]
    [(name, value)] = canon.canonicalize_headers([(sig_name, strip_b(sig_value))])
    if value.endswith(b"\r\n") and canon.header_algorithm is dkim.canonicalization.Relaxed:
        value = value[:-2]
    hasher.update(name + b":" + value)
    return hasher
