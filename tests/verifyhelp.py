"""Helpers for the verify tests: keys (from tests/realparts/keys.py), signing
with dkimpy, a tag-level signer built on dkimpy's own header hashing, spooling,
DNS stubs.
"""
import base64
import time

from cryptography.hazmat.primitives import serialization

from qmail_dkim.dkim.lib import dkim, nacl
from qmail_dkim.dns.txt import TxtAnswer

from tests.qdkim import SAMPLE, spool_bytes
from tests.realparts.keys import cached_ed25519_key, cached_rsa_key

# tests/qdkim.py's sample, with trailing white space and empty lines at the end
MSG = SAMPLE.replace(b"here.\n", b"here.  \n\n\n")

HEADERS = [b"from", b"to", b"subject", b"date", b"message-id"]


def rsa_priv(bits=2048, n=0):
    """The cryptography private key of keys.cached_rsa_key(bits, n)."""
    return cached_rsa_key(bits, n).private


def ed_priv(n=0):
    return cached_ed25519_key(n).private


def rsa_pem(priv):
    return priv.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption())


def rsa_record(priv, extra=""):
    p = base64.b64encode(priv.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return "v=DKIM1; k=rsa; %sp=%s" % (extra, p)


def ed_seed(priv):
    return base64.b64encode(priv.private_bytes(serialization.Encoding.Raw,
                                               serialization.PrivateFormat.Raw,
                                               serialization.NoEncryption()))


def ed_record(priv, extra=""):
    p = base64.b64encode(priv.public_key().public_bytes(serialization.Encoding.Raw,
                                                        serialization.PublicFormat.Raw)).decode()
    return "v=DKIM1; k=ed25519; %sp=%s" % (extra, p)


def crlf(msg):
    return msg.replace(b"\n", b"\r\n")


def lf(msg):
    return msg.replace(b"\r\n", b"\n")


def dkimpy_sign(msg, priv=None, domain=b"example.com", selector=b"sel", canon=(b"relaxed", b"simple"),
                headers=HEADERS, ed=False, **kw):
    """dkimpy's signer over the CRLF form; the field (folded, LF) is prepended."""
    if ed:
        nacl()
        key = ed_seed(priv or ed_priv())
        kw["signature_algorithm"] = b"ed25519-sha256"
    else:
        key = rsa_pem(priv or rsa_priv())
    sig = dkim.sign(crlf(msg), selector, domain, key, canonicalize=canon,
                    include_headers=headers, **kw)
    return lf(sig) + msg


def tag_sign(msg, tags, priv=None, ed=False, bh=None, corrupt_b=False):
    """Sign with exactly these tags (list of (name, value) bytes), in order;
    bh= computed unless given; b= appended last. Header hashing is dkimpy's
    dkim.hash_headers (not qmail-dkim's), body canonicalization dkimpy's."""
    tagd = dict(tags)
    c = tagd.get(b"c", b"simple/simple")
    policy = dkim.CanonicalizationPolicy.from_c_value(c)
    headers, body = dkim.rfc822_parse(crlf(msg))
    if bh is None:
        cbody = policy.canonicalize_body(body)
        if b"l" in tagd:
            cbody = cbody[:int(tagd[b"l"])]
        import hashlib
        bh = base64.b64encode(hashlib.sha256(cbody).digest())
    fields = [(k, v) for k, v in tags] + [(b"bh", bh), (b"b", b"")]
    value = b" " + b"; ".join(k + b"=" + v for k, v in fields)
    include = [h.strip().lower() for h in tagd.get(b"h", b"from").split(b":")]
    import hashlib
    hasher = hashlib.sha256()
    dkim.hash_headers(hasher, policy, policy.canonicalize_headers(headers), include,
                      (b"DKIM-Signature", value), dict(fields))
    if ed:
        sigbytes = nacl().SigningKey(ed_seed(priv or ed_priv()),
                                     encoder=__import__("nacl.encoding").encoding.Base64Encoder
                                     ).sign(hasher.digest()).signature
    else:
        pk = dkim.crypto.parse_pem_private_key(rsa_pem(priv or rsa_priv()))
        sigbytes = bytes(dkim.crypto.RSASSA_PKCS1_v1_5_sign(hasher, pk))
    if corrupt_b:
        sigbytes = bytes([sigbytes[0] ^ 1]) + sigbytes[1:]
    return b"DKIM-Signature:" + value + base64.b64encode(sigbytes) + b"\n" + msg


def std_tags(a=b"rsa-sha256", d=b"example.com", s=b"sel", h=b"from:to:subject", c=b"relaxed/relaxed",
             **more):
    tags = [(b"v", b"1"), (b"a", a), (b"c", c), (b"d", d), (b"s", s), (b"h", h)]
    for k, v in more.items():
        tags.append((k.encode(), v if isinstance(v, bytes) else str(v).encode()))
    return tags


def answer(status, *records):
    return TxtAnswer(status, records=list(records))


class Lookup:
    """DNS stub: name -> TxtAnswer (or a record string); counts calls."""

    def __init__(self, table=None, default=None):
        self.table = {k.lower(): v for k, v in (table or {}).items()}
        self.default = default or answer("nxdomain")
        self.calls = []

    def __call__(self, name):
        self.calls.append(name)
        v = self.table.get(name.lower().rstrip("."), self.default)
        if isinstance(v, str):
            return answer("ok", v.encode())
        return v


def spool(tmp_path, data):
    return spool_bytes(data, tmp_path)


def now():
    return int(time.time())
