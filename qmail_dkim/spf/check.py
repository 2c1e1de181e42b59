"""RFC 7208 check_host(): records, mechanisms, modifiers, macros, limits.

    check_host(ip, domain, sender, helo="", lookup=None, deadline=None,
               receiver="unknown", default_explanation=DEFAULT_EXPLANATION,
               explain=True)
        -> SpfResult

``lookup(name, qtype, deadline) -> answer`` is the only way out: ``qtype`` is
"TXT", "A", "AAAA", "MX" or "PTR"; the answer has ``status`` (ok / nxdomain /
nodata / temp) and ``records`` as dns.client gives them (TXT: bytes, A/AAAA:
address text, MX: (preference, name), PTR: name). ``deadline`` is an absolute
time.monotonic() value (the message's DNS time budget): no query starts after
it, and running out of it is a temperror. No environment, no files.

Limits (RFC 7208 section 4.6.4): at most 10 terms that cause DNS queries
(include, a, mx, ptr, exists, redirect) per evaluation, includes and
redirects counted together, the 11th is a permerror; at most 2 void lookups
(NXDOMAIN or no records) for a, mx, ptr and exists, the 3rd is a permerror;
an mx with more than 10 MX names is a permerror; ptr and %{p} look at the
first 10 PTR names only. The exp= lookup (after the result is known) counts
against neither limit; explain=False skips it (qmail-dkim shows no
explanation, so its per-message check asks nothing it would not use).

The client address may be IPv4, IPv6 or IPv4-mapped IPv6 (::ffff:a.b.c.d,
which is evaluated as the IPv4 address, as RFC 7208 section 5 asks for).

The record syntax is read by plain string scanning, not regular expressions,
and addresses go through _socket, not socket.py: `re` (enum, functools...)
and socket.py (selectors) are start-up cost on every message checked
(qmail-dkimd(8), SPEED). tests/test_verify_noregex.py compares each scanner
with the regular expression it replaced.
"""
import _socket
import time

from qmail_dkim.dkim.text import domain_key

DEFAULT_EXPLANATION = "SPF fail - not authorized"
MAX_DNS_TERMS = 10
MAX_VOID = 2
MAX_MX = 10
MAX_PTR = 10

RESULTS = ("none", "neutral", "pass", "fail", "softfail", "temperror", "permerror")
_QUALIFIER = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_DNS_MECHANISMS = ("include", "a", "mx", "ptr", "exists")


class SpfResult:
    # (a plain class: dataclasses costs 8 ms of imports)
    def __init__(self, result, domain="", mechanism="", explanation="", problem="",
                 lookups=0, voids=0):
        self.result = result            # one of RESULTS
        self.domain = domain            # the domain check_host() was asked about
        self.mechanism = mechanism      # the matching term ("-all"), "default" or ""
        self.explanation = explanation  # fail only: exp= text or the default
        self.problem = problem          # why none / temperror / permerror
        self.lookups = lookups          # DNS-querying terms evaluated
        self.voids = voids              # void lookups seen

    def __repr__(self):
        return "SpfResult(%r, domain=%r, mechanism=%r, problem=%r)" % (
            self.result, self.domain, self.mechanism, self.problem)


class PermError(Exception):
    pass


class TempError(Exception):
    pass


# ---------------------------------------------------------------- addresses

