#!/usr/bin/env python3
"""Coverage-guided fuzz target for qmail-dkim (atheris / libFuzzer).

    /tmp/venv/bin/python fuzz/fuzz_qmail_dkim.py fuzz/corpus -runs=1000000 \
        -max_len=8192 -timeout=10 -rss_limit_mb=2048

(see docs/FUZZING.md). Without atheris, or with --plain, the same target runs
as a plain random mutation loop over the seed corpus:

    python fuzz/fuzz_qmail_dkim.py --plain -runs=100000 fuzz/corpus

Input layout (one fuzz input = one run):

  byte 0, bits 0-1   target: 0 sign, 1 verify (key record from a table),
                     2 key record parser, 3 verify with the key record taken
                     from the input (record, NUL, message)
  byte 0, bits 2-7   options for that target (canonicalization, -l, z=, key
                     type, UNSIGNED_FROM, HONOR_BODYLENGTHTAG, practice, ...)
  byte 1             verify: which key record from RECORDS (SELECTOR_DATA);
                     sign: more options
  bytes 2..          the message (qmail's LF form), or the key record

Everything runs in-process through the same entry points main.py uses
(Spool.from_fd, sign.run, verify.run) in a temporary QMAILHOME that holds the
throwaway keys of fuzz/keys/ for example.com. No DNS: verify mode always has
SELECTOR_DATA, and practice lookups go to a stub.

What counts as a crash (qmail-dkim(8), RELIABILITY: hostile input):
  * any exception out of sign.run / verify.run -- including QmailDkimExit,
    because the configuration here is valid, so a malformed message must
    never end in a temporary error (CONTRACT.md section 7, last paragraph);
  * an Outcome whose exit code is not None (sign) or None / 31 / 71 (verify);
  * no result= (sign) / status=<letter> (verify) log field;
  * prepended lines that are not LF-terminated header fields in ASCII;
  * verify: drop ranges that are not DKIM-Status / our Authentication-Results
    fields of this message;
  * key record parser: any exception other than KeyRecordError.
libFuzzer's -timeout turns a slow input into a reported "timeout" crash.
"""
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

PLAIN = "--plain" in sys.argv
# We change to a temporary QMAILHOME below (as main.py does): make corpus
# directories absolute, and keep crash/timeout artifacts where we started.
_START = os.getcwd()
sys.argv = [sys.argv[0]] + [a if a.startswith("-") else os.path.abspath(a) for a in sys.argv[1:]]
if not any(a.startswith("-artifact_prefix=") for a in sys.argv):
    sys.argv.append("-artifact_prefix=" + _START + os.sep)
try:
    if PLAIN:
        raise ImportError
    import atheris
except ImportError:
    atheris = None


def _import_targets():
    global Spool, sign, verify, keyrecord, config, exits, QmailDkimExit, TxtAnswer, STATUS_LETTERS
    from qmail_dkim.spool import Spool
    from qmail_dkim import config, exits
    from qmail_dkim.sign import run as sign
    from qmail_dkim.verify import run as verify
    from qmail_dkim.dkim import keyrecord
    from qmail_dkim.exits import QmailDkimExit
    from qmail_dkim.dns.txt import TxtAnswer
    from qmail_dkim.verify.status import TEXTS as _TEXTS
    STATUS_LETTERS = set(_TEXTS)


if atheris is not None:
    with atheris.instrument_imports(include=["qmail_dkim", "dkim"]):
        _import_targets()
else:
    _import_targets()

from qmail_dkim.dkim.lib import nacl as _nacl  # noqa: E402
from qmail_dkim.dkim.privkey import load_private_key  # noqa: E402

SERVID = "mx.fuzz.test"
NOW = 1_800_000_000          # fixed "now" for verify (x= / t= seeds stay stable)

