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
more dependency for a loop over ';' and 'key=value'.
"""
import re

MAX_RESULTS = 64
MAX_OCTETS = 65536      # of the value read (real ones are a few hundred octets)
# One token at a time, never backtracking over the text: a hostile field
# (up to the 1 MiB header bound) costs linear time.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[^\s="]+|=')
_NAME = re.compile(r"^[A-Za-z0-9_.-]+(?:/[0-9]+)?$")


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


def _unquote(v):
    """A value, or a quoted string and what follows it (a quoted local-part
    before @domain), unquoted."""
    m = re.match(r'"((?:[^"\\]|\\.)*)"(.*)$', v, re.S)
    if m:
        return re.sub(r"\\(.)", r"\1", m.group(1)) + m.group(2)
    return v


def _pairs(seg):
    """[(name, value)] of the name=value items of one resinfo, in order."""
    parts = []
    end = -1
    for m in _TOKEN.finditer(seg):
        t = m.group(0)
        if parts and m.start() == end and t != "=" and parts[-1][-1] != "=":
            parts[-1].append(t)     # "a b"@x.example: one value
        else:
            parts.append([t])
        end = m.end()
    toks = ["".join(p) for p in parts]
    out = []
    for i in range(1, len(toks) - 1):
        if toks[i] == "=" and toks[i + 1] != "=" and _NAME.match(toks[i - 1]):
            out.append((toks[i - 1], toks[i + 1]))
    return out


def parse(value):
    """bytes or str -> Aar."""
    value = value[:MAX_OCTETS]
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    segs = _segments(value.replace("\r", " ").replace("\n", " "))
    out = Aar()
    m = re.match(r"\s*i\s*=\s*([0-9]{1,10})\s*$", segs[0]) if segs else None
    if not m:
        return out
    out.instance = int(m.group(1))
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
