"""The envelope (fd 1) and DKIMSIGNRCPTS (qmail-dkim(8), DESCRIPTION;
SIGNING, "DKIMSIGNRCPTS").

The envelope is F<sender>\\0 then T<recipient>\\0 ... then \\0. main.py reads it
after the message (a missing or incomplete one is truncated input, exit 54);
the queue program then gets exactly the same bytes (through a pipe, after
the message).
"""
from qmail_dkim import exits
from qmail_dkim.exits import QmailDkimExit


def read_envelope(fd=1, limit=64 << 20):
    from qmail_dkim.spool import read_chunks
    chunks = []
    size = 0
    for data in read_chunks(fd, "envelope"):
        size += len(data)
        if size > limit:
            raise QmailDkimExit(exits.READ_ERROR, "envelope larger than %d octets" % limit)
        chunks.append(data)
    envelope = b"".join(chunks)
    # A complete envelope ends with the empty recipient: "...\0\0" (qmail-queue
    # itself refuses a short one). A missing or truncated envelope means the
    # sender side died before the end: temporary, and nothing is queued.
    if not envelope:
        raise QmailDkimExit(exits.READ_ERROR, "truncated input: no envelope after the message "
                            "(the client or qmail-smtpd went away during DATA)")
    if not envelope.startswith(b"F"):
        raise QmailDkimExit(exits.READ_ERROR, "malformed envelope (does not begin with F)")
    if not envelope.endswith(b"\0\0"):
        raise QmailDkimExit(exits.READ_ERROR, "truncated input: the envelope is incomplete "
                            "(the client or qmail-smtpd went away)")
    return envelope


def recipients(envelope):
    """Recipient addresses (bytes) from envelope bytes."""
    out = []
    for item in envelope.split(b"\0"):
        if item.startswith(b"T"):
            out.append(item[1:])
    return out


def parse_filter(text):
    return [x.strip().lower() for x in text.split(",") if x.strip()]


def matches(rcpts, filter_items):
    """First recipient that matches an address or @domain of the filter."""
    for r in rcpts:
        addr = r.decode("utf-8", "replace").lower()
        for item in filter_items:
            if item.startswith("@"):
                if addr.endswith(item):
                    return addr
            elif addr == item:
                return addr
    return None
