"""qmail-dkim-check: names the usual causes in its last line, and its exit
status says what happens to the mail (qmail-dkim-check(8), EXIT CODES).
Agreement with qmail-dkim case by case: test_check_agrees.py."""
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
from tests.qdkim import make_home
from tests.logparse import fields

CHECK = shutil.which("qmail-dkim-check", path=os.path.dirname(sys.executable))
RSA = cached_rsa_key(2048)
OTHER = cached_rsa_key(2048, 3)


WRAPPER = "#!/bin/sh\n# stands for qmail_dkim.main in the -u tests: /bin/sh is runnable by anyone\n"


def _make_home(root):
    """conftest's home, with a bin/qmail-queue (qmail-dkim exits 120 without one)."""
    make_home(root)
    (root / "bin/qmail-queue").write_text("#!/bin/sh\nexec cat >/dev/null\n")
    (root / "bin/qmail-queue").chmod(0o755)
    return root


@pytest.fixture
def home(tmp_path):
    return _make_home(tmp_path / "qmail")


@pytest.fixture
def public_home():
    """A QMAILHOME other users can reach (pytest's tmp_path is mode 0700),
    with a bin/qmail-dkim they can run."""
    if os.getuid() != 0:
        pytest.skip("needs root to check as another user")
    root = Path(tempfile.mkdtemp(prefix="qdkim-check-"))
    try:
        root.chmod(0o755)
        _make_home(root)
        for d in (root / "control", root / "control/domainkeys",
                  root / "control/domainkeys/example.com", root / "bin", root / "tmp"):
            d.chmod(0o755)
        (root / "bin/qmail-dkim").write_text(WRAPPER)
        (root / "bin/qmail-dkim").chmod(0o755)
        yield root
    finally:
        shutil.rmtree(root)


def check(home, *args, **env):
    full = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "DNSCACHEIP": "127.0.0.1:1",
            "DKIMDNSTIMEOUT": "1"}
    full.update(env)
    p = subprocess.run([CHECK] + list(args), env=full, capture_output=True, text=True, timeout=60)
    last = p.stdout.strip().splitlines()[-1] if p.stdout.strip() else ""
    return p.returncode, p.stdout, fields(last)


def test_would_sign_dns_silent(home):
    rc, out, last = check(home, "joe@example.com", RELAYCLIENT="")
    assert rc == 4 and last == {"result": "sign", "d": "example.com", "s": "default",
                                "key": "control/domainkeys/example.com/default",
                                "published": "unknown"}
    assert "h=from" in out and "rsa 2048 bits" in out
    assert "dns: asking 127.0.0.1:1 (DNSCACHEIP)" in out


def test_permission_denied_for_given_user(public_home):
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 3 and last["result"] == "error" and last["exit"] == "55"
    assert last["smtp"] == "451 qq unable to read configuration (#4.3.0)"
    assert "control/domainkeys/example.com/default" in last["reason"]
    assert "nobody (uid 65534" in last["reason"] and "lacks read permission" in last["reason"]
    assert "runnable by nobody: yes" in out and "TMPDIR /tmp: writable by nobody" in out


def test_user_in_group_can_read(public_home):
    key = public_home / "control/domainkeys/example.com/default"
    key.chmod(0o640)
    os.chown(key, 0, 65534)      # nobody's primary group is nogroup (65534) on Debian
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert "readable by nobody: yes" in out and last["result"] == "sign", out


def test_domain_without_key_dir_unsigned_for_user(public_home):
    """README step 5 with -u: a From: domain with no directory under
    control/domainkeys is unsigned (qmail-dkim tries the next path and logs
    "no key"); the check used to call the missing path existing and say
    exit=55."""
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.org", RELAYCLIENT="")
    assert rc == 2 and last == {"result": "unsigned", "reason": "no key for example.org"}, out
    assert "key path: control/domainkeys/example.org/default - does not exist" in out


def test_key_dir_not_searchable_counts_as_existing(public_home):
    """A key directory the user may not search: qmail-dkim's stat gets EACCES,
    counts the key as present and fails reading it (exit 55), so the check says so."""
    (public_home / "control/domainkeys/example.com").chmod(0o700)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 3 and last["exit"] == "55" and "search (x)" in last["reason"], out


def test_dkimkeys_rule_shown(home):
    """The control/dkimkeys line that chose the key, with its variables
    when it has any, and no trailing blank when it has none."""
    (home / "control/dkimkeys").write_text(
        "example.com:control/domainkeys/example.com/default\n"
        "example.org:control/domainkeys/example.com/default:DKIMSIGNOPTIONS=-z 2\n")
    rc, out, last = check(home, "joe@example.com", RELAYCLIENT="")
    assert "\ncontrol/dkimkeys: chose control/domainkeys/example.com/default\n" in out, out
    rc, out, last = check(home, "joe@example.org", RELAYCLIENT="")
    assert ("\ncontrol/dkimkeys: chose control/domainkeys/example.com/default DKIMSIGNOPTIONS=-z 2\n"
            in out), out


