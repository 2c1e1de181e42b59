"""Independent DKIM implementations, driven as subprocesses (or via ctypes), to check
qmail-dkim's signatures and to produce signed messages for its verifier.

Messages go in and come out in qmail's LF form unless stated otherwise; the CRLF
form (what qmail-remote sends) is made with ``to_crlf`` (every LF -> CRLF, a CR
already before an LF stays data, exactly as qmail-remote does).

Verifiers
  mail_dkim_verify(msg, dns_port, *, crlf=False, timeout=30) -> [(result, detail), ...]
  mail_dkim_verify_full(...) -> {"result", "result_detail", "signatures": [{result,
        result_detail, domain, selector, algorithm, identity, canonicalization, body_count}]}
      Perl Mail::DKIM::Verifier (1.20230212 on bookworm: RSA only, no Ed25519), key
      records fetched with Net::DNS from 127.0.0.1:dns_port (our NsdServer).
      results: pass / fail / invalid / temperror / none (Mail::DKIM's words).
  mailauth_verify(msg, dns_records, *, timeout=60) -> dict (mailauth's JSON report)
  mailauth_dkim_results(report) -> [(result, info_dict), ...]  (pass/fail/neutral/...)
      Node mailauth `report --dns-cache FILE`: dns_records maps an owner name
      ("sel._domainkey.example.com") to a TXT value (str, split into 255-octet strings),
      a list of str (one record, given strings) or a list of lists (several records).
      A name not in the map is NXDOMAIN (ENOTFOUND). Supports Ed25519.

Signers
  mail_dkim_sign(msg, key, domain, selector, method="relaxed", algorithm="rsa-sha256",
                 identity=None, timestamp=None, expiration=None, query=None,
                 headers=None, body_length=None, tags=None) -> signed LF message
      Perl Mail::DKIM::Signer. key: TestKey / path / PEM bytes (converted to PKCS#1 for
      Mail::DKIM, which reads nothing else). method "relaxed", "simple" or
      "relaxed/simple"...; headers "from:to:subject" = exact h=; body_length -> l=;
      tags = extra/overriding tags set before signing (e.g. {"v": "2"}).
  opendkim_sign(msg, key, domain, selector) -> signed LF message
      opendkim-testmsg (2.11.0~beta2): always a=rsa-sha1, c=relaxed/simple, t=, no x=;
      no canonicalization/algorithm options. It needs From: AND Date: headers (it sets
      DKIM_LIBFLAGS_STRICTHDRS: without Date it fails "dkim_chunk(): Syntax error");
      LF input is fine (FIXCRLF). Without -C it corrupts the b= value (its decr()
      leaves the tail of the string: b=...XYZ==XYZ==), so we run it with -C and
      turn the CRLFs of its header back into LF.
  libopendkim_sign(msg, key, domain, selector, canon="relaxed/relaxed",
                   algorithm="rsa-sha256", body_length=None) -> signed LF message
      libopendkim.so.11 through ctypes (the library under opendkim-testmsg), for
      rsa-sha256 / rsa-sha1 / ed25519-sha256 and any canonicalization (except
      Ed25519 with simple header canonicalization: libopendkim 2.11.0~beta2 makes
      signatures that dkimpy and mailauth reject, so that combination raises).
      Ed25519 keys are handed to it as PKCS#8 PEM (a bare seed gives "Resource
      unavailable").
  mailauth_sign(msg, key, domain, selector, algo=None, canon="relaxed/relaxed",
                time=None, body_length=None, header_fields=None) -> signed LF message
      Node mailauth `sign -o` (the header only, prepended to the original bytes).
      algo defaults from the key type (rsa-sha256 / ed25519-sha256).
  dkimpy_sign(...) / dkimpy_verify(...) thin wrappers of dkimpy for pipeline checks.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Mapping

from .keys import TestKey, as_test_key
from .tools import find_tool

HERE = Path(__file__).resolve().parent
VERIFY_PL = HERE / "mail-dkim-verify.pl"
SIGN_PL = HERE / "mail-dkim-sign.pl"


class ToolError(RuntimeError):
    pass


def to_crlf(message: bytes) -> bytes:
    """qmail-remote's conversion: every LF becomes CRLF (a preceding CR stays)."""
    return message.replace(b"\n", b"\r\n")


def from_crlf(message: bytes) -> bytes:
    return message.replace(b"\r\n", b"\n")


