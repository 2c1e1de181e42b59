"""The qmail-queue interface and the exit codes of qmail-dkim(8), EXIT CODES."""
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests import qdkim
from tests.qdkim import SAMPLE
from tests.logparse import fields

RELAY = {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"}


def test_child_status_is_passed_on(home):
    for code in (0, 31, 71, 81, 91):
        r = qdkim.run(home, RELAY, qd_knobs={"exit": code})
        assert r.rc == code and fields(r.log)["exit"] == str(code)


def test_unsigned_verify_mode_passes_message_unchanged(home):
    msg = b"From: a@b.example\n\nno signature\n"
    r = qdkim.run(home, {}, message=msg)
    assert r.rc == 0 and r.msg.endswith(msg)
    assert fields(r.log)["mode"] == "verify"


def test_queue_program_from_args_then_dkimqueue_then_queueprog_then_default(home):
    qd_env = qdkim.QueueDouble(home / "other")
    # argument wins over DKIMQUEUE
    r = qdkim.run(home, dict(RELAY, **qd_env.env()), args=[str(qd_env.path), "--flag"])
    assert r.rc == 0 and r.stored == [] and qd_env.count() == 1
    assert qd_env.last().info["argv"][1:] == ["--flag"]
    # QUEUEPROG when DKIMQUEUE is unset
    qd2 = qdkim.QueueDouble(home / "qp")
    r = qdkim.run(home, dict(RELAY, DKIMQUEUE=None, QUEUEPROG=str(qd2.path), **qd2.env()), queue=False)
    assert r.rc == 0 and qd2.count() == 1
    # default: bin/qmail-queue relative to QMAILHOME
    qd3 = qdkim.QueueDouble(home / "dflt")
    os.symlink(qd3.path, home / "bin/qmail-queue")
    r = qdkim.run(home, dict(RELAY, **qd3.env()), queue=False)
    assert r.rc == 0 and qd3.count() == 1
    assert qd3.last().info["cwd"] == str(home)


def test_child_is_run_without_a_shell(home, tmp_path):
    marker = tmp_path / "pwned"
    r = qdkim.run(home, dict(RELAY, DKIMQUEUE="/bin/true; touch %s" % marker), queue=False)
    assert r.rc == 120 and not marker.exists()


def test_missing_child_is_120(home):
    r = qdkim.run(home, dict(RELAY, DKIMQUEUE=str(home / "nope")), queue=False)
    assert r.rc == 120 and "cannot run queue program" in r.stderr


def test_refuses_itself_as_child(home):
    os.symlink(qdkim.QMAIL_DKIM, home / "bin/qmail-dkim")
    for q in (qdkim.QMAIL_DKIM, "bin/qmail-dkim"):
        r = qdkim.run(home, dict(RELAY, DKIMQUEUE=q), queue=False)
        assert r.rc == 120 and "qmail-dkim itself" in r.log


def test_child_killed_by_signal_is_57(home):
    r = qdkim.run(home, RELAY, qd_knobs={"signal": "TERM"})
    assert r.rc == 57 and r.stored == [] and "signal 15" in r.log


def test_child_exiting_early_without_reading(home):
    big = SAMPLE + b"x" * 2_000_000 + b"\n"
    r = qdkim.run(home, RELAY, message=big, qd_knobs={"read_nothing": True, "exit": 71})
    assert r.rc == 71
    # A child that claims success without reading everything: temporary failure.
    r = qdkim.run(home, RELAY, message=big, qd_knobs={"read_nothing": True, "exit": 0})
    assert r.rc == 53 and "before reading the whole message" in r.log


def test_qmailhome_missing_is_61(home):
    r = qdkim.run(home, dict(RELAY, QMAILHOME=str(home / "nonexistent")))
    assert r.rc == 61 and r.stored == []


def test_tmpdir_unwritable_is_53_no_fallback(home):
    r = qdkim.run(home, dict(RELAY, TMPDIR=str(home / "no-such-dir")))
    assert r.rc == 53 and r.stored == [] and "no-such-dir" in r.log


def test_tmpdir_full_is_53(home):
    # RLIMIT_FSIZE makes writes beyond 64 KB fail with EFBIG, like a full disk.
    import resource
    big = SAMPLE + b"y" * 500_000 + b"\n"
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home), **RELAY,
           "DKIMQUEUE": "/bin/true"}
    p = subprocess.run([qdkim.QMAIL_DKIM], input=big, env=env, stdout=qdkim.envelope_file(),
                       stderr=subprocess.PIPE, timeout=30,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536)))
    assert p.returncode == 53, p.stderr


def test_death_timeout_kills_child_and_is_52(home):
    t = time.time()
    r = qdkim.run(home, dict(RELAY, DEATH="2"), qd_knobs={"sleep": 30})
    assert r.rc == 52 and r.stored == [] and time.time() - t < 20
    assert "DEATH" in r.log
    # the double was killed: no process left sleeping with our QQ dir
    time.sleep(0.2)
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    assert str(r.qd.dir) not in out


