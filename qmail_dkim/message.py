"""Splitting a qmail message (LF line ends) into header fields and body.

dkimpy's rfc822_parse needs the whole message in memory and raises on a line
that is not a header field; qmail-dkim must accept any byte string, keep the
offsets of each field (verify mode removes forged fields, nothing else) and
leave the body on disk. So we split the header block ourselves:

* a field starts with a name (printable ASCII except ':' and space) and ':';
* a line starting with space or tab continues the previous field;
* the header ends at the first empty line (the separator; the body starts
  after it), or at the first line that is neither (the body starts at that
  line: there was no separator), or at the end of the data.

A CR before LF is data and stays in the field (qmail-remote will send it as
CR CR LF).
"""
import re

_NAME = re.compile(rb"([\x21-\x39\x3b-\x7e]+[ \t]*):")


class HeaderField:
    __slots__ = ("name", "raw", "start", "end", "colon")

    def __init__(self, name, raw, start, colon):
        self.name = name          # bytes before the colon, as written (simple canonicalization needs them exact)
        self.raw = raw            # the whole field, LF line ends, incl. final LF
        self.start = start        # offset of the field in the message
        self.end = start + len(raw)
        self.colon = colon        # offset of the value inside raw

    @property
    def lname(self):
        return self.name.rstrip(b" \t").lower()

    @property
    def value(self):
        return self.raw[self.colon:]

    def crlf_value(self):
        """Value in the CRLF form dkimpy's canonicalizers take."""
        return self.value.replace(b"\n", b"\r\n")

    def unfolded(self):
        """Value unfolded, stripped, as text (for parsing From: etc.)."""
        v = re.sub(rb"\r?\n(?=[ \t])", b"", self.value).strip()
        return v.decode("utf-8", "replace")

    def __repr__(self):
        return "HeaderField(%r, %d..%d)" % (self.name, self.start, self.end)


def parse_header(data, complete=True):
    """Return (fields, body_offset) for the header at the start of `data`.

    body_offset is where the body starts (after the empty line if there is
    one). With complete=False, `data` may be cut short: the last, possibly
    unfinished line is not taken as the end of the header.
    """
    fields = []
    pos = 0
    n = len(data)
    cur = None                  # [name, start, colon]
    while pos < n:
        eol = data.find(b"\n", pos)
        if eol < 0:
            if not complete:
                break
            line_end = n
        else:
            line_end = eol + 1
        first = data[pos:pos + 1]
        if first == b"\n":      # the separator
            if cur:
                fields.append(_field(data, cur, pos))
            return fields, pos + 1
        if first in (b" ", b"\t") and cur is not None:
            pos = line_end
            continue
        m = _NAME.match(data, pos, line_end)
        if not m:               # not a header line: the body starts here
            if cur:
                fields.append(_field(data, cur, pos))
            return fields, pos
        if cur:
            fields.append(_field(data, cur, pos))
        cur = [m.group(1), pos, m.end() - pos]
        pos = line_end
    if cur:
        fields.append(_field(data, cur, pos))
    return fields, pos


def _field(data, cur, end):
    name, start, colon = cur
    return HeaderField(name, data[start:end], start, colon)
