"""Bounded DNS lookups: servers, wire format, transport; TXT answers.

(The generic ``lookup(name, qtype)`` for A, AAAA, MX, PTR and TXT is in
dns.client; it shares everything below through ``exchange``.)

Servers: ``$DNSCACHEIP`` when it holds at least one usable address, else the
``nameserver`` lines of /etc/resolv.conf, else 127.0.0.1 (as djbdns does).

``$DNSCACHEIP`` follows the djbdns convention (one or more addresses) with two
extensions: each address may carry a port, and IPv6 is written in brackets::

    DNSCACHEIP="127.0.0.1"
    DNSCACHEIP="10.0.0.1 10.0.0.2"          (space or comma separated)
    DNSCACHEIP="127.0.0.1:5353,[::1]:5353"
    DNSCACHEIP="10.0.0.1.10.0.0.2"          (djbdns' own dot-joined form)

At most 16 servers are used (as djbdns). A bare IPv6 address without a port
may be written unbracketed. Unusable entries are skipped.

Each lookup is bounded by ``$DKIMDNSTIMEOUT`` seconds (default 5, fractions
allowed) in total, whatever the number of servers: the time is shared between
the attempts (each server at most twice, UDP first, TCP when the answer is
truncated). A caller may also pass an absolute ``deadline`` (time.monotonic())
to share one budget between several lookups.

Outcome (``TxtAnswer.status``):

* ``ok``       -- at least one TXT record at the name (CNAMEs followed)
* ``nxdomain`` -- the name does not exist (also for names that cannot be
                  written in DNS, e.g. an empty label)
* ``nodata``   -- the name exists but has no TXT record
* ``temp``     -- timeout, SERVFAIL, REFUSED, no answer from any server

Answers are size-bounded: a TXT record (its character-strings joined) longer
than MAX_TXT_OCTETS, or more than MAX_TXT_RECORDS records, are ignored and
``oversize`` is set; the whole response is at most 65535 octets by protocol.

Why not dnspython here: ``import dns.message, dns.query`` costs about 90 ms
(dns._features pulls in importlib.metadata and email), measured with
``python -X importtime``, and qmail starts one qmail-dkim process per message.
A TXT query and its answer need only the small encoder/decoder below.
dnspython is still used by the tests to cross-check it. A second reason:
dns.query.udp() uses an unconnected socket, so an ICMP port-unreachable from a
dead server is not seen and costs the whole timeout; a connected socket here
reports it at once. For the same start-up reason (qmail-dkimd(8), SPEED) the
C modules _socket and _struct are used, not socket.py (which imports
selectors and enum) and struct.py, and no regular expressions.
"""
import _socket
import _struct as struct
import errno
import os
import select
import time

DEFAULT_TIMEOUT = 5.0
MAX_SERVERS = 16
MAX_TXT_OCTETS = 16384
MAX_TXT_RECORDS = 32
MAX_CNAME_CHAIN = 8
EDNS_PAYLOAD = 1232          # DNS flag day 2020 value: no IP fragmentation
RESOLV_CONF = "/etc/resolv.conf"

TYPE_CNAME = 5
TYPE_TXT = 16
TYPE_OPT = 41
CLASS_IN = 1

RCODE_NOERROR = 0
RCODE_FORMERR = 1
RCODE_NXDOMAIN = 3
RCODE_NAMES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
               4: "NOTIMP", 5: "REFUSED"}

FLAG_QR = 0x8000
FLAG_TC = 0x0200
FLAG_RD = 0x0100
FLAG_AD = 0x0020


class TxtAnswer:
    # (a plain class: dataclasses costs 8 ms of imports)
    def __init__(self, status, records=None, strings=None, secure=False, error="",
                 server="", oversize=False):
        self.status = status            # ok / nxdomain / nodata / temp
        self.records = records if records is not None else []   # bytes per TXT RR, strings joined
        self.strings = strings if strings is not None else []   # list[list[bytes]] per TXT RR
        self.secure = secure            # AD bit set in the answer
        self.error = error              # why, for the log (empty when ok)
        self.server = server            # "ip:port" that gave the final answer
        self.oversize = oversize        # records were dropped by the size bounds

    def __repr__(self):
        return "TxtAnswer(%r, records=%r, error=%r)" % (self.status, self.records, self.error)

    @property
    def ok(self):
        return self.status == "ok"


