"""Authentication-Results (RFC 8601) and DKIM-Status header fields, and
finding the forged ones to remove (qmail-dkim(8),
VERIFICATION, "Headers").

    Authentication-Results: mx.example.net;
    	dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256 header.b=AbCdEfGh

The authserv-id is $DKIMAUTHSERVID, else the first line of control/me, else
the host name (decided in config.py: this module reads no environment and no
file). Every incoming DKIM-Status field and every Authentication-Results field with
our authserv-id (case-insensitive, folded or not, comments allowed before it)
is removed before the message is passed on (RFC 8601 section 5).

Written here: dkimpy has no RFC 8601 writer (the optional authres package is
an extra dependency and import for two short lines). No `re` and no
`socket` module (`_socket`, the C module under it, has inet_pton): their
imports are start-up cost on every verified message (qmail-dkimd(8), SPEED).
"""
import _socket

# RFC 2045 token: printable ASCII except SPACE and tspecials.
_TOKEN_CHARS = ("!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`"
                "abcdefghijklmnopqrstuvwxyz{|}~")
# what ends an unquoted authserv-id: white space (as bytes.split sees it), ; ( ) "
_ID_END = frozenset(b' \t\n\r\x0b\x0c;()"')


def _ascii(value):
    """bytes/str from the message -> printable ASCII (U-labels to A-labels
    where possible, anything else unprintable as '?')."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            pass
    return "".join(c if " " <= c <= "~" else "?" for c in value)


# Characters of one property value or comment we write, "..." included: a
# reason or an address the client or a DNS record chose can be kilobytes,
# and each result is one line, which must stay under RFC 5322's 998 octets.
MAX_VALUE = 200


def cap(text):
    """`text` cut to MAX_VALUE characters, ending in "..." when cut."""
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 3] + "..."


def pvalue(value):
    """A property value (at most MAX_VALUE characters, see cap): token as
    is, otherwise a quoted-string."""
    return _quoted(cap(_ascii(value)))


def _quoted(v):
    if v and not v.strip(_TOKEN_CHARS):     # only token characters
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def result_spec(result, d=None, s=None, a=None, b=None, reason=None):
    parts = ["dkim=" + result]
    if reason:
        parts.append("reason=" + pvalue(reason))
    for name, value in (("header.d", d), ("header.s", s), ("header.a", a), ("header.b", b)):
        if value:
            parts.append("%s=%s" % (name, pvalue(value)))
    return " ".join(parts)


def arc_spec(arc, remote_ip=None):
    """The arc= result (RFC 8617 section 10.1): the result, why it failed,
    the sealers in a comment (oldest first), header.oldest-pass when it
    passed, smtp.remote-ip when qmail-smtpd's environment names it."""
    parts = ["arc=" + arc.result]
    if arc.result != "pass" and arc.reason:
        parts.append("reason=" + pvalue(arc.reason))
    if arc.sealers:
        parts.append("(sealer%s %s)" % ("s" if len(arc.sealers) > 1 else "",
                                        cap(" ".join(_ascii(d) for d in arc.sealers))))
    if arc.result == "pass" and arc.oldest_pass is not None:
        parts.append("header.oldest-pass=%d" % arc.oldest_pass)
    if remote_ip and _is_ip(remote_ip):
        parts.append("smtp.remote-ip=" + pvalue(remote_ip))
    return " ".join(parts)


def _is_ip(text):
    for fam in (_socket.AF_INET, _socket.AF_INET6):
        try:
            _socket.inet_pton(fam, text)
            return True
        except (OSError, ValueError):
            pass
    return False


def arc_log(arc):
    """Log fields for the ARC result (qmail-dkim(8), LOG)."""
    out = [("arc", arc.result)]
    if arc.sealers:
        out.append(("arc.sealers", arc.sealers))
    if arc.result == "pass":
        out.append(("arc.oldest-pass", arc.oldest_pass))
    elif arc.reason:
        out.append(("arc.reason", arc.reason))
    return out


def header(servid, specs):
    """The whole Authentication-Results field (bytes, LF, folded LF+TAB)."""
    if not specs:
        specs = ["dkim=none"]
    text = "Authentication-Results: " + _quoted(_ascii(servid)) + ";\n\t" + ";\n\t".join(specs) + "\n"
    return text.encode("ascii")


def dkim_status_header(text):
    return ("DKIM-Status: " + text + "\n").encode("ascii")


# --------------------------------------------------------------- removal

def _skip_cfws(s, i):
    n = len(s)
    while i < n:
        c = s[i:i + 1]
        if c in (b" ", b"\t", b"\r", b"\n"):
            i += 1
        elif c == b"(":
            depth = 0
            while i < n:
                c = s[i:i + 1]
                if c == b"\\":
                    i += 2
                    continue
                if c == b"(":
                    depth += 1
                elif c == b")":
                    depth -= 1
                    if depth == 0:
                        i += 1
                        break
                i += 1
        else:
            break
    return i


def field_authserv_id(value):
    """The authserv-id of an Authentication-Results value (bytes), lowercased
    str, or None if there is none."""
    i = _skip_cfws(value, 0)
    if value[i:i + 1] == b'"':
        out = bytearray()
        i += 1
        while i < len(value):
            c = value[i:i + 1]
            if c == b"\\":
                out += value[i + 1:i + 2]
                i += 2
                continue
            if c == b'"':
                break
            if c not in (b"\r", b"\n"):
                out += c
            i += 1
        ident = bytes(out)
    else:
        j = i
        while j < len(value) and value[j] not in _ID_END:
            j += 1
        if j == i:
            return None
        ident = value[i:j]
    return ident.decode("utf-8", "replace").lower()


def forged_fields(fields, servid):
    """(start, end) ranges of the fields to remove: every DKIM-Status, and
    every Authentication-Results carrying our authserv-id."""
    ours = servid.lower()
    drop = []
    for f in fields:
        name = f.lname
        if name == b"dkim-status":
            drop.append((f.start, f.end))
        elif name == b"authentication-results":
            if field_authserv_id(f.value) == ours:
                drop.append((f.start, f.end))
    return drop
