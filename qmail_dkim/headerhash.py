"""Hashing the signed header fields and the signature field (RFC 6376 3.7,
5.4.2). Shared by signer.py and verifier.py.

dkimpy's hash_headers() would do, but it lives in the package __init__
(which dkimlib.py avoids running: start-up time), matches field names
without the white space RFC 5322 allows before the colon (simple
canonicalization must hash "Subject :" as written), and strips trailing
white space from the signature field. Canonicalization itself is dkimpy's.
"""
import hashlib
import re

# Same expression as dkimpy's RE_BTAG: the value of b= (with its folding
# white space) in a DKIM-Signature value, removed before hashing.
_FWS = rb"(?:(?:\s*\r?\n)?\s+)?"
RE_BTAG = re.compile(rb"([;\s]b" + _FWS + rb"=)(?:" + _FWS + rb"[a-zA-Z0-9+/=])*(?:\r?\n\Z)?")


def select(fields, hlist):
    """For each h= name, the last not yet used occurrence, bottom-up."""
    used_upto = {}
    selected = []
    for h in hlist:
        i = used_upto.get(h, len(fields))
        while i > 0:
            i -= 1
            if fields[i].lname == h:
                selected.append(fields[i])
                break
        used_upto[h] = i
    return selected


def strip_b(value):
    """A DKIM-Signature value (CRLF form) with the b= value removed."""
    # RE_BTAG needs a ';' or white space before "b="
    return RE_BTAG.sub(b"\\1", b";" + value)[1:]


def header_hash(canon, hashname, fields, hlist, sig_name, sig_value):
    """hashlib object over the selected fields and the signature field.

    canon: dkimpy CanonicalizationPolicy; sig_name: the signature field's
    name as written; sig_value: its value in CRLF form, b= empty or not.
    """
    from qmail_dkim.dkimlib import dkim
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
