"""Streaming DKIM body canonicalization and hashing (RFC 6376 3.4.3, 3.4.4).

dkimpy's canonicalize_body() works on the whole body in memory (several
copies of it); a 10 MB message must not cost 60 MB, so we canonicalize
line-aligned chunks and keep back the trailing empty lines ourselves (they
are dropped only if nothing follows). tests/test_core_sign.py checks the
result against dkimpy's canonicalize_body on random bodies.

Input is the LF form qmail stores; every LF becomes CRLF, as qmail-remote
sends it. A body whose last line has no LF is hashed as if it had one
(qmail-remote adds the CRLF before the final dot).
"""
# Hashes without `hashlib`: it loads OpenSSL's libcrypto (_hashlib, about
# 3-4 ms), start-up cost on the per-message path (qmail-dkimd(8), SPEED).
# The C modules built into the interpreter hash a small message at once;
# OpenSSL is 10-15 times faster per octet, so a body past SMALL_BODY
# octets (where that pays for the load) is hashed by it after all, and so is
# everything once it is loaded anyway (qmail-dkimd's workers). Both built-in
# constructors are imported here, with this module: a process that imports
# everything first and then gives up root (qmail-dkimd) may not be able to
# import them later (another Python's lib-dynload).
import sys

try:
    if sys.version_info >= (3, 12):
        from _sha2 import sha256 as _sha256
    else:
        from _sha256 import sha256 as _sha256
except ImportError:
    _sha256 = None
try:
    from _sha1 import sha1 as _sha1
except ImportError:
    _sha1 = None

SMALL_BODY = 3 << 16
_BUILTIN = {"sha256": _sha256, "sha1": _sha1}


def new_hash(name, data=b"", big=False):
    """A hash object (update, digest, name) for `name` ("sha256", "sha1"),
    holding `data`: the interpreter's built-in one, or OpenSSL's when `big`,
    when OpenSSL is loaded already or when there is no built-in one -- but
    the built-in one when OpenSSL cannot be imported. ValueError for an
    unknown name."""
    f = _BUILTIN.get(name)
    if f is not None and not big and "_hashlib" not in sys.modules:
        return f(data)
    try:
        import _hashlib
        return _hashlib.new(name, data)
    except Exception:               # noqa: BLE001 - no _hashlib, or not this digest there
        if f is not None:
            return f(data)
        import hashlib
        return hashlib.new(name, data)


class BodyHasher:
    def __init__(self, canon="relaxed", hashname="sha256", limit=None):
        if canon not in ("simple", "relaxed"):
            raise ValueError("unknown body canonicalization %r" % canon)
        if _BUILTIN.get(hashname) is None:
            new_hash(hashname)      # an unknown name fails now, not at the end
        self.relaxed = canon == "relaxed"
        self.hashname = hashname
        self.hash = None            # created once SMALL_BODY octets came, or at finish()
        self._held = []             # the canonical octets until then
        self._held_len = 0
        self.limit = limit          # l=: hash only this many canonical octets
        self.length = 0             # canonical body length so far (all of it)
        self._hashed = 0
        self._pending = 0           # empty lines held back
        self._open = False          # a line without LF yet has begun
        self._open_text = False     # ... and has content (it is not an empty line)
        self._open_ws = False       # relaxed: white space held at its end
        self._done = False

    def _emit(self, data):
        self.length += len(data)
        if self.limit is not None:
            room = self.limit - self._hashed
            if room <= 0:
                return
            data = data[:room]
        self._hashed += len(data)
        if self.hash is not None:
            self.hash.update(data)
            return
        self._held.append(data)
        self._held_len += len(data)
        if self._held_len > SMALL_BODY:
            self.hash = new_hash(self.hashname, b"".join(self._held), big=True)
            self._held = None

    def _flush_pending(self):
        while self._pending:
            n = min(self._pending, 1 << 15)
            self._emit(b"\r\n" * n)
            self._pending -= n

    def update(self, chunk):
        if not chunk:
            return
        cut = chunk.rfind(b"\n")
        if cut < 0:
            self._part(chunk)
            return
        start = 0
        if self._open:
            # finish the line begun in an earlier chunk
            first = chunk.find(b"\n")
            self._part(chunk[:first])
            self._close_line()
            start = first + 1
        if start <= cut:
            self._lines(chunk[start:cut + 1])
        if cut + 1 < len(chunk):
            self._part(chunk[cut + 1:])

    def _part(self, data):
        """Part of a line whose LF has not come yet. Emitted as it comes (a
        long line is neither held in memory nor copied again and again);
        only relaxed's trailing white space waits for what follows."""
        self._open = True
        if not data:
            return
        if self.relaxed:
            data = data.replace(b"\t", b" ")
            while b"  " in data:
                data = data.replace(b"  ", b" ")
            if self._open_ws:
                data = data.lstrip(b" ")
                if not data:
                    return
                data = b" " + data
            self._open_ws = data.endswith(b" ")
            if self._open_ws:
                data = data[:-1]
            if not data:
                return
        if not self._open_text:
            self._flush_pending()
            self._open_text = True
        self._emit(data)

    def _close_line(self):
        if self._open_text:
            self._emit(b"\r\n")
        else:
            self._pending += 1      # the line was empty (or only white space, relaxed)
        self._open = self._open_text = self._open_ws = False

    def _lines(self, lines):
        if self.relaxed:
            # RFC 6376 3.4.4 with byte operations on the LF lines: each run of
            # WSP -> one SP, then the SP before a line end goes. Same result as
            # dkimpy's strip_trailing_whitespace + compress_whitespace (tested
            # against them), about three times faster on large bodies.
            t = lines.replace(b"\t", b" ")
            while b"  " in t:
                t = t.replace(b"  ", b" ")
            t = t.replace(b" \n", b"\n").replace(b"\n", b"\r\n")
        else:
            t = lines.replace(b"\n", b"\r\n")
        # Count trailing empty lines: a CRLF at the start of a line.
        i = len(t)
        empty = 0
        while i >= 2 and t[i - 2:i] == b"\r\n" and (i == 2 or (i >= 4 and t[i - 4:i - 2] == b"\r\n")):
            i -= 2
            empty += 1
        if i:
            self._flush_pending()
            self._emit(t[:i] if empty else t)
            self._pending = empty
        else:
            self._pending += empty

    def finish(self):
        if self._done:
            return
        self._done = True
        if self._open:
            self._close_line()      # sent with CRLF by qmail-remote
        if self.length == 0 and not self.relaxed:
            self._emit(b"\r\n")     # simple: an empty body is one CRLF
        if self.hash is None:
            self.hash = new_hash(self.hashname, b"".join(self._held))
            self._held = None

    def digest(self):
        self.finish()
        return self.hash.digest()


def hash_bodies(spool, hashers, chunk=1 << 16):
    """Feed the spooled body to several hashers in one pass."""
    for data in spool.body_chunks(chunk):
        for h in hashers:
            h.update(data)
    for h in hashers:
        h.finish()