def test_dkimkeys_unreadable_by_user(public_home):
    """Issue: control/dkimkeys unreadable by qmaild makes qmail-dkim exit 55 on
    every message; the check used to say sign."""
    dk = public_home / "control/dkimkeys"
    dk.write_text("example.com:control/domainkeys/%/default\n")
    dk.chmod(0o600)
    key = public_home / "control/domainkeys/example.com/default"
    key.chmod(0o644)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 3 and last["exit"] == "55" and "control/dkimkeys" in last["reason"], out


def test_interpreter_not_runnable_by_user(public_home):
    """A venv made from a Python under a 0700 directory: qmail-smtpd answers
    451 unable to exec qq and qmail-dkim logs nothing."""
    private = public_home / "private"
    private.mkdir(mode=0o700)
    (private / "python3").write_text("#!/bin/sh\n")
    (private / "python3").chmod(0o755)
    prog = public_home / "bin/qmail-dkim"
    prog.write_text("#!%s\nfrom qmail_dkim.main import main\n" % (private / "python3"))
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 3 and last["exit"] == "120", out
    assert last["smtp"] == "451 unable to exec qq (#4.3.0)"
    assert "interpreter" in last["reason"] and str(private) in last["reason"]
    # the same as root: root can run it
    rc, out, last = check(public_home, "joe@example.com", RELAYCLIENT="")
    assert last["result"] == "sign", out


def test_tmpdir_not_writable_by_user(public_home):
    tmp = public_home / "tmp"
    tmp.chmod(0o755)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="",
                          TMPDIR=str(tmp))
    assert rc == 3 and last["exit"] == "53" and last["smtp"].startswith("451 "), out
    assert "lacks write permission" in last["reason"]


def test_no_key_for_domain(home):
    rc, out, last = check(home, "joe@nokey.example.org", RELAYCLIENT="")
    assert rc == 2 and last == {"result": "unsigned", "reason": "no key for nokey.example.org"}
    assert "control/domainkeys/nokey.example.org/default - does not exist" in out
    assert "control/domainkeys//default - does not exist" in out


def test_message_without_from(home, tmp_path):
    m = tmp_path / "msg"
    m.write_bytes(b"To: bob@example.net\nSubject: test\n\nhello\n")
    rc, out, last = check(home, str(m), RELAYCLIENT="")
    assert rc == 2 and last == {"result": "unsigned", "reason": "no From: header"}


def test_identity_outside_domain_is_an_error(home):
    """Issue 8: the check said result=sign, qmail-dkim exits 55."""
    rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DKIMIDENTITY="joe@other.org")
    assert rc == 3 and last["result"] == "error" and last["exit"] == "55", out
    assert "not in the signing domain" in last["reason"]


def test_custom_error_reply(home):
    rc, out, last = check(home, "joe@example.com", DKIMKEY="control/domainkeys/none",
                          DKIMCUSTOMERROR="notqmail")
    assert rc == 3 and last["exit"] == "82", out
    assert last["smtp"] == "554 qmail-dkim: key file control/domainkeys/none does not exist (#5.3.5)"
    assert "permanent" in out and "bounce" in out


def test_missing_fixed_key_is_permanent(home):
    rc, out, last = check(home, "joe@example.com", DKIMKEY="control/domainkeys/none")
    assert rc == 3 and last["exit"] == "35" and last["smtp"] == "554 qq permanent problem (#5.3.0)"
    assert "a bounce to the sender" in out


def test_rules_file_picks_the_rule_tcpserver_would(home, tmp_path):
    (home / "bin/qmail-dkim").write_text(WRAPPER)
    rules = tmp_path / "tcp.smtp"
    rules.write_text('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim",DKIMKEY="control/domainkeys/%/default"\n'
                     ':allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="FGHIKLMNOQRTUVWjp"\n')
    rc, out, last = check(home, "-r", str(rules), "-i", "127.0.0.1", "joe@example.com")
    assert last["result"] == "sign" and "line 1" in out
    rc, out, last = check(home, "-r", str(rules), "-i", "192.0.2.7", "joe@example.com", RELAYCLIENT="")
    assert rc == 2 and last["result"] == "unsigned" and "verify" in last["reason"] and "line 2" in out


@pytest.mark.parametrize("rule,expect_rc,words", [
    ('127.0.0.1:allow,RELAYCLIENT=""\n', 2, "sets no QMAILQUEUE"),
    ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/simscan"\n', 2, "another program"),
    ('127.0.0.1:allow,RELAYCLIENT="",QMAILQUEUE="bin/qmail-dkim-typo"\n', 3, "does not exist"),
    ('127.0.0.1:deny\n', 3, "denies"),
])
def test_rule_without_qmail_dkim(home, tmp_path, rule, expect_rc, words):
    """Issue 10 1(a): qmail-dkim never runs for such a rule."""
    (home / "bin/simscan").write_text("#!/bin/sh\nexec bin/qmail-queue\n")
    rules = tmp_path / "tcp.smtp"
    rules.write_text(rule)
    rc, out, last = check(home, "-r", str(rules), "-i", "127.0.0.1", "joe@example.com")
    assert rc == expect_rc and words in last["reason"], out
    assert last["result"] == ("unsigned" if rc == 2 else "error")


