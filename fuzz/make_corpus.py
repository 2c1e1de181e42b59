#!/usr/bin/env python3
"""Write the seed corpus fuzz/corpus/ (see docs/FUZZING.md).

Messages are signed by the installed qmail-dkim itself (run as qmail-smtpd
runs it, with the qmail-queue test double) with the throwaway keys of
fuzz/keys/, so verify-mode seeds reach the deep checks (A, E, F, I, U ...).

    /tmp/venv/bin/python fuzz/make_corpus.py
"""
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from tests import qdkim  # noqa: E402
from qmail_dkim.dkim.privkey import load_private_key  # noqa: E402

MESSAGES = [
    qdkim.SAMPLE,
    b"From: joe@example.com\nTo: bob@example.net\nSubject: short\n\nhi\n",
    b"From: \"Joe Q. Public\" <joe@example.com>, other@example.org\nSubject: =?utf-8?q?caf=C3=A9?=\n"
    b"Received: from x by y\nX-Mailer: z\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n"
    b"line one  with  spaces \t\n\n\n\nlast line\n\n\n",
    b"From: Team: joe@example.com, ann@example.com;\nSubject: group\n  folded subject\n\n"
    b"body without final newline",
    b"From: joe@example.com\nSubject: no body\n",
    b"From: joe@example.com\nSubject: cr\r\nTo: x@example.net\r\n\r\nbody\r\nline\r\n",
    b"From: joe@sub.example.com\nSubject: \xc3\xa4 8bit \xff\n\n\xff\xfe\x00body\n",
]

# DKIMSIGNOPTIONS variants and the fuzz target's byte-0 option bits for them
SIGN_VARIANTS = [
    ("rsa", "-c r", 0x00),
    ("rsa", "-c s -l", 0x04 | 0x10),
    ("ed", "-c t -h", 0x08 | 0x20 | 0x40),
    ("ed", "-c u -q -t -x -", 0x0C | 0x40 | 0x80),
]


def write(out, data):
    name = hashlib.sha1(data).hexdigest()[:16]
    (out / name).write_bytes(data)


def arc_seeds(out, key_path):
    """ARC chains (one and two sets, sealed with the fuzz RSA key by dkimpy's
    arc_sign, which needs the authres package) for the verify target with
    RECORDS[0] as every key record: the ARC checks run deep."""
    from qmail_dkim.dkim.lib import dkim
    pem = Path(key_path).read_bytes()

    def seal(msg, domain, arc):
        msg = (b"Authentication-Results: %s; arc=%s; dmarc=pass header.from=example.com\n"
               % (domain, arc)) + msg
        got = dkim.arc_sign(msg.replace(b"\n", b"\r\n"), b"rsa", domain, pem, domain,
                            include_headers=[b"from", b"to", b"subject"], timestamp=12345)
        return b"".join(h.replace(b"\r\n", b"\n") for h in got) + msg
    for msg in MESSAGES[:2]:
        once = seal(msg, b"example.com", b"none")
        twice = seal(once + b"a list footer\n", b"lists.example.org", b"pass")
        for m in (once, twice):
            write(out, bytes([0x01, 0]) + m)
            write(out, bytes([0x01, 0]) + m.replace(b"i=1", b"i=2", 1))


def main():
    out = HERE / "corpus"
    out.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="qmail-dkim-corpus."))
    try:
        kd = home / "control" / "domainkeys" / "example.com"
        kd.mkdir(parents=True)
        for k in ("rsa", "ed"):
            shutil.copyfile(HERE / "keys" / k, kd / k)
            os.chmod(kd / k, 0o600)
        rsa_pub = load_private_key(str(kd / "rsa")).public_b64()
        ed_pub = load_private_key(str(kd / "ed")).public_b64()
        records = {"rsa": "v=DKIM1; k=rsa; p=%s" % rsa_pub,
                   "ed": "v=DKIM1; k=ed25519; p=%s" % ed_pub}
        record_index = {"rsa": 0, "ed": 1}          # RECORDS in fuzz_qmail_dkim.py
        n = 0
        for msg in MESSAGES:
            for key, opts, bits in SIGN_VARIANTS:
                write(out, bytes([0x00 | bits, 0]) + msg)                 # sign mode
                r = qdkim.run(home, {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/" + key,
                                     "DKIMSIGNOPTIONS": opts, "DKIMEXPIRE": ""}, message=msg)
                if r.rc != 0 or len(r.stored) != 1 or not r.stored[0].msg.startswith(b"DKIM-Signature:"):
                    continue
                signed = r.stored[0].msg
                n += 1
                write(out, bytes([0x01, record_index[key]]) + signed)          # verify, good key
                write(out, bytes([0x01 | 0x20 | 0x04, record_index[key] + 2]) + signed)
                write(out, bytes([0x03, 0]) + records[key].encode() + b"\0" + signed)
                # a tampered copy and a forged verdict in front of it
                write(out, bytes([0x01, record_index[key]]) + signed.replace(b"hi\n", b"ho\n"))
                write(out, bytes([0x01, record_index[key]])
                      + b"DKIM-Status: good\nAuthentication-Results: mx.fuzz.test; dkim=pass\n" + signed)
        arc_seeds(out, kd / "rsa")
        for rec in list(records.values()) + ["v=DKIM1; p=", "v=DKIM1; k=rsa; h=sha256:sha1; t=y:s; g=*; s=email; p=AAAA"]:
            write(out, bytes([0x02, 0]) + rec.encode())
        print("signed %d messages; corpus has %d files" % (n, len(list(out.iterdir()))))
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