def test_stdin_closed_early_gets_what_was_sent(home):
    # A truncated message is still a message: it is passed on, nothing invented.
    part = b"From: joe@example.com\nSubj"
    r = qdkim.run(home, RELAY, message=part)
    assert r.rc == 0 and r.msg.endswith(part)


def test_custom_error_indimail_88_text_alone_on_fd_2(home):
    r = qdkim.run(home, {"DKIMKEY": "control/domainkeys/nonexistent", "DKIMCUSTOMERROR": "indimail"})
    assert r.rc == 88
    assert r.stderr == "Dqmail-dkim: private key file does not exist (#5.3.5)"
    r = qdkim.run(home, dict(RELAY, DKIMSIGNOPTIONS="-c q", DKIMCUSTOMERROR="indimail", ERROR_FD="2"))
    assert r.rc == 88 and r.stderr.startswith("Zqmail-dkim: ") and r.stderr.endswith("(#4.3.5)")


def test_custom_error_value_naming_no_family_keeps_plain_codes(home):
    for value in ("", "1"):
        r = qdkim.run(home, {"DKIMKEY": "control/domainkeys/nonexistent", "DKIMCUSTOMERROR": value})
        assert r.rc == 35 and "is not notqmail, indimail or sagredo" in r.log


def test_log_line_is_one_line_even_for_hostile_values(home):
    msg = b"From: x@exa\x01mple.com\n\nbody\n"
    r = qdkim.run(home, RELAY, message=msg)
    assert r.rc == 0 and "\\x01" in r.log


def _as_nobody_with_limits(home, limit_args, env_extra):
    """Run qmail-dkim as an unprivileged uid under prlimit (root only).

    The uid is one no other process uses (not nobody: RLIMIT_NPROC counts every
    process of the uid, so a concurrent run as nobody made exec itself fail)."""
    if os.getuid() != 0:
        pytest.skip("needs root")
    uid = 40000 + os.getpid() % 20000
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": "/tmp", "DKIMQUEUE": "/bin/cat"}
    env.update(env_extra)
    return subprocess.run(["prlimit"] + limit_args + ["setpriv", f"--reuid={uid}", f"--regid={uid}",
                          "--clear-groups", qdkim.QMAIL_DKIM], input=SAMPLE, env=env,
                          stdout=qdkim.envelope_file(), stderr=subprocess.PIPE, timeout=60)


def test_cannot_fork_is_58():
    import tempfile, shutil
    home = Path(tempfile.mkdtemp(prefix="qdkim-nproc-"))
    home.chmod(0o755)
    try:
        p = _as_nobody_with_limits(home, ["--nproc=1"], {})
        log = p.stderr.decode()
        assert p.returncode == 58, log
        assert "cannot fork" in log and "action=error" in log
    finally:
        shutil.rmtree(home)


def test_cannot_create_pipe_is_59(home):
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "TMPDIR": str(home), "DKIMQUEUE": "/bin/cat", **RELAY}
    # fds 0-2, the spool file (3) and room for one import: no room for a pipe.
    p = subprocess.run(["prlimit", "--nofile=5", qdkim.QMAIL_DKIM], input=SAMPLE, env=env,
                       stdout=qdkim.envelope_file(), stderr=subprocess.PIPE, timeout=60)
    f = fields([l for l in p.stderr.decode().splitlines() if l.startswith("qmail-dkim:")][0])
    assert p.returncode == 59 and f["result"] == "error" and "pipe" in f["reason"]


def test_custom_error_leaves_the_queue_programs_status_alone(home):
    for code in (0, 71, 31):
        r = qdkim.run(home, dict(RELAY, DKIMCUSTOMERROR="indimail"), qd_knobs={"exit": code})
        assert r.rc == code
        assert not [l for l in r.stderr.splitlines() if l[:1] in ("D", "Z")]


def test_program_that_cannot_load_exits_81(home, tmp_path):
    # A broken installation (here: the package shadowed by an unloadable one)
    # is a temporary failure with a log line, not exit 1.
    # Both places it can fail: bin/qmail-dkim loading qmail_dkim/start.py,
    # and start.py loading main.
    import qmail_dkim.start
    for broken, start in (("start", b"raise ImportError('half-installed')\n"),
                          ("main", Path(qmail_dkim.start.__file__).read_bytes())):
        bad = tmp_path / broken / "qmail_dkim"
        bad.mkdir(parents=True)
        (bad / "__init__.py").write_text("")
        (bad / "main.py").write_text("raise ImportError('half-installed')\n")
        (bad / "start.py").write_bytes(start)
        env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "PYTHONPATH": str(bad.parent)}
        p = subprocess.run([qdkim.QMAIL_DKIM], input=SAMPLE, env=env, stdout=qdkim.envelope_file(),
                           stderr=subprocess.PIPE, timeout=30)
        assert p.returncode == 81 and b"cannot load qmail-dkim" in p.stderr and b"exit=81" in p.stderr
        assert b"ImportError: half-installed" in p.stderr, p.stderr
