"""Splitting a qmail message (LF line ends) into header fields and body.

dkimpy's rfc822_parse needs the whole message in memory and raises on a line
that is not a header field; qmail-dkim must accept any byte string, keep the
offsets of each field (verify mode removes forged fields, nothing else) and
leave the body on disk. So we split the header block ourselves:

* a field starts with a name (printable ASCII except ':' and space) and ':';
* a line starting with space or tab continues the previous field (at the
  very start of the message: a field with an empty name, see below);
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
    fields, pos, _ended = parse_header_ex(data, complete)
    return fields, pos


def parse_header_ex(data, complete=True):
    """parse_header, plus whether the header really ended inside `data` (an
    empty line or a line that is not a header line was found)."""
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
            return fields, pos + 1, True
        if first in (b" ", b"\t"):
            if cur is None:
                # Continuation lines before any field: a field without a name.
                # Downstream they continue whatever header line precedes them,
                # so they are part of the header, not body (see verify.py, sign.py).
                cur = [b"", pos, 0]
            pos = line_end
            continue
        m = _NAME.match(data, pos, line_end)
        if not m:               # not a header line: the body starts here
            if cur:
                fields.append(_field(data, cur, pos))
            return fields, pos, True
        if cur:
            fields.append(_field(data, cur, pos))
        cur = [m.group(1), pos, m.end() - pos]
        pos = line_end
    if cur:
        fields.append(_field(data, cur, pos))
    return fields, pos, complete


def scan_fields(f, start, keep=8192):
    """Header fields read from the binary file `f` from offset `start` (the
    start of a line), for headers too large to hold in memory. Each field's
    raw keeps at most `keep` octets; .start and .end are exact.
    Returns (fields, body_offset)."""
    f.seek(start)
    fields = []
    pos = start
    cur = None                  # [name, start, colon, bytearray prefix]
    at_line_start = True
    while True:
        piece = f.readline(1 << 16)
        if not piece:
            break
        if at_line_start:
            first = piece[:1]
            if first == b"\n":
                break
            if first in (b" ", b"\t"):
                if cur is None:
                    cur = [b"", pos, 0, bytearray()]
            else:
                m = _NAME.match(piece)
                if not m:
                    break
                if cur:
                    fields.append(_scanned(cur, pos))
                cur = [m.group(1), pos, m.end(), bytearray()]
        if cur is not None and len(cur[3]) < keep:
            cur[3] += piece[:keep - len(cur[3])]
        pos += len(piece)
        at_line_start = piece.endswith(b"\n")
    if cur:
        fields.append(_scanned(cur, pos))
    # pos: the separator line or the first non-header line (or the end)
    if piece[:1] == b"\n" and at_line_start:
        return fields, pos + 1
    return fields, pos


def _scanned(cur, end):
    name, start, colon, prefix = cur
    field = HeaderField(name, bytes(prefix), start, colon)
    field.end = end
    return field


def _field(data, cur, end):
    name, start, colon = cur
    return HeaderField(name, data[start:end], start, colon)
