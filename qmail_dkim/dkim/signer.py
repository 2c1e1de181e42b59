"""Building one DKIM-Signature header (RFC 6376 3.5, RFC 8463).

dkimpy's DKIM.sign() always writes i=, q= and t=, cannot write x= or z=,
and folds with CRLF + space; qmail-dkim's tag set is different (qmail-dkim(8),
SIGNING, "The signature header") and its header lines are folded with LF + TAB. So we assemble the
tag list here; header canonicalization and hashing are headerhash.py,
signing is privkey.py. base64 is binascii's (the `base64` module imports
`struct` and `re`: start-up cost on the per-message path, qmail-dkimd(8),
SPEED).
"""
from binascii import b2a_base64

from qmail_dkim.dkim import headerhash

NAME = b"DKIM-Signature"
WIDTH = 78


def _qp(value):
    """dkim-quoted-printable for z= (RFC 6376 2.11), '|' encoded too."""
    out = bytearray()
    for c in value:
        if 0x21 <= c <= 0x3A or c == 0x3C or (0x3E <= c <= 0x7E and c != 0x7C):
            out.append(c)
        else:
            out += b"=%02X" % c
    return bytes(out)


def _atoms(tag, value):
    """Split a tag=value into pieces that may be separated by FWS."""
    if tag == b"h":
        names = value.split(b":")
        return [b"h=" + names[0]] + [b":" + n for n in names[1:]]
    if tag == b"z":
        items = value.split(b"|")
        return [b"z=" + items[0] + (b"|" if len(items) > 1 else b"")] + \
               [it + (b"|" if i < len(items) - 2 else b"") for i, it in enumerate(items[1:])]
    if tag == b"bh":
        return [b"bh=" + value[:40]] + [value[i:i + 64] for i in range(40, len(value), 64)]
    if tag == b"b":
        # "b=" alone first: the line breaks before the value must be the same
        # with and without the value (simple canonicalization hashes them).
        return [b"b="] + [value[i:i + 64] for i in range(0, len(value), 64)]
    return [tag + b"=" + value]


def fold(tags, linesep=b"\n"):
    """Header value (after 'DKIM-Signature:') folded at WIDTH, tags '; '-separated."""
    out = bytearray()
    col = len(NAME) + 1
    for n, (tag, value) in enumerate(tags):
        for k, atom in enumerate(_atoms(tag, value)):
            sep = b" " if k == 0 else b""
            if n and k == 0:
                out += b";"
                col += 1
            # WIDTH - 1: leave room for the ";" that may follow the atom.
            if (tag == b"b" and k == 0) or (col + len(sep) + len(atom) > WIDTH - 1 and col > 1 and (n or k)):
                out += linesep + b"\t"
                col = 1
            elif sep:
                out += sep
                col += 1
            out += atom
            col += len(atom)
    return bytes(out)


def copied_headers(fields, include):
    """The z= value: each signed field, name:qp(value), '|'-separated."""
    wanted = set(include)
    items = []
    for f in fields:
        if f.lname in wanted:
            value = f.value.replace(b"\r\n", b"").replace(b"\n", b"").strip()
            items.append(f.lname + b":" + _qp(value))
    return b"|".join(items)


def tag_list(algorithm, domain, selector, opts, include, fields=None, body_hash=None,
             body_length=None, now=None):
    """The signature's tags, in order, as (tag, value) byte pairs; b= empty.

    make_signature() passes every value. qmail-dkim-check passes only what is
    known before the body is read: a value left out (None) becomes a
    <placeholder> such as t=<now> or bh=<body hash>.
    """
    head_c, body_c = opts.canon
    tags = [(b"v", b"1"), (b"a", algorithm),
            (b"c", ("%s/%s" % (head_c, body_c)).encode()),
            (b"d", domain.encode("ascii")), (b"s", selector.encode("ascii", "replace"))]
    if opts.qtag:
        tags.append((b"q", b"dns/txt"))
    if opts.identity:
        tags.append((b"i", opts.identity.encode("utf-8")))
    if opts.ttag:
        tags.append((b"t", b"<now>" if now is None else b"%d" % now))
    if opts.expire is not None:
        tags.append((b"x", b"<now+%d>" % opts.expire if now is None else b"%d" % (now + opts.expire)))
    if opts.length:
        tags.append((b"l", b"<body length>" if body_length is None else b"%d" % body_length))
    tags.append((b"h", b":".join(include)))
    if opts.ztag:
        tags.append((b"z", b"<copied header fields>" if fields is None
                     else copied_headers(fields, include)))
    tags.append((b"bh", b"<body hash>" if body_hash is None else _b64(body_hash)))
    tags.append((b"b", b""))
    return tags


def _b64(data):
    return b2a_base64(data, newline=False)


def make_signature(fields, key, domain, selector, opts, include, body_hash,
                   body_length, now):
    """Return the DKIM-Signature header line(s), LF line ends, folded LF+TAB."""
    tags = tag_list(key.algorithm, domain, selector, opts, include, fields, body_hash,
                    body_length, now)
    unsigned_value = fold(tags, b"\r\n")
    h = headerhash.header_hash(opts.canon, "sha256", fields, include, NAME, unsigned_value)
    if key.kind == "rsa":
        sig = key.sign_rsa(h)
    else:
        sig = key.sign_ed25519(h.digest())
    tags[-1] = (b"b", _b64(sig))
    return NAME + b":" + fold(tags, b"\n") + b"\n"
