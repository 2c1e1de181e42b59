"""Which header fields are signed (qmail-dkim(8), SIGNING, "Signed header fields"). Pure.

Every field present, in message order, each occurrence, except X-*,
Received, Return-Path, Authentication-Results, ARC-Authentication-Results,
DKIM-Signature, DomainKey-Signature, DKIM-Status and the colon-separated names in EXCLUDE_DKIMSIGN. From is always signed.
Fields whose names cannot be written into h= (';', '=' or non-ASCII in the
name) are left out too.
"""
ALWAYS_EXCLUDED = frozenset([b"received", b"return-path", b"authentication-results",
                             b"arc-authentication-results", b"dkim-signature",
                             b"domainkey-signature", b"dkim-status"])
_H_BAD = frozenset(b":;=")


def _h_name_ok(name):
    """Can `name` be written into h=? Printable ASCII, no ':' ';' '='."""
    return bool(name) and all(0x21 <= c <= 0x7e and c not in _H_BAD for c in name)


def excluded_names(exclude_env):
    names = set(ALWAYS_EXCLUDED)
    for name in (exclude_env or "").split(":"):
        name = name.strip().lower()
        if name:
            names.add(name.encode("ascii", "replace"))
    names.discard(b"from")
    return names


def select(fields, exclude_env=None):
    """Lowercase names for h=, one per signed occurrence, in message order."""
    skip = excluded_names(exclude_env)
    out = []
    for f in fields:
        n = f.lname
        if n == b"from" or (n not in skip and not n.startswith(b"x-") and _h_name_ok(n)):
            out.append(n)
    return out
