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

Plain bytes methods rather than `re`: its import (enum, functools,
collections) is start-up cost on the per-message path (qmail-dkimd(8), SPEED).
"""
# The octets a field name may hold: printable ASCII except ':' (RFC 5322 ftext).
_NOT_NAME = bytes(range(0x21, 0x3a)) + bytes(range(0x3b, 0x7f))


def _name_end(line, start=0, end=None):
    """Where a header line's name ends: the offset after its ':' when
    line[start:] begins with name octets, optional SP / HTAB, then ':';
    else -1."""
    colon = line.find(b":", start, len(line) if end is None else end)
    if colon <= start:
        return -1
    name = line[start:colon].rstrip(b" \t")
    if not name or name.translate(None, _NOT_NAME):
        return -1
    return colon + 1


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
        """Value unfolded, stripped, as text (for parsing From: etc.): each
        LF (and a CR right before it) followed by SP or HTAB is removed."""
        out = []
        for i, line in enumerate(self.value.split(b"\n")):
            if i:
                if line[:1] in (b" ", b"\t"):
                    if out[-1].endswith(b"\r"):
                        out[-1] = out[-1][:-1]
                else:
                    out.append(b"\n")
            out.append(line)
        v = b"".join(out).strip()
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
        colon = _name_end(data, pos, line_end)
        if colon < 0:           # not a header line: the body starts here
            if cur:
                fields.append(_field(data, cur, pos))
            return fields, pos, True
        if cur:
            fields.append(_field(data, cur, pos))
        cur = [data[pos:colon - 1], pos, colon - pos]
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
                colon = _name_end(piece)
                if colon < 0:
                    break
                if cur:
                    fields.append(_scanned(cur, pos))
                cur = [piece[:colon - 1], pos, colon, bytearray()]
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