def test_rules_file_missing_is_plain_text(home):
    p = subprocess.run([CHECK, "-r", "/etc/no-such-tcp.smtp", "-i", "127.0.0.1", "joe@example.com"],
                       capture_output=True, text=True, env={"QMAILHOME": str(home)})
    assert p.returncode == 64
    assert "cannot read /etc/no-such-tcp.smtp: No such file or directory" in p.stderr
    assert "Errno" not in p.stderr and "'/etc" not in p.stderr


def test_dns_match_mismatch_missing(home, tmp_path):
    require_tool("nsd")
    ns = NsdServer({"example.com": txt_rr("default._domainkey", RSA.dns_record())},
                   workdir=tmp_path)
    ns.start()
    try:
        rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DNSCACHEIP=ns.dnscacheip)
        assert "public key matches the private key" in out and last["result"] == "sign"
        assert rc == 0 and last["published"] == "match"
        assert "TXT from %s:" % ns.dnscacheip in out
        OTHER.write(home / "control/domainkeys/example.com/default", fmt="pkcs8")
        rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DNSCACHEIP=ns.dnscacheip)
        assert "DOES NOT MATCH" in out and rc == 1 and last["published"] == "mismatch"
        (home / "control/domainkeys/example.com/sel2").write_bytes(
            (home / "control/domainkeys/example.com/default").read_bytes())
        rc, out, last = check(home, "joe@example.com", RELAYCLIENT="", DNSCACHEIP=ns.dnscacheip,
                              DKIMKEY="control/domainkeys/%/sel2")
        assert rc == 1 and last["published"] == "missing", out
        assert "receivers will fail" in out
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


def test_help_and_version():
    p = subprocess.run([CHECK, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "usage: qmail-dkim-check" in p.stdout
    assert "man 8 qmail-dkim-check" in p.stdout
    p = subprocess.run([CHECK, "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.startswith("qmail-dkim-check (qmail-dkim) ")


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


def test_queue_program_not_runnable_by_user(public_home):
    qq = public_home / "bin/qmail-queue"
    qq.chmod(0o700)
    (public_home / "control/domainkeys/example.com/default").chmod(0o644)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="")
    assert rc == 3 and last["exit"] == "120", out
    assert last["smtp"] == "451 unable to exec qq (#4.3.0)"
    assert "bin/qmail-queue" in last["reason"] and "lacks execute (x) permission" in last["reason"]


def test_qmailhome_not_searchable_by_user(public_home):
    public_home.chmod(0o700)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", RELAYCLIENT="",
                          QMAILQUEUE="")
    assert rc == 3, out
    # nobody cannot even reach bin/qmail-dkim under it: qmail-smtpd cannot run it
    assert last["exit"] == "120" and "lacks search (x) permission" in last["reason"], out
    assert str(public_home) + " has mode 700" in last["reason"]


def test_verify_mode_control_me_unreadable(public_home):
    me = public_home / "control/me"
    me.write_text("mx.example.com\n")
    me.chmod(0o600)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", DKIMVERIFY="")
    assert rc == 3 and last["exit"] == "55" and "control/me" in last["reason"], out
    me.chmod(0o644)
    rc, out, last = check(public_home, "-u", "nobody", "joe@example.com", DKIMVERIFY="")
    assert rc == 2 and "verify" in last["reason"], out


def test_verify_mode_control_me_a_directory(home):
    """The same code as qmail-dkim's verify mode: control/me that cannot be
    read is 55 there too."""
    (home / "control/me").mkdir()
    rc, out, last = check(home, "joe@example.com", DKIMVERIFY="")
    assert rc == 3 and last["exit"] == "55", out


def test_interpreter_options_read_from_the_hash_bang(tmp_path):
    from qmail_dkim.tools.check import interpreter_options
    cases = {"#!/opt/q/bin/python3 -S\n": ["-S"], "#!/opt/q/bin/python3\n": [],
             "#!/usr/bin/env -S python3 -S\n": ["-S"], "#!/usr/bin/env python3\n": [],
             "#!/usr/bin/env -S python3 -I -S\n": ["-I", "-S"]}
    for i, (line, want) in enumerate(cases.items()):
        p = tmp_path / str(i)
        p.write_text(line + "pass\n")
        assert interpreter_options(p) == want, line


def test_no_dash_S_on_the_hash_bang_is_pointed_out(public_home):
    """README step 1: without -S every message runs site (and the qmail-dkimd
    hand-over is the slow one); the check says so, as a note, not a failure."""
    prog = public_home / "bin/qmail-dkim"
    real = Path(sys.executable).parent / "qmail-dkim"
    body = real.read_bytes().split(b"\n", 1)[1]
    for first, noted in ((b"#!" + sys.executable.encode() + b"\n", True),
                         (b"#!" + sys.executable.encode() + b" -S\n", False)):
        prog.write_bytes(first + body)
        prog.chmod(0o755)
        rc, out, last = check(public_home, "joe@example.com", RELAYCLIENT="")
        assert last["result"] == "sign", out
        assert ("no -S on the #! line" in out) == noted, out