def _run(argv: list[str], data: bytes, timeout: float, env: Mapping[str, str] | None = None,
         ) -> subprocess.CompletedProcess:
    try:
        r = subprocess.run(argv, input=data, capture_output=True, timeout=timeout,
                           env=dict(env) if env is not None else None)
    except subprocess.TimeoutExpired as e:
        raise ToolError(f"{argv[0]} timed out after {timeout}s") from e
    return r


def _need(tool: str) -> str:
    p = find_tool(tool)
    if not p:
        raise ToolError(f"{tool} not found")
    return p


def _unfold_sig_header(raw: bytes) -> bytes:
    """Normalize a DKIM-Signature header field to LF line ends, ending with one LF."""
    h = raw.replace(b"\r\n", b"\n").rstrip(b"\n")
    return h + b"\n"


# ---------------------------------------------------------------- Perl Mail::DKIM

def mail_dkim_verify_full(message: bytes, dns_port: int, *, crlf: bool = False,
                          timeout: float = 30.0, dns_timeout: float = 3.0) -> dict:
    perl = _need("perl")
    data = message if crlf else to_crlf(message)
    r = _run([perl, str(VERIFY_PL), str(dns_port), str(dns_timeout)], data, timeout)
    if r.returncode != 0:
        raise ToolError(f"mail-dkim-verify.pl exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return json.loads(r.stdout)


def mail_dkim_verify(message: bytes, dns_port: int, **kw) -> list[tuple[str, str]]:
    """[(result, result_detail)] per signature, in header order ([] if unsigned)."""
    rep = mail_dkim_verify_full(message, dns_port, **kw)
    return [(s["result"], s["result_detail"]) for s in rep["signatures"]]


def mail_dkim_sign(message: bytes, key, domain: str, selector: str, method: str = "relaxed",
                   algorithm: str = "rsa-sha256", *, identity: str | None = None,
                   timestamp: int | None = None, expiration: int | None = None,
                   query: str | None = None, headers: str | None = None,
                   body_length: int | None = None, tags: Mapping[str, str] | None = None,
                   timeout: float = 30.0) -> bytes:
    perl = _need("perl")
    k = as_test_key(key)
    if k.kind != "rsa":
        raise ToolError("Mail::DKIM 1.20230212 (bookworm) cannot sign with Ed25519")
    with tempfile.TemporaryDirectory(prefix="mdkim-") as d:
        kf = k.write(Path(d) / "key.pem", "pkcs1")
        opts = {"keyfile": str(kf), "domain": domain, "selector": selector,
                "method": method, "algorithm": algorithm}
        for name, val in (("identity", identity), ("timestamp", timestamp),
                          ("expiration", expiration), ("query", query), ("headers", headers),
                          ("body_length", body_length)):
            if val is not None:
                opts[name] = val
        if tags:
            opts["tags"] = dict(tags)
        r = _run([perl, str(SIGN_PL), json.dumps(opts)], to_crlf(message), timeout)
    if r.returncode != 0 or not r.stdout.startswith(b"DKIM-Signature:"):
        raise ToolError(f"mail-dkim-sign.pl exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return _unfold_sig_header(r.stdout) + message


# ---------------------------------------------------------------- OpenDKIM

def opendkim_sign(message: bytes, key, domain: str, selector: str, *, timeout: float = 30.0) -> bytes:
    """opendkim-testmsg signature (a=rsa-sha1, c=relaxed/simple). Needs From: and Date:."""
    prog = _need("opendkim-testmsg")
    k = as_test_key(key)
    with tempfile.TemporaryDirectory(prefix="odkim-") as d:
        kf = k.write(Path(d) / "key.pem", "pkcs1" if k.kind == "rsa" else "pkcs8")
        r = _run([prog, "-C", "-t", d, "-d", domain, "-s", selector, "-k", str(kf)], message, timeout)
    if r.returncode != 0:
        raise ToolError(f"opendkim-testmsg exit {r.returncode}: {r.stderr.decode(errors='replace')}"
                        + (" (it needs both From: and Date: headers)" if b"Syntax" in r.stderr else ""))
    out = r.stdout
    # output = "DKIM-Signature: ...\r\n" (CRLF-folded because of -C) + the input verbatim
    if not out.endswith(message):
        raise ToolError("opendkim-testmsg output does not end with the input message")
    sig = out[:len(out) - len(message)]
    return _unfold_sig_header(sig) + message


_CANON = {"simple": 0, "relaxed": 1}
_ALG = {"rsa-sha1": 0, "rsa-sha256": 1, "ed25519-sha256": 2}


def libopendkim_sign(message: bytes, key, domain: str, selector: str, canon: str = "relaxed/relaxed",
                     algorithm: str | None = None, body_length: int | None = None) -> bytes:
    """Sign with libopendkim via ctypes. canon "hdr/body"; algorithm follows the key."""
    import ctypes
    libpath = _need("libopendkim")
    lib = ctypes.CDLL(libpath)
    k = as_test_key(key)
    algorithm = algorithm or ("rsa-sha256" if k.kind == "rsa" else "ed25519-sha256")
    hc, _, bc = canon.partition("/")
    bc = bc or "simple"
    if k.kind == "ed25519" and hc == "simple":
        # libopendkim 2.11.0~beta2 bug: such signatures fail under dkimpy and mailauth
        raise ToolError("libopendkim makes invalid Ed25519 signatures with simple header "
                        "canonicalization; use relaxed/...")
    if k.kind == "rsa":
        keydata = k.pem_pkcs1()
    else:
        # libopendkim 2.11 takes an Ed25519 key as PKCS#8 PEM (not a bare seed)
        keydata = k.pem_pkcs8()
    lib.dkim_init.restype = ctypes.c_void_p
    lib.dkim_init.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.dkim_sign.restype = ctypes.c_void_p
    lib.dkim_sign.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p, ctypes.c_char_p,
                              ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_ssize_t, ctypes.POINTER(ctypes.c_int)]
    lib.dkim_options.restype = ctypes.c_int
    lib.dkim_options.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    lib.dkim_chunk.restype = ctypes.c_int
    lib.dkim_chunk.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    lib.dkim_eom.restype = ctypes.c_int
    lib.dkim_eom.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    lib.dkim_getsighdr_d.restype = ctypes.c_int
    lib.dkim_getsighdr_d.argtypes = [ctypes.c_void_p, ctypes.c_size_t,
                                     ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_size_t)]
    lib.dkim_getresultstr.restype = ctypes.c_char_p
    lib.dkim_getresultstr.argtypes = [ctypes.c_int]
    lib.dkim_free.argtypes = [ctypes.c_void_p]
    lib.dkim_close.argtypes = [ctypes.c_void_p]

    h = lib.dkim_init(None, None)
    if not h:
        raise ToolError("dkim_init failed")
    try:
        flags = ctypes.c_uint(0x0100)   # DKIM_LIBFLAGS_FIXCRLF: accept LF input
        lib.dkim_options(h, 1, 0, ctypes.byref(flags), ctypes.sizeof(flags))
        stat = ctypes.c_int(0)
        d = lib.dkim_sign(h, b"realparts", None, keydata, selector.encode(), domain.encode(),
                          _CANON[hc], _CANON[bc], _ALG[algorithm],
                          -1 if body_length is None else body_length, ctypes.byref(stat))
        if not d:
            raise ToolError(f"dkim_sign: {lib.dkim_getresultstr(stat.value).decode()}")
        try:
            for fn, args in (("dkim_chunk", (message, len(message))), ("dkim_chunk", (None, 0)),
                             ("dkim_eom", (None,))):
                st = getattr(lib, fn)(d, *args)
                if st != 0:
                    raise ToolError(f"{fn}: {lib.dkim_getresultstr(st).decode()}")
            buf = ctypes.c_char_p()
            ln = ctypes.c_size_t()
            st = lib.dkim_getsighdr_d(d, len("DKIM-Signature"), ctypes.byref(buf), ctypes.byref(ln))
            if st != 0:
                raise ToolError(f"dkim_getsighdr_d: {lib.dkim_getresultstr(st).decode()}")
            value = ctypes.string_at(buf, ln.value)
        finally:
            lib.dkim_free(d)
    finally:
        lib.dkim_close(h)
    return _unfold_sig_header(b"DKIM-Signature: " + value) + message


