"""The domain of the first address in the first From: header
(qmail-dkim(8), SIGNING, "The signing domain").

Handles display names, comments (nested), quoted local parts and display
names, encoded words (they sit in the display name, which we skip), groups
("Team: a@x, b@y;"), source routes and obsolete spacing. The result is
lowercased and IDN-converted to the A-label; its syntax is checked by
domainname.check() before it is used in a path.

Written here rather than with email.utils: that module costs import time on
every message and accepts things (like a bare "@" inside a display name
without quotes) differently from what a signer must be strict about.
"""
from qmail_dkim.dkim.text import to_alabel  # noqa: F401 - also for sign/, verify/, tools/


def _strip_comments(s):
    out = []
    depth = 0
    quoted = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and (quoted or depth):
            if not depth:
                out.append(s[i:i + 2])
            i += 2
            continue
        if quoted:
            out.append(c)
            if c == '"':
                quoted = False
        elif depth:
            if c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
        elif c == "(":
            depth += 1
            out.append(" ")
        elif c == '"':
            quoted = True
            out.append(c)
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _split_top(s, seps):
    """Split at separators outside quotes and angle brackets; keep the separator."""
    parts = []
    cur = []
    quoted = False
    angle = 0
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and quoted:
            cur.append(s[i:i + 2])
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "<":
            angle += 1
        elif not quoted and c == ">" and angle:
            angle -= 1
        elif not quoted and not angle and c in seps:
            parts.append(("".join(cur), c))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    parts.append(("".join(cur), None))
    return parts


def _unquoted(s, ch):
    """Positions of `ch` in `s` outside quoted strings (backslash escapes)."""
    quoted = False
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\" and quoted:
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            yield i
        i += 1


def _addr_of_mailbox(mb):
    """The addr-spec of one mailbox ('Name <a@b>' or 'a@b'), or None."""
    mb = mb.strip()
    if not mb:
        return None
    lt = next(_unquoted(mb, "<"), -1)
    if lt >= 0:
        gt = mb.find(">", lt)
        addr = mb[lt + 1:gt if gt >= 0 else len(mb)].strip()
        if addr.startswith("@") and ":" in addr:      # obsolete source route
            addr = addr.split(":", 1)[1].strip()
        return addr or None
    return mb


def _domain_of_addr(addr):
    # The domain follows the last '@' that is outside a quoted local part.
    at = -1
    for at in _unquoted(addr, "@"):
        pass
    if at < 0:
        return None
    return "".join(addr[at + 1:].split())   # obsolete FWS around dots


def _addresses(value):
    """The addr-specs with an '@' in a From: value (text, unfolded), in order."""
    s = _strip_comments(value)
    for part, sep in _split_top(s, ",;"):
        # A group: "display-name: mailbox, mailbox;"
        sub = _split_top(part, ":")
        if len(sub) > 1 and "@" not in sub[0][0] and "<" not in sub[0][0]:
            part = ":".join(p for p, _ in sub[1:])
        addr = _addr_of_mailbox(part)
        if addr and "@" in addr:
            yield addr


def first_address(value):
    """The first addr-spec in a From: value (text, unfolded), or None."""
    return next(_addresses(value), None)


def all_domains(value):
    """The domains (A-labels, lowercase) of every address in a From: value
    (text, unfolded), in order; addresses without a usable domain skipped."""
    out = []
    for addr in _addresses(value):
        dom = _domain_of_addr(addr)
        a = to_alabel(dom) if dom else None
        if a:
            out.append(a)
    return out


def domain_of(value):
    """(domain, None) or (None, reason) for a From: value or an address."""
    addr = first_address(value)
    if not addr:
        return None, "no address in From: header"
    dom = _domain_of_addr(addr)
    if not dom:
        return None, "no domain in From: address"
    a = to_alabel(dom)
    if a is None:
        return None, "From: domain is not a valid IDN"
    return a, None


def from_domain(fields):
    """Domain of the first From: field. (domain|None, reason|None)."""
    for f in fields:
        if f.lname == b"from":
            return domain_of(f.unfolded())
    return None, "no From: header"