HOME = tempfile.mkdtemp(prefix="qmail-dkim-fuzz.")
TMP = os.path.join(HOME, "tmp")
os.makedirs(TMP)
_KEYDIR = os.path.join(HOME, "control", "domainkeys", "example.com")
os.makedirs(_KEYDIR)
for _name in ("rsa", "ed"):
    _dst = os.path.join(_KEYDIR, _name)
    shutil.copyfile(os.path.join(HERE, "keys", _name), _dst)
    os.chmod(_dst, 0o600)
os.chdir(HOME)                # main.py changes to $QMAILHOME; so do we

_RSA_PUB = load_private_key(os.path.join(_KEYDIR, "rsa")).public_b64()
_ED_PUB = load_private_key(os.path.join(_KEYDIR, "ed")).public_b64()
_nacl()                        # import PyNaCl once, not inside the first input

RECORDS = [
    "v=DKIM1; k=rsa; p=%s" % _RSA_PUB,
    "v=DKIM1; k=ed25519; p=%s" % _ED_PUB,
    "v=DKIM1; k=rsa; t=y; p=%s" % _RSA_PUB,
    "v=DKIM1; k=ed25519; t=s; p=%s" % _ED_PUB,
    "v=DKIM1; k=rsa; h=sha1; p=%s" % _RSA_PUB,
    "v=DKIM1; k=rsa; g=joe*; p=%s" % _RSA_PUB,
    "v=DKIM1; k=rsa; s=tlsrpt; p=%s" % _RSA_PUB,
    "v=DKIM1; p=",
    "v=DKIM2; p=%s" % _RSA_PUB,
    "k=rsa; p=AAAA",
    "garbage;;==;",
    "",
]

PRACTICE_ANSWERS = [TxtAnswer("nxdomain", error="NXDOMAIN"),
                    TxtAnswer("ok", records=[b"dkim=discardable"]),
                    TxtAnswer("temp", error="timeout")]


class Crash(Exception):
    pass


def spool_of(message):
    """Spool the message exactly as main.py does (Spool.from_fd on a pipe)."""
    if len(message) < 65536:
        r, w = os.pipe()
        try:
            os.write(w, message)
        finally:
            os.close(w)
        try:
            return Spool.from_fd(r, TMP)
        finally:
            os.close(r)
    # a long message: from a file (a pipe would need a writer thread)
    fd, path = tempfile.mkstemp(dir=TMP)
    try:
        with open(fd, "wb", closefd=False) as f:
            f.write(message)
        os.lseek(fd, 0, os.SEEK_SET)
        return Spool.from_fd(fd, TMP)
    finally:
        os.close(fd)
        os.unlink(path)


def check_prepend(prepend, names):
    if not prepend:
        return
    if not prepend.endswith(b"\n"):
        raise Crash("prepend not LF-terminated: %r" % prepend[-80:])
    try:
        prepend.decode("ascii")
    except UnicodeDecodeError:
        raise Crash("prepend not ASCII: %r" % prepend[:200])
    if b"\r" in prepend or b"\0" in prepend:
        raise Crash("CR or NUL in prepend: %r" % prepend[:200])
    for line in prepend.split(b"\n")[:-1]:
        if line.startswith(b"\t"):
            continue
        if not line.startswith(names):
            raise Crash("unexpected prepended line %r" % line[:120])


def sign_env(opt, opt2):
    canon = "rstu"[(opt >> 2) & 3]
    o = ["-c", canon]
    if opt & 0x10:
        o.append("-l")
    if opt & 0x20:
        o.append("-h")
    if opt & 0x80:
        o += ["-q", "-t", "-x", "-"]
    key = "ed" if opt & 0x40 else "rsa"
    env = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/" + key,
           "DKIMSIGNOPTIONS": " ".join(o), "DKIMAUTHSERVID": SERVID}
    if opt2 & 1:
        env["DKIMDOMAIN"] = "example.com"
    if opt2 & 2:
        env["EXCLUDE_DKIMSIGN"] = "subject:date"
    if opt2 & 4:
        env["DKIMSIGNEXTRA"] = "control/domainkeys/%/" + ("rsa" if key == "ed" else "ed")
    return env, "control/domainkeys/%/" + key