class DnsNameError(ValueError):
    """The name cannot be written as a DNS name."""


# ---------------------------------------------------------------- servers

def _valid_ip(host):
    fam = _socket.AF_INET6 if ":" in host else _socket.AF_INET
    try:
        _socket.inet_pton(fam, host.split("%", 1)[0])
    except (OSError, ValueError):
        return False
    return True


def _parse_server(token, default_port=53):
    """'1.2.3.4', '1.2.3.4:53', '[::1]:53', '[::1]', '::1' -> (ip, port)|None."""
    token = token.strip()
    if not token:
        return None
    port = default_port
    if token.startswith("["):
        end = token.find("]")
        if end < 0:
            return None
        host, rest = token[1:end], token[end + 1:]
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif token.count(":") == 1:
        host, port = token.split(":")
    else:
        host = token
    try:
        port = int(port)
    except (TypeError, ValueError):
        return None
    if not 0 < port < 65536 or not _valid_ip(host):
        return None
    if host == "0.0.0.0":            # djbdns: 0.0.0.0 means this host
        host = "127.0.0.1"
    return host, port


def _parse_dnscacheip(value, bad=None):
    """Usable servers of a DNSCACHEIP value; the entries skipped are
    appended to `bad` when given (for the warnings)."""
    out = []
    for token in value.replace(",", " ").split():
        # djbdns' own form joins IPv4 addresses with dots: a.b.c.d.e.f.g.h
        if _dotted_numbers(token) and token.count(".") % 4 == 3 and token.count(".") > 3:
            parts = token.split(".")
            for i in range(0, len(parts), 4):
                s = _parse_server(".".join(parts[i:i + 4]))
                if s:
                    out.append(s)
                elif bad is not None:
                    bad.append(".".join(parts[i:i + 4]))
            continue
        s = _parse_server(token)
        if s:
            out.append(s)
        elif bad is not None:
            bad.append(token)
    return out


def _dotted_numbers(token):
    """1-3 decimal digits (Unicode Nd, as the regex this replaced took
    them), a dot, 1-3 digits, ... at least two groups."""
    parts = token.split(".")
    return len(parts) > 1 and all(0 < len(p) <= 3 and p.isdecimal() for p in parts)


def _parse_resolv_conf(path):
    out = []
    try:
        with open(path, "rb") as f:
            text = f.read(65536).decode("ascii", "replace")
    except OSError:
        return out
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver" and _valid_ip(words[1]):
            out.append((words[1], 53))
    return out


def servers(dnscacheip=None):
    """The DNS servers to ask, as [(ip, port), ...] (at most MAX_SERVERS):
    those of `dnscacheip` ($DNSCACHEIP), else /etc/resolv.conf's."""
    found = _parse_dnscacheip(dnscacheip) if dnscacheip else []
    if not found:
        found = _parse_resolv_conf(RESOLV_CONF)
    if not found:
        found = [("127.0.0.1", 53)]
    return found[:MAX_SERVERS]


def dnscacheip_warning(dnscacheip):
    """None, or the warning= text for a $DNSCACHEIP value with entries that
    are not addresses (skipped; with none usable, /etc/resolv.conf answers)."""
    if not dnscacheip:
        return None
    bad = []
    found = _parse_dnscacheip(dnscacheip, bad)
    if not bad:
        return None
    shown = ",".join(b[:40] for b in bad[:3])
    if found:
        return "DNSCACHEIP entries that are not addresses skipped: %s" % shown
    return "DNSCACHEIP has no usable address (%s): %s used instead" % (shown, RESOLV_CONF)


def servers_text(dnscacheip):
    """The servers servers() picks and where they come from, for the tools:
    '127.0.0.1:53 (DNSCACHEIP)'."""
    names = " ".join(_fmt(s) for s in servers(dnscacheip))
    if dnscacheip and _parse_dnscacheip(dnscacheip):
        return "%s (DNSCACHEIP)" % names
    if _parse_resolv_conf(RESOLV_CONF):
        return "%s (%s)" % (names, RESOLV_CONF)
    return "%s (the default: no DNSCACHEIP, no nameserver in %s)" % (names, RESOLV_CONF)


