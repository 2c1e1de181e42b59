"""Reading an ARC-Authentication-Results value (RFC 8617 4.1.1: "i=N;" and an
RFC 8601 Authentication-Results payload).

    aar = parse(b"i=1; lists.example.org; spf=pass smtp.mailfrom=a@b.example; dmarc=pass header.from=b.example")
    aar.instance, aar.authserv_id        # 1, "lists.example.org"
    aar.results                          # [Result("spf", "pass", {"smtp.mailfrom": "a@b.example"}), ...]
    aar.find("dmarc")                    # the Result entries for one method

Only what a trusted sealer's verdict needs (method, result, properties);
comments are dropped, quoted strings unquoted, names lowercased. At most
MAX_RESULTS entries and the first MAX_OCTETS of the value are read. Garbage gives fewer entries, never an error.
Written here: the optional authres package (which dkimpy would use) is one
more dependency for a loop over ';' and 'key=value'. Plain string scanning,
no regular expressions: `re` (with enum, functools...) is start-up cost on
the per-message path (qmail-dkimd(8), SPEED); tests/test_verify_noregex.py
compares the result with the regex version this replaced.
"""
MAX_RESULTS = 64
MAX_OCTETS = 65536      # of the value read (real ones are a few hundred octets)
_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
_DIGITS = "0123456789"


class Result:
    def __init__(self, method, result, props, reason=None):
        self.method = method
        self.result = result
        self.props = props
        self.reason = reason

    def __repr__(self):
        return "Result(%r, %r, %r)" % (self.method, self.result, self.props)


class Aar:
    def __init__(self, instance=None, authserv_id=None, results=None):
        self.instance = instance
        self.authserv_id = authserv_id
        self.results = results if results is not None else []

    def find(self, method):
        return [r for r in self.results if r.method == method]

    def __repr__(self):
        return "Aar(i=%r, %r, %r)" % (self.instance, self.authserv_id, self.results)


def _segments(text):
    """Split on ';' outside quoted strings, dropping comments."""
    segs, cur = [], []
    depth = 0
    quoted = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if quoted:
            cur.append(c)
            if c == "\\" and i + 1 < n:
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                quoted = False
        elif depth:
            if c == "\\":
                i += 1
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
                if not depth:
                    cur.append(" ")
        elif c == "(":
            depth = 1
        elif c == '"':
            quoted = True
            cur.append(c)
        elif c == ";":
            segs.append("".join(cur))
            cur = []
            if len(segs) > MAX_RESULTS + 2:
                return segs
        else:
            cur.append(c)
        i += 1
    segs.append("".join(cur))
    return segs


def _quote_end(text, i):
    """The index after the quoted string beginning at text[i] ('"'), its
    closing quote the first one not escaped by a backslash; None when it is
    not closed (a backslash takes the character after it, if any)."""
    n = len(text)
    j = i + 1
    while j < n:
        c = text[j]
        if c == "\\":
            if j + 1 >= n:
                return None
            j += 2
        elif c == '"':
            return j + 1
        else:
            j += 1
    return None


def _unescape(text):
    """Each backslash and the character after it -> that character."""
    if "\\" not in text:
        return text
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _unquote(v):
    """A value, or a quoted string and what follows it (a quoted local-part
    before @domain), unquoted."""
    if v[:1] == '"':
        end = _quote_end(v, 0)
        if end is not None:
            return _unescape(v[1:end - 1]) + v[end:]
    return v


def _tokens(seg):
    """(start, end) of each token, left to right: a closed quoted string,
    a run of characters that are neither white space nor '=' nor '"', or
    '='. Anything else (white space, an unclosed quote) separates them.
    One pass: a hostile field (up to the 1 MiB header bound) costs linear
    time."""
    out = []
    i, n = 0, len(seg)
    while i < n:
        c = seg[i]
        if c == '"':
            end = _quote_end(seg, i)
            if end is None:
                i += 1
                continue
            out.append((i, end))
            i = end
        elif c == "=":
            out.append((i, i + 1))
            i += 1
        elif c.isspace():
            i += 1
        else:
            j = i + 1
            while j < n and not (seg[j] in '="' or seg[j].isspace()):
                j += 1
            out.append((i, j))
            i = j
    return out


def _is_name(tok):
    """A method or property name: [A-Za-z0-9_.-]+, optionally /version."""
    name, slash, version = tok.partition("/")
    if not name or name.strip(_NAME_CHARS):
        return False
    return not slash or (version != "" and not version.strip(_DIGITS))


def _pairs(seg):
    """[(name, value)] of the name=value items of one resinfo, in order."""
    parts = []
    end = -1
    for start, stop in _tokens(seg):
        t = seg[start:stop]
        if parts and start == end and t != "=" and parts[-1][-1] != "=":
            parts[-1].append(t)     # "a b"@x.example: one value
        else:
            parts.append([t])
        end = stop
    toks = ["".join(p) for p in parts]
    out = []
    for i in range(1, len(toks) - 1):
        if toks[i] == "=" and toks[i + 1] != "=" and _is_name(toks[i - 1]):
            out.append((toks[i - 1], toks[i + 1]))
    return out


def parse(value):
    """bytes or str -> Aar."""
    value = value[:MAX_OCTETS]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    segs = _segments(value.replace("\r", " ").replace("\n", " "))
    out = Aar()
    name, eq, num = segs[0].partition("=") if segs else ("", "", "")
    num = num.strip()
    if not eq or name.strip() != "i" or not 0 < len(num) <= 10 or num.strip(_DIGITS):
        return out
    out.instance = int(num)
    if len(segs) < 2:
        return out
    words = segs[1].split()
    out.authserv_id = _unquote(words[0]).lower() if words else None
    for seg in segs[2:2 + MAX_RESULTS]:
        pairs = _pairs(seg)
        if not pairs:
            continue
        method, result = pairs[0]
        props = {}
        reason = None
        for k, v in pairs[1:]:
            k = k.lower()
            if k == "reason":
                reason = _unquote(v)
            else:
                props.setdefault(k, _unquote(v))
        out.results.append(Result(method.split("/")[0].lower(), result.lower(), props, reason))
    return out