def verify_env(opt, record):
    env = {"DKIMVERIFY": "FGHIKLMNOQRTUVWjp", "SELECTOR_DATA": record,
           "DKIMAUTHSERVID": SERVID}
    if opt & 0x04:
        env["UNSIGNED_FROM"] = ""
    if opt & 0x08:
        env["UNSIGNED_SUBJECT"] = ""
    if opt & 0x10:
        env["HONOR_BODYLENGTHTAG"] = ""
    if opt & 0x20:
        env["SIGN_PRACTICE"] = ""          # practice disabled: F possible
    if opt & 0x40:
        env["DKIMPRACTICE"] = ""
    if opt & 0x80:
        env["DKIMVERIFY"] = "abcdefghijklmnopqrstuvwxy"
    return env


def run_sign(opt, opt2, message):
    env, template = sign_env(opt, opt2)
    sp = spool_of(message)
    try:
        out = sign.run(config.SignSettings(env), sp, template)
    except QmailDkimExit as e:
        raise Crash("sign: malformed message ended in exit %d: %s" % (e.code, e.reason))
    finally:
        sp.close()
    if out.exit_code is not None:
        raise Crash("sign: exit_code %r" % out.exit_code)
    if out.drop:
        raise Crash("sign: drop %r" % out.drop)
    log = dict(out.log)
    if log.get("result") not in ("signed", "unsigned"):
        raise Crash("sign: log %r" % out.log)
    if (log["result"] == "signed") != bool(out.prepend):
        raise Crash("sign: result %s but prepend %r" % (log["result"], out.prepend[:80]))
    check_prepend(out.prepend, (b"DKIM-Signature:",))


def run_verify(opt, record, message, practice_answer):
    env = verify_env(opt, record)
    sp = spool_of(message)
    try:
        fields = {(f.start, f.end): f
                  for f in list(sp.fields) + list(getattr(sp, "tail_fields", []))}
        out = verify.run(config.VerifySettings(env), sp, now=NOW, lookup=lambda name: practice_answer)
    except QmailDkimExit as e:
        raise Crash("verify: malformed message ended in exit %d: %s" % (e.code, e.reason))
    finally:
        sp.close()
    if out.exit_code not in (None, exits.REJECT_PERM, exits.REJECT_TEMP):
        raise Crash("verify: exit_code %r" % out.exit_code)
    log = dict(out.log)
    if log.get("status") not in STATUS_LETTERS:
        raise Crash("verify: log %r" % out.log)
    if not out.prepend.startswith(b"DKIM-Status: "):
        raise Crash("verify: prepend %r" % out.prepend[:80])
    # X-DKIM-Notice: our last line when the message begins with a folded line
    check_prepend(out.prepend, (b"DKIM-Status:", b"Authentication-Results:", b"X-DKIM-ADSP:",
                                b"X-DKIM-SSP:", b"X-DKIM-Notice:"))
    if message[:1] in (b" ", b"\t") and not out.prepend.endswith(
            b"\nX-DKIM-Notice: the message below began with a folded line\n"):
        raise Crash("verify: a leading folded line would continue our verdict")
    last = -1
    for start, end in out.drop:
        f = fields.get((start, end))
        if f is None or start < last:
            raise Crash("verify: drop range %r is not a field / not sorted" % ((start, end),))
        if f.lname not in (b"dkim-status", b"authentication-results"):
            raise Crash("verify: would drop %r" % f.raw[:80])
        last = end


def run_keyrecord(data):
    try:
        rec = keyrecord.parse_key_record(data)
    except keyrecord.KeyRecordError as e:
        if e.letter not in ("L", "N", "R"):
            raise Crash("key record: letter %r" % e.letter)
        return
    for a in (b"rsa-sha256", b"ed25519-sha256", b"rsa-sha1", b"x"):
        rec.algorithm_mismatch(a)
    rec.granularity_matches(b"joe")
    rec.granularity_matches(None)
    rec.public_key()