def parse_timeout(value):
    """$DKIMDNSTIMEOUT in seconds (float > 0), default 5."""
    try:
        t = float(value or "")
    except ValueError:
        return DEFAULT_TIMEOUT
    if not t > 0 or t != t or t == float("inf"):
        return DEFAULT_TIMEOUT
    return min(t, 3600.0)


class DnsSettings:
    """$DNSCACHEIP and $DKIMDNSTIMEOUT as given (None: unset), read by
    config.py. The servers are worked out at the first lookup
    (/etc/resolv.conf is read only then)."""

    def __init__(self, dnscacheip=None, timeout=None):
        self.dnscacheip = dnscacheip
        self.timeout = parse_timeout(timeout)
        self._servers = None

    def servers(self):
        if self._servers is None:
            self._servers = servers(self.dnscacheip)
        return self._servers


# ---------------------------------------------------------------- wire format

def encode_name(name):
    """Text name (str or bytes) -> DNS wire format. Non-ASCII -> A-labels."""
    if isinstance(name, bytes):
        try:
            name = name.decode("ascii")
        except UnicodeDecodeError:
            try:
                name = name.decode("utf-8")
            except UnicodeDecodeError:
                raise DnsNameError("name is not UTF-8")
    name = name.rstrip(".") if name not in (".", "") else ""
    wire = bytearray()
    if name:
        for label in name.split("."):
            if not label:
                raise DnsNameError("empty label in %r" % name)
            if not label.isascii():
                try:
                    raw = label.encode("idna")
                except UnicodeError as e:
                    raise DnsNameError("cannot write %r as an A-label: %s" % (label, e))
            else:
                raw = label.encode("ascii")
            if len(raw) > 63:
                raise DnsNameError("label over 63 octets")
            wire.append(len(raw))
            wire += raw
    wire.append(0)
    if len(wire) > 255:
        raise DnsNameError("name over 255 octets")
    return bytes(wire)


def build_query(qname_wire, qtype=TYPE_TXT, qid=None, edns=True):
    qid = int.from_bytes(os.urandom(2), "big") if qid is None else qid
    # RD, and AD to ask for the AD bit in the answer (RFC 6840 section 5.7).
    header = struct.pack("!HHHHHH", qid, FLAG_RD | FLAG_AD, 1, 0, 0, 1 if edns else 0)
    msg = header + qname_wire + struct.pack("!HH", qtype, CLASS_IN)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", TYPE_OPT, EDNS_PAYLOAD, 0, 0)
    return qid, msg


class FormatError(ValueError):
    pass


def _read_name(msg, off):
    """Decode a (possibly compressed) name at off -> (lowercase bytes, next off)."""
    labels = []
    jumped = False
    end = None
    hops = 0
    total = 0
    while True:
        if off >= len(msg):
            raise FormatError("name runs past the message")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise FormatError("truncated pointer")
            ptr = ((n & 0x3F) << 8) | msg[off + 1]
            if not jumped:
                end = off + 2
                jumped = True
            hops += 1
            if hops > 64 or ptr >= len(msg):
                raise FormatError("bad compression pointer")
            off = ptr
            continue
        if n & 0xC0:
            raise FormatError("unknown label type")
        off += 1
        if n == 0:
            break
        if off + n > len(msg):
            raise FormatError("label runs past the message")
        labels.append(msg[off:off + n].lower())
        total += n + 1
        if total > 255:
            raise FormatError("name too long")
        off += n
    return b".".join(labels), (end if jumped else off)


def parse_response(msg, qid, qname_wire, qtype=TYPE_TXT):
    """Parse a response -> (rcode, flags, answer RRs [(owner, type, rdata_off, rdata)])

    Raises FormatError for anything that is not a well-formed answer to our
    question (callers ignore such packets)."""
    if len(msg) < 12:
        raise FormatError("short message")
    rid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", msg[:12])
    if rid != qid or not flags & FLAG_QR:
        raise FormatError("not our answer")
    off = 12
    qname = _wire_to_text(qname_wire)
    if qd != 1:
        if qd == 0 and flags & 0xF != RCODE_NOERROR:
            return flags & 0xF, flags, []        # some servers drop the question
        raise FormatError("question count %d" % qd)
    name, off = _read_name(msg, off)
    if off + 4 > len(msg):
        raise FormatError("truncated question")
    t, c = struct.unpack("!HH", msg[off:off + 4])
    off += 4
    if name != qname or t != qtype or c != CLASS_IN:
        raise FormatError("answer to another question")
    rrs = []
    for _ in range(an):
        owner, off = _read_name(msg, off)
        if off + 10 > len(msg):
            raise FormatError("truncated RR")
        t, c, _ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
        off += 10
        if off + rdlen > len(msg):
            raise FormatError("truncated RDATA")
        if c == CLASS_IN:
            rrs.append((owner, t, off, msg[off:off + rdlen]))
        off += rdlen
    return flags & 0xF, flags, rrs


