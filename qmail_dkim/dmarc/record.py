"""Parsing one DMARC Policy Record (RFC 9989 section 4.7 and 4.8).

    rec = parse(b"v=DMARC1; p=reject; sp=quarantine; adkim=s")
    rec.p, rec.sp, rec.np, rec.adkim, rec.aspf, rec.psd, rec.t, rec.rua

``parse`` returns None for a TXT record that is not a DMARC Policy Record
(the first tag is not v=DMARC1). Unknown tags are ignored; a bad value of
adkim/aspf/psd/t falls back to the default (section 4.8: "syntax errors ...
discarded in favor of default values"). A missing or bad p=, or a bad sp= /
np=, is remembered in ``bad_policy``: section 4.10.1 then asks for p=none
when the record has a valid rua=, and for no DMARC processing otherwise.

Written here rather than with a library: a record is ten tags, and the
per-message path must not import more than it uses.
"""
POLICIES = ("none", "quarantine", "reject")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")


class Record:
    # (a plain class: dataclasses costs imports on every message)
    def __init__(self, text):
        self.text = text            # the record as found (str)
        self.p = None               # none / quarantine / reject, None if absent or bad
        self.sp = None
        self.np = None
        self.adkim = "r"
        self.aspf = "r"
        self.psd = "u"
        self.t = "n"
        self.rua = []               # syntactically valid reporting URIs
        self.bad_policy = []        # e.g. ["p= missing", "sp=bogus"]

    def __repr__(self):
        return "Record(%r)" % self.text

    @property
    def usable(self):
        """False when section 4.10.1 says: no DMARC processing at all."""
        return not self.bad_policy or bool(self.rua)

    def policy(self, which):
        """The policy of p / sp / np after the section 4.10.1 fallbacks
        (sp falls back to p, np to sp then p). Only for usable records."""
        if self.bad_policy:
            return "none"           # rua= present: act as if p=none
        if which == "np" and self.np:
            return self.np
        if which in ("np", "sp") and self.sp:
            return self.sp
        return self.p


def _valid_uri(uri):
    """A DMARC reporting URI (RFC 3986 scheme ":" something), the obsolete
    "!size" suffix allowed."""
    uri = uri.strip()
    if "!" in uri:
        uri, size = uri.rsplit("!", 1)
        digits = size[:-1] if size[-1:].lower() in ("k", "m", "g", "t") else size
        if not digits.isdigit():
            return False
    colon = uri.find(":")
    if colon < 1 or uri[0] not in _ALPHA or not all(c in _SCHEME for c in uri[:colon]):
        return False
    rest = uri[colon + 1:]
    return bool(rest) and not any(c.isspace() or c in ",;" for c in rest)


def parse(raw):
    """bytes/str TXT record -> Record, or None when it is not a DMARC record."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", "replace")
    parts = raw.split(";")
    first = parts[0].strip(" \t")
    name, eq, value = first.partition("=")
    # "v" is an ABNF literal (case-insensitive); "DMARC1" is %s (case-sensitive)
    if not eq or name.strip(" \t").lower() != "v" or value.strip(" \t") != "DMARC1":
        return None
    rec = Record(raw)
    seen = set()
    for part in parts[1:]:
        part = part.strip(" \t")
        if not part:
            continue
        name, eq, value = part.partition("=")
        name = name.strip(" \t").lower()
        value = value.strip(" \t")
        if not eq or not name or not all(c in _ALPHA for c in name) or name in seen:
            continue                # not a tag, or a repeated one: the first counts
        seen.add(name)
        low = value.lower()
        if name in ("p", "sp", "np"):
            if low in POLICIES:
                setattr(rec, name, low)
            else:
                rec.bad_policy.append("%s=%s" % (name, value[:40]))
        elif name in ("adkim", "aspf"):
            if low in ("r", "s"):
                setattr(rec, name, low)
        elif name == "psd":
            if low in ("y", "n", "u"):
                rec.psd = low
        elif name == "t":
            if low in ("y", "n"):
                rec.t = low
        elif name == "rua":
            rec.rua = [u.strip(" \t") for u in value.split(",") if _valid_uri(u)]
    if rec.p is None and not any(b.startswith("p=") for b in rec.bad_policy):
        rec.bad_policy.insert(0, "p= missing")
    return rec
