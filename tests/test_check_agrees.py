"""qmail-dkim-check and qmail-dkim agree on every sign-mode outcome: signed,
each unsigned reason, 35, each 55 cause (and 53, 61, 120). Both call
sign.run.prepare; this test would catch a copy that drifts."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.realparts.keys import cached_ed25519_key, cached_rsa_key
from tests.realparts.queue_double import make_envelope
from tests import qdkim
from tests.logparse import fields

CHECK = shutil.which("qmail-dkim-check", path=os.path.dirname(sys.executable))
RSA = cached_rsa_key(2048)
ED = cached_ed25519_key()
MSG = qdkim.SAMPLE


def _home(tmp_path):
    home = tmp_path / "qmail"
    kd = home / "control/domainkeys/example.com"
    kd.mkdir(parents=True)
    RSA.write(kd / "default", fmt="pkcs1", mode=0o600)
    ED.write(kd / "ed", fmt="seed", mode=0o600)
    (kd / "corrupt").write_bytes(b"-----BEGIN RSA PRIVATE KEY-----\nnot a key\n-----END RSA PRIVATE KEY-----\n")
    (home / "bin").mkdir()
    (home / "tmp").mkdir()
    return home


def _dkimkeys_dir(home):
    (home / "control/dkimkeys").mkdir()


def _dkimkeys_bad(home):
    (home / "control/dkimkeys").write_text("example.com\n")


def _dkimkeys_identity(home):
    (home / "control/dkimkeys").write_text(
        "example.com:control/domainkeys/%/default:DKIMIDENTITY=joe@other.org\n")


def _no_home(home):
    shutil.rmtree(home)


RELAY = {"RELAYCLIENT": ""}
EXTRA = {"RELAYCLIENT": "", "DKIMSIGNEXTRA": "control/domainkeys/%/ed"}
BIG = b"From: joe@example.com\nX-Big: " + b"a" * (1 << 20) + b"\nSubject: x\n\nbody\n"

# (id, env, message, setup, what qmail-dkim does: "signed" / "unsigned" / exit code)
CASES = [
    ("signed", RELAY, MSG, None, "signed"),
    ("signed-two", EXTRA, MSG, None, "signed"),
    ("signed-extra-missing", {"RELAYCLIENT": "", "DKIMSIGNEXTRA": "control/domainkeys/%/nope"},
     MSG, None, "signed"),
    ("signed-dkimkeys", {"RELAYCLIENT": ""}, MSG,
     lambda h: (h / "control/dkimkeys").write_text("example.com:control/domainkeys/%/ed\n"), "signed"),
    ("verify-mode", {}, MSG, None, "unsigned"),
    ("no-from", RELAY, b"To: bob@example.net\nSubject: x\n\nhi\n", None, "unsigned"),
    ("no-key", RELAY, MSG.replace(b"joe@example.com", b"joe@example.org"), None, "unsigned"),
    ("bad-dkimdomain", {"RELAYCLIENT": "", "DKIMDOMAIN": "exa mple..com"}, MSG, None, "unsigned"),
    ("bad-domain", RELAY, MSG.replace(b"joe@example.com", b"joe@../../etc"), None, "unsigned"),
    ("leading-continuation", RELAY, b" folded\n" + MSG, None, "unsigned"),
    ("header-overflow", RELAY, BIG, None, "unsigned"),
    ("signed-rcpts-match", {"RELAYCLIENT": "", "DKIMSIGNRCPTS": "@example.net"}, MSG, None,
     "signed"),
    ("rcpts-no-match", {"RELAYCLIENT": "", "DKIMSIGNRCPTS": "nobody@example.org"}, MSG, None,
     "unsigned"),
    ("35-key", {"DKIMKEY": "control/domainkeys/fixed"}, MSG, None, 35),
    ("35-extra", {"RELAYCLIENT": "", "DKIMSIGNEXTRA": "control/domainkeys/fixed"}, MSG, None, 35),
    ("55-dkimkeys-unreadable", RELAY, MSG, _dkimkeys_dir, 55),
    ("55-dkimkeys-syntax", RELAY, MSG, _dkimkeys_bad, 55),
    ("55-dkimkeys-identity", RELAY, MSG, _dkimkeys_identity, 55),
    ("55-key-corrupt", {"DKIMKEY": "control/domainkeys/%/corrupt"}, MSG, None, 55),
    ("55-extra-corrupt", {"RELAYCLIENT": "", "DKIMSIGNEXTRA": "control/domainkeys/%/corrupt"},
     MSG, None, 55),
    ("55-z-mismatch", {"RELAYCLIENT": "", "DKIMSIGNOPTIONS": "-z 4"}, MSG, None, 55),
    ("55-extra-z-mismatch", dict(EXTRA, DKIMSIGNOPTIONSEXTRA="-z 2"), MSG, None, 55),
    ("55-identity", {"RELAYCLIENT": "", "DKIMIDENTITY": "joe@other.org"}, MSG, None, 55),
    ("55-identity-not-address", {"RELAYCLIENT": "", "DKIMSIGNOPTIONS": "-i example.com"},
     MSG, None, 55),
    ("55-options", {"RELAYCLIENT": "", "DKIMSIGNOPTIONS": "-c x"}, MSG, None, 55),
    ("55-extra-options", dict(EXTRA, DKIMSIGNOPTIONSEXTRA="-y"), MSG, None, 55),
    ("55-expire", {"RELAYCLIENT": "", "DKIMEXPIRE": "soon"}, MSG, None, 55),
    ("55-verify-control-me", {}, MSG, lambda h: (h / "control/me").mkdir(), 55),
    ("53-tmpdir", {"RELAYCLIENT": "", "TMPDIR": "no-such-tmp"}, MSG, None, 53),
    ("61-home", RELAY, MSG, _no_home, 61),
    ("120-queue", {"RELAYCLIENT": "", "DKIMQUEUE": "bin/no-such-queue"}, MSG, None, 120),
]


def run_check(home, env, msgfile):
    full = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home / "tmp"),
            "DNSCACHEIP": "127.0.0.1:1", "DKIMDNSTIMEOUT": "0.5"}
    full.update(env)
    p = subprocess.run([CHECK, "-t", "bob@example.net", str(msgfile)], env=full, capture_output=True, text=True, timeout=60)
    assert p.stdout.strip(), p.stderr
    return p.returncode, fields(p.stdout.strip().splitlines()[-1]), p.stdout


@pytest.mark.parametrize("name,env,message,setup,expect", CASES, ids=[c[0] for c in CASES])
def test_check_agrees_with_qmail_dkim(tmp_path, name, env, message, setup, expect):
    home = _home(tmp_path)
    msgfile = tmp_path / "message"
    msgfile.write_bytes(message)
    queue = str(qdkim.QueueDouble(tmp_path / "qq").path)
    env = dict(env)
    env.setdefault("DKIMQUEUE", queue)
    if setup:
        setup(home)
    if not home.exists():       # qdkim.run makes $TMPDIR in home: recreate after it
        qd_home = tmp_path / "elsewhere"
        qd_home.mkdir()
        r = qdkim.run(qd_home, dict(env, QMAILHOME=str(home)), message=message,
                      envelope=make_envelope("joe@example.com", ["bob@example.net"]))
    else:
        r = qdkim.run(home, env, message=message,
                      envelope=make_envelope("joe@example.com", ["bob@example.net"]))
    rc, last, out = run_check(home, env, msgfile)
    log = fields(r.log)
    assert not re.search(r"""\bb'|\bb"|\[Errno|\{'|Traceback""", out), out

    if expect == "signed":
        assert r.rc == 0 and log["result"] == "signed", r.stderr
        assert last["result"] == "sign", out
        assert (last["d"], last["s"], last["key"]) == (log["d"], log["s"], log["key"]), out
        assert last.get("rcpt") == log.get("rcpt"), out
        assert rc in (1, 4), out          # DNS is a dead port here: published=unknown
        if "warning" in log:
            assert all(w in out for w in log["warning"].split("; ")), out
        return
    if expect == "unsigned":
        assert r.rc == 0, r.stderr
        if log.get("mode") == "verify" or "mode=verify" in r.log:
            assert "verify" in last["reason"], out
        else:
            assert log["result"] == "unsigned", r.stderr
            assert last["reason"] == log["reason"], out
        assert last["result"] == "unsigned" and rc == 2, out
        return
    assert r.rc == expect, r.stderr
    assert last["result"] == "error" and last["exit"] == str(expect) and rc == 3, out
    assert last["smtp"].startswith("554 " if expect == 35 else "451 "), out
    if "reason" in log and log.get("result") == "error" and "error" not in log:
        assert last["reason"] == log["reason"], (out, r.log)
