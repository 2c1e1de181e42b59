"""Bounded DNS lookups of A, AAAA, MX, PTR and TXT records (man page: DNS).

    lookup(name, qtype, dns=None, timeout=None, deadline=None) -> Answer

``qtype`` is "A", "AAAA", "MX", "PTR", "TXT" (or the type number). Server
selection, UDP first and TCP when truncated, EDNS fallback, the time bounds
(``$DKIMDNSTIMEOUT`` per lookup, or the caller's absolute ``deadline`` in
time.monotonic() terms when it comes sooner) and the statuses are those of
dns.txt (whose ``exchange`` this module uses):

* ``ok``       -- at least one record of the type at the name (CNAMEs followed)
* ``nxdomain`` -- the name does not exist, or cannot be written in DNS
* ``nodata``   -- the name exists but has no record of the type
* ``temp``     -- timeout, SERVFAIL, REFUSED, no answer from any server

``Answer.records``, one item per resource record, in answer order:

* A / AAAA -- the address as text ("192.0.2.1", "2001:db8::1")
* MX       -- (preference, exchange name as lowercase text without the dot)
* PTR      -- the target name as lowercase text without the trailing dot
* TXT      -- the character-strings joined (bytes); ``Answer.strings`` has them
             apart, as in dns.txt

Size bounds: a TXT record over dns.txt.MAX_TXT_OCTETS and records past
MAX_RECORDS (MAX_TXT_RECORDS for TXT) are dropped and ``oversize`` set; the
whole response is at most 65535 octets by protocol. A record whose RDATA does
not parse makes the answer a format error (the next server is asked).

Why our own client and not dnspython: see dns.txt (about 90 ms of imports per
process; qmail starts one process per message). The tests cross-check this
decoder against dnspython.
"""
import _socket  # the C module: socket.py imports selectors and enum (start-up, qmail-dkimd(8) SPEED)

from qmail_dkim.dns import txt as _txt

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "PTR": 12, "MX": 15, "TXT": 16, "AAAA": 28}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
MAX_RECORDS = 1024


class Answer(_txt.TxtAnswer):
    """dns.txt's TxtAnswer (status, records, strings, secure, error, server,
    oversize) and the query type ("A", "AAAA", "MX", "PTR", "TXT")."""

    def __init__(self, status, qtype="", records=None, strings=None, secure=False,
                 error="", server="", oversize=False):
        super().__init__(status, records, strings, secure, error, server, oversize)
        self.qtype = qtype

    def __repr__(self):
        return "Answer(%r, %r, records=%r, error=%r)" % (
            self.status, self.qtype, self.records, self.error)


def _name_text(raw):
    return raw.decode("ascii", "backslashreplace")


def _decoder(qtype):
    def decode(msg, qname_wire, rrs):
        out = []
        for off, rdata in _txt._follow(msg, qname_wire, rrs, qtype):
            if qtype == 1:
                if len(rdata) != 4:
                    raise _txt.FormatError("A RDATA of %d octets" % len(rdata))
                out.append(_socket.inet_ntop(_socket.AF_INET, rdata))
            elif qtype == 28:
                if len(rdata) != 16:
                    raise _txt.FormatError("AAAA RDATA of %d octets" % len(rdata))
                out.append(_socket.inet_ntop(_socket.AF_INET6, rdata))
            elif qtype == 15:
                if len(rdata) < 3:
                    raise _txt.FormatError("short MX RDATA")
                name, end = _txt._read_name(msg, off + 2)
                if end != off + len(rdata):
                    raise _txt.FormatError("MX RDATA length mismatch")
                out.append((int.from_bytes(rdata[:2], "big"), _name_text(name)))
            elif qtype in (12, 5, 2):
                name, end = _txt._read_name(msg, off)
                if end != off + len(rdata):
                    raise _txt.FormatError("name RDATA length mismatch")
                out.append(_name_text(name))
            else:
                out.append(rdata)
        return out
    return decode


def lookup(name, qtype, dns=None, timeout=None, deadline=None):
    """Look up the records of `qtype` at `name` with the dns.txt.DnsSettings
    `dns` (None: the defaults). Never raises for DNS trouble: every outcome
    is an Answer (see the module docstring)."""
    if isinstance(qtype, str):
        try:
            code = TYPES[qtype.upper()]
        except KeyError:
            raise ValueError("unsupported query type %r" % qtype)
    else:
        code = int(qtype)
    tname = TYPE_NAMES.get(code, str(code))
    if code == _txt.TYPE_TXT:        # dns.txt's own lookup, size bounds and all
        t = _txt.lookup_txt(name, dns, timeout, deadline)
        return Answer(t.status, tname, t.records, t.strings, t.secure, t.error, t.server,
                      t.oversize)
    status, recs, secure, error, server = _txt.exchange(
        name, code, _decoder(code), dns, timeout, deadline)
    if status != "ok":
        return Answer(status, tname, secure=secure, error=error, server=server)
    if not recs:
        return Answer("nodata", tname, secure=secure, error="no %s record" % tname,
                      server=server)
    return Answer("ok", tname, recs[:MAX_RECORDS], secure=secure, server=server,
                  oversize=len(recs) > MAX_RECORDS)


def spf_lookup(dns=None, timeout=None):
    """The ``lookup(name, qtype, deadline)`` that spf.check wants, on this
    client with the dns.txt.DnsSettings `dns`: each query bounded by the
    per-lookup timeout and the deadline."""
    def lookup_(name, qtype, deadline=None):
        return lookup(name, qtype, dns, timeout=timeout, deadline=deadline)
    return lookup_