def parse_ip(text):
    """'192.0.2.1' / '2001:db8::1' / '::ffff:192.0.2.1' -> (4 or 6, int).
    IPv4-mapped IPv6 is returned as IPv4. ValueError when not an address."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    if ":" in text:
        raw = _socket.inet_pton(_socket.AF_INET6, text.split("%", 1)[0])
        n = int.from_bytes(raw, "big")
        if n >> 32 == 0xFFFF:
            return 4, n & 0xFFFFFFFF
        return 6, n
    if not ip4_ok(text):
        raise ValueError("not an IP address: %r" % text)
    return 4, _ip4_int(text)


_DIGITS = "0123456789"
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_NAME_CHARS = _ALNUM + "_.-"            # a mechanism or modifier name after its letter
_HEX6 = "0123456789ABCDEFabcdef:."      # what an ip6 argument may hold


def _digits(text):
    """One or more ASCII digits, nothing else."""
    return text != "" and not text.strip(_DIGITS)


def ip4_ok(text):
    """Dotted decimal, four numbers 0-255 without leading zeros (RFC 7208's
    ip4-network: qnum "." qnum "." qnum "." qnum)."""
    parts = text.split(".")
    return len(parts) == 4 and all(
        _digits(p) and len(p) <= 3 and (p == "0" or p[0] != "0") and int(p) <= 255
        for p in parts)


def _cidr_ok(text):
    """"0" or 1-3 digits without a leading zero (ip4-cidr-length / ip6-)."""
    return _digits(text) and (text == "0" or (text[0] != "0" and len(text) <= 3))


def _ip4_int(text):
    a, b, c, d = (int(x) for x in text.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def _ip4_text(n):
    return "%d.%d.%d.%d" % (n >> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255)


def _ip6_text(n):
    return _socket.inet_ntop(_socket.AF_INET6, n.to_bytes(16, "big"))


def ip_text(ver, n):
    """The text of an address as parse_ip() gives it."""
    return _ip4_text(n) if ver == 4 else _ip6_text(n)


def in_net(ver, ip, net, length):
    """Is `ip` in net/length (both of version `ver`, as parse_ip() gives them)?"""
    bits = 32 if ver == 4 else 128
    if length == 0:
        return True
    shift = bits - length
    return ip >> shift == net >> shift


def reverse_name(ver, ip):
    """The in-addr.arpa / ip6.arpa name of an address (lowercase)."""
    if ver == 4:
        return "%d.%d.%d.%d.in-addr.arpa" % (ip & 255, (ip >> 8) & 255, (ip >> 16) & 255, ip >> 24)
    return ".".join("%x" % ((ip >> (4 * i)) & 15) for i in range(32)) + ".ip6.arpa"


# ---------------------------------------------------------------- macros

_MACRO_LETTERS = "slodiphvcrt"
_EXP_ONLY = "crt"
_MACRO_DELIMS = ".-+,/_="
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _match_macro(text, i):
    """The macro "%{" letter digits ["r"] delimiters "}" at text[i] (RFC
    7208 section 7.1; the r in either case) -> (letter, digits, "r" or "",
    delimiters, end), None when there is none."""
    if text[i + 1:i + 2] != "{" or i + 2 >= len(text) or text[i + 2] not in _LETTERS:
        return None
    letter = text[i + 2]
    j = k = i + 3
    n = len(text)
    while k < n and text[k] in _DIGITS:
        k += 1
    digits = text[j:k]
    r = ""
    if k < n and text[k] in "rR":
        r = text[k]
        k += 1
    j = k
    while k < n and text[k] in _MACRO_DELIMS:
        k += 1
    if k >= n or text[k] != "}":
        return None
    return letter, digits, r, text[j:k], k + 1


def _toplabel_ok(top):
    """RFC 7208 toplabel: ALPHA / DIGIT with at least one ALPHA, or
    alphanumerics with hyphens inside (not first, not last)."""
    if not top or top.strip(_ALNUM + "-"):
        return False
    if "-" in top:
        return top[0] != "-" and top[-1] != "-"
    return bool(top.strip(_DIGITS))       # some letter


def parse_macro_string(text, exp=False):
    """-> list of tokens: str (literal) or (letter, digits, reverse, delims).
    PermError on a syntax error (RFC 7208 section 7.1). With exp=True the
    text is an explain-string: spaces and the c, r, t letters are allowed."""
    out = []
    lit = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1:i + 2]
            if nxt == "%":
                lit.append("%")
                i += 2
                continue
            if nxt == "_":
                lit.append(" ")
                i += 2
                continue
            if nxt == "-":
                lit.append("%20")
                i += 2
                continue
            m = _match_macro(text, i)
            if not m:
                raise PermError("invalid macro at %r" % text[i:i + 12])
            name, count, rev, delims, end = m
            letter = name.lower()
            if letter not in _MACRO_LETTERS:
                raise PermError("unknown macro letter %r" % name)
            if letter in _EXP_ONLY and not exp:
                raise PermError("macro %%{%s} is allowed in exp= text only" % name)
            digits = count.lstrip("0")
            if count and not digits:
                raise PermError("macro with a zero label count")
            if len(digits) > 3:
                digits = "999"          # (any count over the labels takes them all)
            if lit:
                out.append("".join(lit))
                lit = []
            out.append((name, int(digits) if digits else 0, bool(rev), delims or "."))
            i = end
            continue
        o = ord(ch)
        if not (0x21 <= o <= 0x7E or (exp and o == 0x20)):
            raise PermError("character %r not allowed in SPF text" % ch)
        lit.append(ch)
        i += 1
    if lit:
        out.append("".join(lit))
    return out


def parse_domain_spec(text):
    """A domain-spec: a macro-string whose end is a macro or "." toplabel ["."]."""
    if not text:
        raise PermError("empty domain-spec")
    tokens = parse_macro_string(text)
    if isinstance(tokens[-1], tuple):
        return tokens
    tail = text[:-1] if text.endswith(".") else text
    if "." not in tail:
        raise PermError("domain-spec %r is not a fully qualified name" % text)
    top = tail.rsplit(".", 1)[1]
    if not _toplabel_ok(top):
        raise PermError("domain-spec %r has an invalid top label" % text)
    return tokens


def _urlescape(s):
    out = []
    for ch in s:
        if ch in _UNRESERVED:
            out.append(ch)
        else:
            out.extend("%%%02X" % b for b in ch.encode("utf-8"))
    return "".join(out)


def _truncate(name):
    """RFC 7208 section 7.3: drop left labels until at most 253 characters."""
    while len(name) > 253 and "." in name:
        name = name.split(".", 1)[1]
    return name[-253:] if len(name) > 253 else name


# ---------------------------------------------------------------- records

class Term:
    __slots__ = ("text", "kind", "qualifier", "name", "domain", "cidr4", "cidr6",
                 "net", "ver")

    def __init__(self, text, kind, name):
        self.text = text
        self.kind = kind            # "mech" or "mod"
        self.name = name
        self.qualifier = "+"
        self.domain = None          # macro tokens or None
        self.cidr4 = 32
        self.cidr6 = 128
        self.net = 0
        self.ver = 4


def _name_ok(name):
    """A mechanism or modifier name: ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )."""
    return name != "" and name[0] in _LETTERS and not name[1:].strip(_NAME_CHARS)


def split_modifier(word):
    """name "=" value -> (name, value), None when the word is no modifier."""
    name, eq, value = word.partition("=")
    if eq and _name_ok(name):
        return name, value
    return None


def split_mechanism(word):
    """[qualifier] name rest -> (qualifier or "", name, rest), the name as
    long as it goes; None when no name follows the qualifier."""
    qual = word[:1] if word[:1] in ("+", "-", "~", "?") else ""
    i = len(qual)
    if i >= len(word) or word[i] not in _LETTERS:
        return None
    j = i + 1
    while j < len(word) and word[j] in _NAME_CHARS:
        j += 1
    return qual, word[i:j], word[j:]


def _trailing_digits(text):
    """The length of the run of ASCII digits that ends `text`."""
    i = len(text)
    while i and text[i - 1] in _DIGITS:
        i -= 1
    return len(text) - i


def split_dual_cidr(rest):
    """a / mx argument -> (domain part, ip4 length text or None, ip6 length
    text or None): the longest tail of the forms "/N", "//N", "/N//N" is
    the lengths, what is before it the domain part."""
    n6 = _trailing_digits(rest)
    if not n6:
        return rest, None, None
    head = rest[:len(rest) - n6]
    if head.endswith("//"):
        c6 = rest[len(head):]
        head = head[:-2]
        n4 = _trailing_digits(head)
        if n4 and head[:len(head) - n4].endswith("/"):
            return head[:len(head) - n4 - 1], head[len(head) - n4:], c6
        return head, None, c6
    if head.endswith("/"):
        return head[:-1], rest[len(head):], None
    return rest, None, None


def _address_argument(rest, chars):
    """":" address ["/" length] with the address of `chars` -> (address,
    length text or None), None when it is not."""
    if rest[:1] != ":":
        return None
    addr, slash, length = rest[1:].partition("/")
    if not addr or addr.strip(chars) or (slash and not _digits(length)):
        return None
    return addr, (length if slash else None)


def _cidr(text, top):
    if text is None:
        return top
    if not _cidr_ok(text) or int(text) > top:
        raise PermError("invalid CIDR length /%s" % text)
    return int(text)


def parse_record(text):
    """An SPF record (text after selection, 'v=spf1 ...') -> (directives,
    redirect Term|None, exp Term|None). PermError on any syntax error
    anywhere in the record (RFC 7208 section 4.6)."""
    directives = []
    redirect = exp = None
    for word in text.split(" ")[1:]:
        if not word:
            continue
        m = split_modifier(word)
        if m:
            name, value = m[0].lower(), m[1]
            t = Term(word, "mod", name)
            if name in ("redirect", "exp"):
                t.domain = parse_domain_spec(value)
                if name == "redirect":
                    if redirect is not None:
                        raise PermError("redirect= appears twice")
                    redirect = t
                else:
                    if exp is not None:
                        raise PermError("exp= appears twice")
                    exp = t
            else:
                parse_macro_string(value)       # unknown modifier: syntax only
            continue
        m = split_mechanism(word)
        if not m:
            raise PermError("invalid term %r" % word)
        qual, name, rest = m[0] or "+", m[1].lower(), m[2]
        if name not in _MECHANISMS:
            raise PermError("unknown mechanism %r" % word)
        t = Term(word, "mech", name)
        t.qualifier = qual
        if name == "all":
            if rest:
                raise PermError("invalid term %r" % word)
        elif name in ("include", "exists"):
            if not rest.startswith(":"):
                raise PermError("%s needs a domain: %r" % (name, word))
            t.domain = parse_domain_spec(rest[1:])
        elif name in ("a", "mx"):
            arg, c4, c6 = split_dual_cidr(rest)
            if arg:
                if not arg.startswith(":"):
                    raise PermError("invalid term %r" % word)
                t.domain = parse_domain_spec(arg[1:])
            t.cidr4 = _cidr(c4, 32)
            t.cidr6 = _cidr(c6, 128)
        elif name == "ptr":
            if rest:
                if not rest.startswith(":"):
                    raise PermError("invalid term %r" % word)
                t.domain = parse_domain_spec(rest[1:])
        elif name == "ip4":
            im = _address_argument(rest, _DIGITS + ".")
            if not im or not ip4_ok(im[0]):
                raise PermError("invalid ip4 %r" % word)
            t.ver, t.net = 4, _ip4_int(im[0])
            t.cidr4 = _cidr(im[1], 32)
        elif name == "ip6":
            im = _address_argument(rest, _HEX6)
            if not im:
                raise PermError("invalid ip6 %r" % word)
            try:
                raw = _socket.inet_pton(_socket.AF_INET6, im[0])
            except (OSError, ValueError):
                raise PermError("invalid ip6 %r" % word)
            t.ver, t.net = 6, int.from_bytes(raw, "big")
            t.cidr6 = _cidr(im[1], 128)
        directives.append(t)
    return directives, redirect, exp


def select_record(records):
    """TXT records (bytes) -> the one SPF record as text, None when there is
    none. PermError when several, or when it is not 7-bit ASCII."""
    found = []
    for rec in records:
        low = rec[:7].lower()
        if low == b"v=spf1" or low == b"v=spf1 ":
            found.append(rec)
    if not found:
        return None
    if len(found) > 1:
        raise PermError("%d SPF records" % len(found))
    try:
        return found[0].decode("ascii")
    except UnicodeDecodeError:
        raise PermError("SPF record is not 7-bit ASCII")


def valid_domain(domain):
    """RFC 7208 section 4.3: a fully qualified name of labels of 1-63
    octets, at most 253 octets; not an address literal."""
    if not domain or domain.startswith("[") or len(domain) > 253:
        return False
    labels = domain.rstrip(".").split(".") if domain != "." else [""]
    if len(labels) < 2:
        return False
    for label in labels:
        if not label or len(label) > 63:
            return False
    return True


# ---------------------------------------------------------------- evaluation

class _Check:
    def __init__(self, ip, sender, helo, lookup, deadline, receiver):
        self.ver, self.ip = parse_ip(ip)
        self.sender = sender
        local, _, self.o = sender.rpartition("@")
        self.l = local or "postmaster"
        self.h = helo
        self.lookup = lookup
        self.deadline = deadline
        self.receiver = receiver
        self.terms = 0
        self.voids = 0
        self._ptr_names = None
        self._p = None

    # -- DNS
    def _dns(self, name, qtype):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise TempError("DNS time budget exhausted")
        return self.lookup(name, qtype, self.deadline)

    def _count_term(self):
        self.terms += 1
        if self.terms > MAX_DNS_TERMS:
            raise PermError("more than %d DNS-querying terms" % MAX_DNS_TERMS)

    def _void(self):
        self.voids += 1
        if self.voids > MAX_VOID:
            raise PermError("more than %d void lookups" % MAX_VOID)

    def _records(self, name, qtype, void=True):
        """The records of one lookup; TempError on a temporary failure; no
        record (NXDOMAIN or no data) is [] and, with void, a void lookup
        (section 4.6.4)."""
        ans = self._dns(name, qtype)
        if ans.status == "temp":
            raise TempError("%s %s: %s" % (name, qtype, ans.error or "temporary DNS failure"))
        if ans.status != "ok" or not ans.records:
            if void:
                self._void()
            return []
        return ans.records

    def _addresses(self, name, void=True):
        """A (IPv4 client) or AAAA (IPv6 client) at name -> [int]."""
        out = []
        for rec in self._records(name, "A" if self.ver == 4 else "AAAA", void):
            try:
                ver, n = parse_ip(rec)
            except (ValueError, OSError):
                continue
            if ver == self.ver:
                out.append(n)
        return out

    def _match_addresses(self, addrs, term):
        length = term.cidr4 if self.ver == 4 else term.cidr6
        return any(in_net(self.ver, self.ip, a, length) for a in addrs)

    def _ptr(self):
        """The first 10 PTR names of the client address (None: DNS error)."""
        if self._ptr_names is None:
            ans = self._dns(reverse_name(self.ver, self.ip), "PTR")
            if ans.status == "temp":
                return None
            if ans.status != "ok":
                self._ptr_names = []
            else:
                self._ptr_names = [domain_key(r) for r in ans.records[:MAX_PTR]]
        return self._ptr_names

    def _validated(self, names, target, only_under):
        """The first name among `names` whose A/AAAA holds the client address,
        trying those equal to or under `target` first (RFC 7208 section 5.5);
        with only_under, no other. None when there is none."""
        target = domain_key(target)
        under = [n for n in names if n == target or n.endswith("." + target)]
        if not only_under:
            under += [n for n in names if n not in under]
        for name in under:
            try:
                addrs = self._addresses(name, void=False)
            except TempError:
                continue                # an error skips the name
            if self.ip in addrs:
                return name
        return None

    # -- macros
    def _macro_value(self, letter, domain):
        if letter == "s":
            return self.sender
        if letter == "l":
            return self.l
        if letter == "o":
            return self.o
        if letter == "d":
            return domain
        if letter == "i":
            if self.ver == 4:
                return _ip4_text(self.ip)
            return ".".join("%X" % ((self.ip >> (4 * i)) & 15) for i in range(31, -1, -1))
        if letter == "p":
            if self._p is None:
                try:
                    names = self._ptr() or []
                    self._p = self._validated(names, domain, False) or "unknown"
                except TempError:
                    self._p = "unknown"     # section 7.3: no validated name
            return self._p
        if letter == "v":
            return "in-addr" if self.ver == 4 else "ip6"
        if letter == "h":
            return self.h
        if letter == "c":
            return ip_text(self.ver, self.ip)
        if letter == "r":
            return self.receiver or "unknown"
        if letter == "t":
            return str(int(time.time()))
        raise PermError("unknown macro letter %r" % letter)

    def expand(self, tokens, domain):
        out = []
        for tok in tokens:
            if isinstance(tok, str):
                out.append(tok)
                continue
            letter, count, reverse, delims = tok
            value = self._macro_value(letter.lower(), domain)
            for d in delims[1:]:            # split on any of the delimiters
                value = value.replace(d, delims[0])
            parts = value.split(delims[0])
            if reverse:
                parts.reverse()
            if count:
                parts = parts[-count:]
            value = ".".join(parts)
            if letter.isupper():
                value = _urlescape(value)
            out.append(value)
        return "".join(out)

    def target(self, term, domain):
        if term.domain is None:
            return domain
        name = self.expand(term.domain, domain)
        if name.endswith("."):
            name = name[:-1]
        return _truncate(name)

    # -- check_host
    def check(self, domain):
        """-> (result, mechanism text, exp Term|None, record domain)."""
        if not valid_domain(domain):
            return "none", "", None, domain
        domain = domain.rstrip(".")
        record = select_record(self._records(domain, "TXT", void=False))
        if record is None:
            return "none", "", None, domain
        directives, redirect, exp = parse_record(record)
        has_all = False
        for t in directives:
            if t.name == "all":
                has_all = True
            if self.match(t, domain):
                return _QUALIFIER[t.qualifier], t.text, exp, domain
        if redirect is not None and not has_all:
            self._count_term()
            target = self.target(redirect, domain)
            if not valid_domain(target):
                raise PermError("redirect to an invalid domain %r" % target)
            result, mech, exp2, rdomain = self.check(target)
            if result == "none":
                raise PermError("redirect=%s: no SPF record" % target)
            return result, mech, exp2, rdomain
        return "neutral", "default", exp, domain

    def match(self, t, domain):
        name = t.name
        if name in _DNS_MECHANISMS:
            self._count_term()
        if name == "all":
            return True
        if name == "ip4":
            return self.ver == 4 and in_net(4, self.ip, t.net, t.cidr4)
        if name == "ip6":
            return self.ver == 6 and in_net(6, self.ip, t.net, t.cidr6)
        target = self.target(t, domain)
        if name == "include":
            if not valid_domain(target):
                raise PermError("include of an invalid domain %r" % target)
            result, _, _, _ = self.check(target)
            if result == "pass":
                return True
            if result in ("fail", "softfail", "neutral"):
                return False
            if result == "temperror":
                raise TempError("include:%s: temperror" % target)
            raise PermError("include:%s: %s" % (target, "no SPF record"
                                                 if result == "none" else result))
        if name == "a":
            return self._match_addresses(self._addresses(target), t)
        if name == "mx":
            records = self._records(target, "MX")
            if len(records) > MAX_MX:
                raise PermError("%s has more than %d MX records" % (target, MAX_MX))
            for _, host in sorted(records):
                host = host.rstrip(".")
                if not host:
                    continue            # null MX (RFC 7505)
                if self._match_addresses(self._addresses(host, void=False), t):
                    return True
            return False
        if name == "ptr":
            names = self._ptr()
            if names is None:
                return False            # a DNS error: no match (section 5.5)
            if not names:
                self._void()
                return False
            return self._validated(names, target, True) is not None
        if name == "exists":
            return bool(self._records(target, "A"))
        raise PermError("unknown mechanism %r" % t.text)

    def explain(self, exp, domain, default):
        """The explanation for a fail (RFC 7208 section 6.2); any trouble
        means the default."""
        if exp is None:
            return default
        try:
            name = self.target(exp, domain)
            if not name or (self.deadline is not None and time.monotonic() >= self.deadline):
                return default
            ans = self.lookup(name, "TXT", self.deadline)
            if ans.status != "ok" or len(ans.records) != 1:
                return default
            text = ans.records[0].decode("ascii")
            return self.expand(parse_macro_string(text, exp=True), domain)
        except (PermError, TempError, UnicodeDecodeError):
            return default


def check_host(ip, domain, sender, helo="", lookup=None, deadline=None,
               receiver="unknown", default_explanation=DEFAULT_EXPLANATION, explain=True):
    """RFC 7208 section 4: evaluate `domain`'s SPF policy for client address
    `ip` and the envelope `sender` ("local@domain"; an empty local-part
    means postmaster). Never raises for DNS or record trouble: the result
    is one of RESULTS (see the module docstring)."""
    try:
        c = _Check(ip, sender or "", helo or "", lookup, deadline, receiver)
    except (ValueError, OSError, TypeError, AttributeError):
        return SpfResult("none", domain, problem="no usable client address %r" % (ip,))
    try:
        result, mech, exp, rdomain = c.check(domain or "")
    except PermError as e:
        return SpfResult("permerror", domain, problem=str(e), lookups=c.terms, voids=c.voids)
    except TempError as e:
        return SpfResult("temperror", domain, problem=str(e), lookups=c.terms, voids=c.voids)
    except Exception as e:      # our fault (or a broken lookup): temporary, never a traceback
        return SpfResult("temperror", domain, problem="internal error: %s: %s"
                         % (type(e).__name__, e), lookups=c.terms, voids=c.voids)
    problem = ""
    if result == "none":
        problem = ("no SPF record" if valid_domain(domain)
                   else "%r is not a fully qualified domain name" % domain)
    explanation = ""
    if result == "fail" and explain:
        explanation = c.explain(exp, rdomain, default_explanation)
    return SpfResult(result, domain, mech, explanation, problem, c.terms, c.voids)
