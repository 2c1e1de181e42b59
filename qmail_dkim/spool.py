"""Spooling fd 0 to $TMPDIR (qmail-dkim(8), DESCRIPTION).

The message goes to an unlinked file created O_EXCL, mode 0600, in exactly
$TMPDIR (default /tmp): if it cannot be created or written there the run
ends with 53 -- no silent fallback. Only the header block stays in memory
(at most HEADER_MAX octets; what follows is body).
"""
import os

from qmail_dkim import exits
from qmail_dkim.exits import QmailDkimExit
from qmail_dkim.dkim.message import parse_header_ex, scan_fields

HEADER_MAX = 1 << 20      # header octets kept in memory and parsed
CHUNK = 1 << 16


def _create(tmpdir):
    # os.urandom rather than secrets: the same randomness, without importing
    # random and hmac on every message. O_EXCL makes a guessed name harmless.
    path = os.path.join(tmpdir, "qmail-dkim.%d.%s" % (os.getpid(), os.urandom(6).hex()))
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise QmailDkimExit(exits.WRITE_ERROR, "cannot create spool file in %s: %s" % (tmpdir, e.strerror))
    try:
        os.unlink(path)
    except OSError:
        pass
    return fd


def write_all(fd, data):
    """os.write until all of `data` is written (OSError as os.write raises it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def read_chunks(fd, what, size=CHUNK):
    """os.read(fd) to the end, chunk by chunk; a read error is exit 54
    naming `what` ("message", "envelope")."""
    while True:
        try:
            chunk = os.read(fd, size)
        except OSError as e:
            raise QmailDkimExit(exits.READ_ERROR, "cannot read %s: %s" % (what, e.strerror))
        if not chunk:
            return
        yield chunk


def _write_all(fd, data, tmpdir):
    try:
        write_all(fd, data)
    except OSError as e:
        raise QmailDkimExit(exits.WRITE_ERROR, "cannot write spool file in %s: %s" % (tmpdir, e.strerror))


class Spool:
    """The message, on disk, with its header parsed.

    fields: the header fields, in order. When the header is longer than
    HEADER_MAX, `fields` holds those that lie in the first HEADER_MAX octets
    (whole), `overflow` is True, and `tail_fields` lists the rest, read from
    the file with at most 8 KB of each kept (enough to recognise a forged
    DKIM-Status or Authentication-Results); body_offset is always exact.
    """

    def __init__(self, fd, size, head, complete):
        self.fd = fd
        self.size = size
        self.overflow = False
        self.tail_fields = []
        fields, body_offset, ended = parse_header_ex(head, complete=complete)
        if not ended and len(head) < size:
            # The header goes on past what we hold: keep the fields that are
            # surely whole, read the rest from the file.
            self.overflow = True
            resume = fields.pop().start if fields else body_offset
            with open(os.dup(fd), "rb", buffering=1 << 16) as f:
                self.tail_fields, body_offset = scan_fields(f, resume)
        self.fields = fields
        self.body_offset = body_offset
        self.header = head[:body_offset]

    @classmethod
    def from_fd(cls, infd=0, tmpdir=None):
        return cls.from_chunks(read_chunks(infd, "message"), tmpdir)

    @classmethod
    def from_chunks(cls, chunks, tmpdir=None):
        tmpdir = tmpdir or "/tmp"
        fd = _create(tmpdir)
        head = bytearray()
        head_done = False
        size = 0
        for chunk in chunks:
            _write_all(fd, chunk, tmpdir)
            size += len(chunk)
            if not head_done:
                start = max(0, len(head) - 1)
                head += chunk
                if head[:1] == b"\n" or head.find(b"\n\n", start) >= 0 or len(head) >= HEADER_MAX:
                    head_done = True
                    del head[HEADER_MAX:]
        complete = len(head) == size or head.find(b"\n\n") >= 0 or head[:1] == b"\n"
        return cls(fd, size, bytes(head), complete)

    def stored_crlf_as_line_end(self, tmpdir=None):
        """DKIMSTOREDCRLF (sign mode): the message as a qmail-remote that
        sends a stored CR LF unchanged puts it on the wire (notqmail 1.09 and
        later, sagredo), in the LF form the hashing takes: every CR LF becomes
        LF. A new spool when the message holds a CR LF, else self."""
        if b"\r\n" not in self.header and not any(b"\r\n" in c or c.endswith(b"\r")
                                                   for c in self.chunks(self.body_offset)):
            return self

        def lf():
            carry = b""
            for c in self.chunks():
                c = carry + c
                carry = b"\r" if c.endswith(b"\r") else b""
                yield (c[:-1] if carry else c).replace(b"\r\n", b"\n")
            if carry:
                yield carry
        return Spool.from_chunks(lf(), tmpdir)

    def chunks(self, start=0, end=None, size=CHUNK):
        end = self.size if end is None else end
        pos = start
        while pos < end:
            data = os.pread(self.fd, min(size, end - pos), pos)
            if not data:
                raise QmailDkimExit(exits.READ_ERROR, "spool file shrank")
            pos += len(data)
            yield data

    def body_chunks(self, size=CHUNK):
        return self.chunks(self.body_offset, None, size)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
