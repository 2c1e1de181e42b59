"""Rendering a DKIM key record for the places administrators paste it.

Three renderings of the same TXT record (RFC 6376 section 3.6.1):

* a BIND/NSD zone file line: the value split into quoted character-strings of
  at most 255 octets (RFC 1035 section 3.3.14), inside parentheses so it may
  span lines; the owner name is absolute (trailing dot) so the line loads
  unchanged into whatever zone holds the name;
* the name and the one-line value a web DNS panel wants;
* a tinydns-data generic line `:fqdn:16:rdata:ttl`, rdata being the wire form
  (length octet + octets per character-string) with octal escapes.

The split rule (`split_strings`): a value of at most 255 octets is one string;
a longer one has the tags before p= in the first string (when they fit), then
p= and its base64 in pieces of 255 octets. A verifier
concatenates the strings of one record without separators (RFC 6376 3.6.2.2),
so any split is equivalent; this one keeps the short tags readable.
"""
import re

from qmail_dkim.dkim.text import to_alabel
from qmail_dkim.dns import names as domainname

MAX_STRING = 255
DEFAULT_TINYDNS_TTL = 3600

# Octets written literally in tinydns-data rdata; everything else as \ooo.
_TINYDNS_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                          b"0123456789+/=.;_-,")
_LABEL = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$")


def record_value(kind, public_b64, testing=False):
    """The TXT value: v=DKIM1; k=rsa; h=sha256; [t=y; ]p=... (RFC 6376/8301/8463).

    RSA records carry h=sha256 (RFC 8301: rsa-sha1 must not be used);
    Ed25519 records (RFC 8463) carry k=ed25519 and the raw 32-octet key.
    """
    if kind == "rsa":
        tags = ["v=DKIM1", "k=rsa", "h=sha256"]
    elif kind == "ed25519":
        tags = ["v=DKIM1", "k=ed25519"]
    else:
        raise ValueError("unknown key type %r" % kind)
    if testing:
        tags.append("t=y")
    tags.append("p=" + public_b64)
    return "; ".join(tags)


def record_name(selector, domain=None):
    """selector._domainkey[.domain] (relative when domain is None)."""
    name = "%s._domainkey" % selector
    if domain:
        name += "." + domain
    return name


def key_domain(domain):
    """(domain, None): `domain` stripped, lowercase, without trailing dots,
    an IDN as its A-label, a host name (dns.names.check: it becomes a
    directory name under domainkeys/, see qmail-dknewkey(8) OPTIONS, -d);
    else (None, the reason)."""
    d = to_alabel(domain)
    if d is None:
        return None, "not convertible to an A-label"
    why = domainname.check(d)
    return (None, why) if why else (d, None)


def check_name(name):
    """True if every label of name is a DNS label we can write everywhere."""
    name = name.rstrip(".")
    if not name or len(name) > 253:
        return False
    return all(_LABEL.match(label) for label in name.split("."))


def split_strings(value, limit=MAX_STRING):
    """Split value (str or bytes) into character-strings of at most limit octets."""
    if isinstance(value, str):
        value = value.encode("ascii")
    if limit < 1:
        raise ValueError("limit must be positive")
    if len(value) <= limit:
        return [value]
    out = []
    i = value.find(b"p=")
    # Only a p= that starts a tag (start of value or after ';' and spaces).
    if i > 0 and not re.fullmatch(rb".*;\s*", value[:i], re.S):
        i = -1
    if 0 < i <= limit:
        out.append(value[:i])
        value = value[i:]
    while value:
        out.append(value[:limit])
        value = value[limit:]
    return out or [b""]


def _bind_quote(s):
    """One character-string in zone file syntax: \" and \\ escaped, \\DDD (decimal)
    for octets outside printable ASCII."""
    out = []
    for c in s:
        if c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        elif 0x20 <= c < 0x7F:
            out.append(chr(c))
        else:
            out.append("\\%03d" % c)
    return '"' + "".join(out) + '"'


def bind_line(name, value, ttl=None):
    """A zone file line (possibly spanning lines inside parentheses).

    name: absolute names get their trailing dot; pass a relative name (ending
    with "._domainkey") to have it taken relative to the zone's $ORIGIN.
    """
    strings = split_strings(value)
    owner = name if name.endswith(".") or not _is_absolute(name) else name + "."
    head = "%s\t%sIN\tTXT\t" % (owner, "%d\t" % ttl if ttl is not None else "")
    if len(strings) == 1:
        return head + _bind_quote(strings[0])
    quoted = [_bind_quote(s) for s in strings]
    return head + "( " + quoted[0] + "\n" + "".join(
        "\t" + q + "\n" for q in quoted[1:-1]) + "\t" + quoted[-1] + " )"


def _is_absolute(name):
    # A record name is absolute when it carries a domain after _domainkey.
    return not name.rstrip(".").endswith("._domainkey")


def tinydns_rdata(value):
    """Wire-form TXT rdata, escaped for tinydns-data (\\ooo octal)."""
    out = []
    for s in split_strings(value):
        out.append("\\%03o" % len(s))
        for c in s:
            out.append(chr(c) if c in _TINYDNS_SAFE else "\\%03o" % c)
    return "".join(out)


def tinydns_line(fqdn, value, ttl=DEFAULT_TINYDNS_TTL):
    """A tinydns-data generic record line :fqdn:16:rdata:ttl."""
    fqdn = fqdn.rstrip(".")
    return ":%s:16:%s:%s" % (fqdn, tinydns_rdata(value), "" if ttl is None else ttl)


def panel_value(value):
    """The one-line value for a web panel (no quotes, no splitting)."""
    return value.decode("ascii") if isinstance(value, bytes) else value


def render_all(selector, domain, value, comment=None):
    """The three labelled renderings, as text for stdout.

    domain None: a fallback key (control/domainkeys/<selector>) used for any
    From domain; the BIND line is relative (loads into every zone), the panel
    name is relative, and the tinydns line carries the placeholder DOMAIN.
    """
    rel = record_name(selector)
    fqdn = record_name(selector, domain) if domain else rel + ".DOMAIN"
    lines = []
    if comment:
        lines.append("; " + comment)
    if domain:
        lines.append("; BIND zone file (the zone of %s or a parent; the name is absolute):" % domain)
        lines.append(bind_line(fqdn, value))
    else:
        lines.append("; BIND zone file (relative name: paste into the zone of every domain signed with this key):")
        lines.append(bind_line(rel, value))
    lines.append("")
    lines.append("Web DNS panel (one TXT record, value on one line, without quotes):")
    if domain:
        lines.append("name:  %s" % fqdn)
        lines.append("       (panels that add the domain themselves want only: %s)" % rel)
    else:
        lines.append("name:  %s  (in every domain signed with this key)" % rel)
    lines.append("value: %s" % panel_value(value))
    lines.append("")
    if domain:
        lines.append("# tinydns-data (add to data, then run make):")
    else:
        lines.append("# tinydns-data (replace DOMAIN by each domain signed with this key):")
    lines.append(tinydns_line(fqdn, value))
    return "\n".join(lines) + "\n"