def _wire_to_text(wire):
    labels, off = [], 0
    while wire[off]:
        n = wire[off]
        labels.append(wire[off + 1:off + 1 + n].lower())
        off += n + 1
    return b".".join(labels)


def _txt_strings(rdata):
    out, off = [], 0
    while off < len(rdata):
        n = rdata[off]
        if off + 1 + n > len(rdata):
            raise FormatError("TXT string runs past RDATA")
        out.append(rdata[off + 1:off + 1 + n])
        off += 1 + n
    return out


def _follow(msg, qname_wire, rrs, qtype):
    """Follow CNAMEs from the question name; -> [(rdata offset, rdata)] of
    the records of `qtype` at the question name or a CNAME target."""
    names = {_wire_to_text(qname_wire)}
    for _ in range(MAX_CNAME_CHAIN):
        added = False
        for owner, t, off, rdata in rrs:
            if t == TYPE_CNAME and owner in names:
                target, _ = _read_name(msg, off)
                if target not in names:
                    names.add(target)
                    added = True
        if not added:
            break
    return [(off, rdata) for owner, t, off, rdata in rrs
            if t == qtype and owner in names]


def _collect(msg, qname_wire, rrs):
    """Follow CNAMEs from the question name; -> (list of TXT string lists)."""
    return [_txt_strings(rdata) for off, rdata in _follow(msg, qname_wire, rrs, TYPE_TXT)]


# ---------------------------------------------------------------- transport

def _family(ip):
    return _socket.AF_INET6 if ":" in ip else _socket.AF_INET


def _udp(server, query, qid, qname_wire, timeout, qtype=TYPE_TXT):
    """-> (rcode, flags, raw message, rrs). Raises OSError/TimeoutError."""
    deadline = time.monotonic() + timeout
    s = _socket.socket(_family(server[0]), _socket.SOCK_DGRAM)
    try:
        s.setblocking(False)
        s.connect(server)
        s.send(query)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timeout")
            r, _, _ = select.select([s], [], [], left)
            if not r:
                raise TimeoutError("timeout")
            try:
                msg = s.recv(65535)
            except BlockingIOError:
                continue
            try:
                rcode, flags, rrs = parse_response(msg, qid, qname_wire, qtype)
            except FormatError:
                continue        # spoofed, stale or garbled: keep waiting
            return rcode, flags, msg, rrs
    finally:
        s.close()


def _recv_exact(s, n, deadline):
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timeout")
        s.settimeout(left)
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise OSError(errno.ECONNRESET, "connection closed by server")
        buf += chunk
    return bytes(buf)