def TestOneInput(data):
    if len(data) < 2:
        return
    sel, opt2, rest = data[0] & 3, data[1], data[2:]
    if sel == 0:
        run_sign(data[0], opt2, rest)
    elif sel == 1:
        run_verify(data[0], RECORDS[opt2 % len(RECORDS)], rest,
                   PRACTICE_ANSWERS[(opt2 >> 4) % len(PRACTICE_ANSWERS)])
    elif sel == 2:
        run_keyrecord(rest)
    else:
        record, _, message = rest.partition(b"\0")
        run_verify(data[0], record.decode("utf-8", "surrogateescape"), message,
                   PRACTICE_ANSWERS[opt2 % len(PRACTICE_ANSWERS)])


# ------------------------------------------------------------ plain loop

def _mutate(rng, data, corpus, max_len):
    data = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(9)
        pos = rng.randint(0, len(data))
        if op == 0 and data:
            del data[pos:pos + rng.randint(1, 16)]
        elif op == 1:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif op == 2 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 3:
            data[pos:pos] = rng.choice([b"\n", b"\r", b"\0", b";", b"=", b":", b"\n\t", b" ",
                                        b"\xff", b"DKIM-Signature: ", b"From: ", b"l=", b"b=",
                                        b"\n\n", b"9" * 30, b"h=from:from:", b"@"])
        elif op == 4 and data:
            a = rng.randint(0, len(data))
            b = rng.randint(a, min(len(data), a + 64))
            data[pos:pos] = data[a:b] * rng.randint(1, 20)
        elif op == 5 and corpus:
            other = rng.choice(corpus)
            cut = rng.randint(0, len(other))
            data = data[:pos] + bytearray(other[cut:])
        elif op == 6 and data:
            data[0] = rng.randrange(256)
        elif op == 7 and len(data) > 1:
            data[1] = rng.randrange(256)
        elif data:
            i = min(pos, len(data) - 1)
            data[i] ^= 1 << rng.randrange(8)
    return bytes(data[:max_len])


def plain_main(argv):
    runs, max_len, seed, dirs = 100000, 8192, None, []
    for a in argv:
        if a.startswith("-runs="):
            runs = int(a.split("=", 1)[1])
        elif a.startswith("-max_len="):
            max_len = int(a.split("=", 1)[1])
        elif a.startswith("-seed="):
            seed = int(a.split("=", 1)[1])
        elif not a.startswith("-") and os.path.isdir(a):
            dirs.append(a)
    rng = random.Random(seed)
    corpus = []
    for d in dirs:
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                corpus.append(f.read())
    if not corpus:
        corpus = [b"\x00\x00From: a@example.com\n\nx\n"]
    t0 = time.monotonic()
    for n in range(runs):
        data = _mutate(rng, rng.choice(corpus), corpus, max_len)
        try:
            TestOneInput(data)
        except Exception:
            path = os.path.join(_START, "crash-plain-%d" % n)
            with open(path, "wb") as f:
                f.write(data)
            sys.stderr.write("crash after %d runs, input written to %s\n" % (n, path))
            raise
        if n and n % 10000 == 0:
            el = time.monotonic() - t0
            sys.stderr.write("#%d %.0f exec/s\n" % (n, n / el))
    el = time.monotonic() - t0
    sys.stderr.write("Done %d runs in %.0f s (%.0f exec/s)\n" % (runs, el, runs / max(el, 1e-9)))


def main():
    try:
        if atheris is None:
            argv = [a for a in sys.argv[1:] if a != "--plain"]
            plain_main(argv)
        else:
            atheris.Setup(sys.argv, TestOneInput)
            atheris.Fuzz()
    finally:
        shutil.rmtree(HOME, ignore_errors=True)


if __name__ == "__main__":
    main()
