"""qmail-dkim-check: names the seeds/003 causes in its last line, and runs the
same decision code as qmail-dkim."""
import os
import subprocess
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from qmail_dkim.tools import tcprules
from tests.realparts.keys import cached_rsa_key
from tests.realparts.nsd import NsdServer, txt_rr
from tests.realparts.tools import require_tool
from tests.logparse import fields

CHECK = shutil.which("qmail-dkim-check", path=os.path.dirname(sys.executable))
RSA = cached_rsa_key(2048)
OTHER = cached_rsa_key(2048, 3)


def check(home, *args, **env):
    full = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "DNSCACHEIP": "127.0.0.1:1",
            "DKIMDNSTIMEOUT": "1"}
    full.update(env)
    p = subprocess.run([CHECK] + list(args), env=full, capture_output=True, text=True, timeout=60)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    return p.returncode, p.stdout, fields(last)


def test_would_sign(home):
    rc, out, last = check(home, "joe@example.com", RELAYCLIENT="")
    assert rc == 0 and last == {"result": "sign", "d": "example.com", "s": "default",
                                "key": "control/domainkeys/example.com/default"}
    assert "h=from" in out and "rsa 2048 bits" in out


def test_permission_denied_for_given_user(home):
    rc, out, last = check(home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 1 and last["result"] == "error" and last["exit"] == "55"
    assert "not readable by nobody" in last["reason"] and "Permission denied" in last["reason"]


def test_user_in_group_can_read():
    if os.getuid() != 0:
        pytest.skip("needs root to chown")
    home = Path(tempfile.mkdtemp(prefix="qdkim-check-"))
    try:
        key = home / "control/domainkeys/example.com/default"
        key.parent.mkdir(parents=True)
        RSA.write(key, fmt="pkcs1", mode=0o640)
        os.chown(key, 0, 65534)      # nobody's primary group is nogroup (65534) on Debian
        for d in (home, home / "control", home / "control/domainkeys", key.parent):
            d.chmod(0o755)
        rc, out, last = check(home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
        assert "readable by nobody: yes" in out and last["result"] == "sign"
    finally:
        shutil.rmtree(home)


def test_no_key_for_domain(home):
    rc, out, last = check(home, "joe@nokey.example.org", RELAYCLIENT="")
    assert rc == 1 and last == {"result": "unsigned", "reason": "no key for nokey.example.org"}
    assert "control/domainkeys/nokey.example.org/default - does not exist" in out
    assert "control/domainkeys//default - does not exist" in out


def test_message_without_from(home, tmp_path):
    m = tmp_path / "msg"
    m.write_bytes(b"To: bob@example.net\nSubject: test\n\nhello\n")
    rc, out, last = check(home, str(m), RELAYCLIENT="")
    assert last == {"result": "unsigned", "reason": "no From: header"}


def test_rules_file_picks_the_rule_tcpserver_would(home, tmp_path):
    rules = tmp_path / "tcp.smtp"
    rules.write_text('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/%/default"\n'
                     ':allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="FGHIKLMNOQRTUVWjp"\n')
    rc, out, last = check(home, "-r", str(rules), "-i", "127.0.0.1", "joe@example.com")
    assert last["result"] == "sign" and "line 1" in out
    rc, out, last = check(home, "-r", str(rules), "-i", "192.0.2.7", "joe@example.com", RELAYCLIENT="")
    assert last["result"] == "unsigned" and "verify" in last["reason"] and "line 2" in out


def test_dns_match_and_mismatch(home, tmp_path):
    require_tool("nsd")
    ns = NsdServer({"example.com": txt_rr("default._domainkey", RSA.dns_record())},
                   workdir=tmp_path)
    ns.start()
    try:
        rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DNSCACHEIP=ns.dnscacheip)
        assert "public key matches the private key" in out and last["result"] == "sign"
        OTHER.write(home / "control/domainkeys/example.com/default", fmt="pkcs8")
        rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DNSCACHEIP=ns.dnscacheip)
        assert "DOES NOT MATCH" in out
    finally:
        ns.stop()


def test_same_code_as_qmail_dkim_for_bad_domain(home):
    rc, out, last = check(home, "joe@../../etc", RELAYCLIENT="")
    assert last["result"] == "unsigned" and "label" in last["reason"]


def test_usage_errors():
    p = subprocess.run([CHECK], capture_output=True, text=True)
    assert p.returncode == 64 and "usage" in p.stderr
    p = subprocess.run([CHECK, "-r", "x", "a@b.c"], capture_output=True, text=True)
    assert p.returncode == 64


# -- tcprules selection (pure)
RULES = """# comment
1.2.3.4:allow,A="exact"
1.2.3.10-20:allow,A="range"
1.2.3.:allow,A="prefix3",B='x,y'
1.2.:deny
:allow,A="default"
"""


@pytest.mark.parametrize("ip,expect", [("1.2.3.4", "exact"), ("1.2.3.15", "range"), ("1.2.3.9", "prefix3"),
                                       ("1.2.9.9", None), ("9.9.9.9", "default")])
def test_tcprules_selection(ip, expect):
    n, addr, action, env = tcprules.rule_for(RULES, ip)
    if expect is None:
        assert action == "deny"
    else:
        assert env["A"] == expect
    if expect == "prefix3":
        assert env["B"] == "x,y"