# ---------------------------------------------------------------- mailauth (Node)

def _txt_chunks(value: str) -> list[str]:
    b = value.encode()
    out, i = [], 0
    while i < len(b):
        j = min(i + 255, len(b))
        while j > i and j < len(b) and (b[j] & 0xC0) == 0x80:   # keep UTF-8 intact
            j -= 1
        out.append(b[i:j].decode())
        i = j
    return out or [""]


def mailauth_dns_cache(dns_records: Mapping[str, object]) -> dict:
    cache: dict = {}
    for name, val in dns_records.items():
        name = name.rstrip(".")
        if isinstance(val, str):
            recs = [_txt_chunks(val)]
        elif val and all(isinstance(x, str) for x in val):      # one record, its strings
            recs = [list(val)]
        else:
            recs = [list(r) for r in val]                        # several records
        cache.setdefault(name, {})["TXT"] = recs
    return cache


def mailauth_verify(message: bytes, dns_records: Mapping[str, object], *, crlf: bool = False,
                    timeout: float = 60.0, mta: str = "mx.test.invalid") -> dict:
    prog = _need("mailauth")
    data = message if crlf else to_crlf(message)
    with tempfile.TemporaryDirectory(prefix="mailauth-") as d:
        cache = Path(d) / "dns.json"
        cache.write_text(json.dumps(mailauth_dns_cache(dns_records)))
        msgf = Path(d) / "msg.eml"
        msgf.write_bytes(data)
        r = _run([prog, "report", "--dns-cache", str(cache), "--mta", mta,
                  "--client-ip", "127.0.0.1", "--sender", "sender@test.invalid",
                  "--helo", "client.test.invalid", str(msgf)], b"", timeout)
    if r.returncode != 0:
        raise ToolError(f"mailauth report exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    return json.loads(r.stdout)


def mailauth_dkim_results(report: dict) -> list[tuple[str, dict]]:
    """[(status.result, info)] per DKIM signature in a mailauth report; info has
    signingDomain, selector, algo, format, status (with comment), ..."""
    out = []
    for s in report.get("dkim", {}).get("results", []):
        out.append((s.get("status", {}).get("result"), s))
    return out


def mailauth_sign(message: bytes, key, domain: str, selector: str, algo: str | None = None,
                  canon: str = "relaxed/relaxed", *, time: int | None = None,
                  body_length: int | None = None, header_fields: str | None = None,
                  timeout: float = 60.0) -> bytes:
    prog = _need("mailauth")
    k = as_test_key(key)
    algo = algo or ("rsa-sha256" if k.kind == "rsa" else "ed25519-sha256")
    with tempfile.TemporaryDirectory(prefix="mailauth-") as d:
        kf = k.write(Path(d) / "key.pem", "pkcs8")
        msgf = Path(d) / "msg.eml"
        msgf.write_bytes(to_crlf(message))
        argv = [prog, "sign", "-o", "-k", str(kf), "-d", domain, "-s", selector, "-a", algo,
                "-c", canon]
        if time is not None:
            argv += ["-t", str(time)]
        if body_length is not None:
            argv += ["-l", str(body_length)]
        if header_fields is not None:
            argv += ["-h", header_fields]
        r = _run(argv + [str(msgf)], b"", timeout)
    if r.returncode != 0 or not r.stdout.lower().startswith(b"dkim-signature:"):
        raise ToolError(f"mailauth sign exit {r.returncode}: {r.stderr.decode(errors='replace')}"
                        f" {r.stdout[:200]!r}")
    return _unfold_sig_header(r.stdout) + message


# ---------------------------------------------------------------- dkimpy (pipeline sanity)

def dkimpy_sign(message: bytes, key, domain: str, selector: str, canon: tuple[bytes, bytes] = (b"relaxed", b"relaxed"),
                include_headers: Iterable[bytes] | None = None, **kw) -> bytes:
    """dkim.sign over the CRLF form; returns the LF message with the header prepended."""
    import dkim
    k = as_test_key(key)
    if k.kind == "rsa":
        privkey = k.pem_pkcs1()
        kw.setdefault("signature_algorithm", b"rsa-sha256")
    else:
        privkey = k.seed_b64()
        kw.setdefault("signature_algorithm", b"ed25519-sha256")
    sig = dkim.sign(to_crlf(message), selector.encode(), domain.encode(), privkey, canonicalize=canon,
                    include_headers=list(include_headers) if include_headers else None, **kw)
    return _unfold_sig_header(sig) + message


def dkimpy_verify(message: bytes, dns_records: Mapping[str, str]) -> bool:
    import dkim

    def dnsfunc(name, timeout=5):
        n = name.decode() if isinstance(name, bytes) else name
        v = dns_records.get(n.rstrip("."))
        return v.encode() if isinstance(v, str) else v
    return dkim.verify(to_crlf(message), dnsfunc=dnsfunc)
