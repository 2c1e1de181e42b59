"""The envelope (fd 1) and DKIMSIGNRCPTS (contract sections 1 and 3).

The envelope is F<sender>\\0 then T<recipient>\\0 ... then \\0. It is read only
when DKIMSIGNRCPTS needs the recipients; the queue program then gets exactly
the same bytes (main.py hands it an unlinked copy).
"""
import os

from qmail_dkim import exits
from qmail_dkim.exits import QmailDkimExit


def read_envelope(fd=1, limit=64 << 20):
    chunks = []
    size = 0
    while True:
        try:
            data = os.read(fd, 1 << 16)
        except OSError as e:
            raise QmailDkimExit(exits.READ_ERROR, "cannot read envelope: %s" % e.strerror)
        if not data:
            break
        size += len(data)
        if size > limit:
            raise QmailDkimExit(exits.READ_ERROR, "envelope larger than %d octets" % limit)
        chunks.append(data)
    envelope = b"".join(chunks)
    # A complete envelope ends with the empty recipient: "...\0\0" (qmail-queue
    # itself refuses a short one). A truncated envelope means the sender side
    # died: temporary, and nothing is queued.
    if not envelope.startswith(b"F") or not envelope.endswith(b"\0\0"):
        raise QmailDkimExit(exits.READ_ERROR, "envelope truncated or malformed")
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