def _tcp(server, query, qid, qname_wire, timeout, qtype=TYPE_TXT):
    deadline = time.monotonic() + timeout
    s = _socket.socket(_family(server[0]), _socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(server)
        s.settimeout(max(deadline - time.monotonic(), 0.001))
        s.sendall(struct.pack("!H", len(query)) + query)
        (n,) = struct.unpack("!H", _recv_exact(s, 2, deadline))
        msg = _recv_exact(s, n, deadline)
    finally:
        s.close()
    try:
        rcode, flags, rrs = parse_response(msg, qid, qname_wire, qtype)
    except FormatError as e:
        raise OSError(errno.EPROTO, "bad answer over TCP: %s" % e)
    return rcode, flags, msg, rrs


def _ask(server, qname_wire, timeout, qtype=TYPE_TXT):
    """One exchange with one server (UDP, TCP when truncated, no EDNS after
    FORMERR). -> (rcode, flags, msg, rrs)."""
    deadline = time.monotonic() + timeout
    edns = True
    while True:
        qid, query = build_query(qname_wire, qtype, edns=edns)
        rcode, flags, msg, rrs = _udp(server, query, qid, qname_wire,
                                      deadline - time.monotonic(), qtype)
        if flags & FLAG_TC:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("timeout")
            rcode, flags, msg, rrs = _tcp(server, query, qid, qname_wire, left, qtype)
        if rcode == RCODE_FORMERR and edns:
            edns = False        # an old server that does not know EDNS0
            continue
        return rcode, flags, msg, rrs


def _fmt(server):
    ip, port = server
    return ("[%s]:%d" if ":" in ip else "%s:%d") % (ip, port)


def exchange(name, qtype, decode, dns=None, timeout=None, deadline=None):
    """Ask the servers about (`name`, `qtype`) within the time bounds of the
    module docstring. ``decode(msg, qname_wire, rrs)`` turns a NOERROR answer
    into the caller's records (a FormatError from it means: try the next
    server). -> (status, records, secure, error, server) with status
    ok / nxdomain / temp (an ok with no records is the caller's nodata).
    `dns`: DnsSettings (None: the defaults); `timeout` overrides its timeout."""
    if dns is None:
        dns = DnsSettings()
    if timeout is None:
        timeout = dns.timeout
    try:
        qname_wire = encode_name(name)
    except DnsNameError as e:
        return "nxdomain", None, False, "invalid name: %s" % e, ""
    now = time.monotonic()
    end = now + timeout
    if deadline is not None:
        end = min(end, deadline)
    if end <= now:
        return "temp", None, False, "DNS time budget exhausted", ""
    srv = dns.servers()
    attempts = [s for _ in range(2) for s in srv]
    failed = set()
    errors = []
    while attempts:
        server = attempts.pop(0)
        if server in failed:
            continue
        now = time.monotonic()
        left = end - now
        if left <= 0:
            break
        remaining = 1 + sum(1 for s in attempts if s not in failed)
        slice_ = max(left / remaining, min(left, 0.2))
        try:
            rcode, flags, msg, rrs = _ask(server, qname_wire, slice_, qtype)
        except TimeoutError:
            errors.append("%s: timeout" % _fmt(server))
            continue
        except OSError as e:
            errors.append("%s: %s" % (_fmt(server), e.strerror or e))
            failed.add(server)
            continue
        except FormatError as e:
            errors.append("%s: %s" % (_fmt(server), e))
            failed.add(server)
            continue
        secure = bool(flags & FLAG_AD)
        if rcode == RCODE_NXDOMAIN:
            return "nxdomain", None, secure, "NXDOMAIN", _fmt(server)
        if rcode != RCODE_NOERROR:
            errors.append("%s: %s" % (_fmt(server), RCODE_NAMES.get(rcode, "rcode %d" % rcode)))
            failed.add(server)
            continue
        try:
            records = decode(msg, qname_wire, rrs)
        except FormatError as e:
            errors.append("%s: %s" % (_fmt(server), e))
            failed.add(server)
            continue
        return "ok", records, secure, "", _fmt(server)
    if not errors:
        errors.append("DNS time budget exhausted")
    return "temp", None, False, "; ".join(errors[-4:]), ""


def lookup_txt(name, dns=None, timeout=None, deadline=None):
    """Look up the TXT records at `name` (str or bytes) with the DnsSettings
    `dns`. Never raises for DNS trouble: every outcome is a TxtAnswer (see
    the module docstring)."""
    status, txts, secure, error, server = exchange(
        name, TYPE_TXT, _collect, dns, timeout, deadline)
    if status != "ok":
        return TxtAnswer(status, secure=secure, error=error, server=server)
    ans = TxtAnswer("ok", secure=secure, server=server)
    for strings in txts:
        joined = b"".join(strings)
        if len(joined) > MAX_TXT_OCTETS or len(ans.records) >= MAX_TXT_RECORDS:
            ans.oversize = True
            continue
        ans.records.append(joined)
        ans.strings.append(strings)
    if not ans.records:
        ans.status = "nodata"
        ans.error = ("TXT record over %d octets ignored" % MAX_TXT_OCTETS
                     if ans.oversize else "no TXT record")
    return ans
