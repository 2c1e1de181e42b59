"""./demo, README's first command: the main job on an embedded default
(a throwaway key, sign, verify, a tampered copy refused), and on a machine
whose python3 cannot make a venv it says what to install."""
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _copy(dest):
    """The demo next to a .venv that is the test venv (already installed:
    the demo then skips pip)."""
    shutil.copy(ROOT / "demo", dest / "demo")
    os.symlink(sys.prefix, dest / ".venv")


def test_demo_signs_verifies_and_refuses_the_tampered_copy(tmp_path):
    if not (Path(sys.prefix) / "bin/qmail-dkim").exists():
        pytest.skip("the test venv has no bin/qmail-dkim (pip install -e .)")
    _copy(tmp_path)
    p = subprocess.run([str(tmp_path / "demo")], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)})
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "installing" not in p.stdout
    assert "DKIM-Status: good" in p.stdout and "dkim=pass header.d=example.com" in p.stdout
    assert "exit 31 (31 = permanent reject" in p.stdout
    log = p.stderr.splitlines()
    assert [l.split(" exit=")[-1] for l in log if l.startswith("qmail-dkim: ")] == ["0", "0", "31"]
    assert log[0].startswith("qmail-dkim: mode=sign result=signed d=example.com s=default ")
    home = p.stdout.split("Files are in ", 1)[1].split()[0]
    shutil.rmtree(home)


def test_demo_without_venv_module_says_what_to_install():
    """Debian's python3 without python3-venv (a fresh machine): not root and
    no sudo, the demo names the package instead of failing inside venv."""
    d = Path(tempfile.mkdtemp(prefix="qdkim-demo-"))
    try:
        d.chmod(0o755)
        shutil.copy(ROOT / "demo", d / "demo")
        fake = d / "python3"
        fake.write_text("#!/bin/sh\n# a python3 without ensurepip\nexit 1\n")
        fake.chmod(0o755)
        cmd = [str(d / "demo")]
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            cmd = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                   "--clear-groups"] + cmd
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "PYTHON": str(fake)})
        if "== apt-get install python3-venv" in p.stdout:
            pytest.skip("this user has passwordless sudo")
        assert p.returncode == 1, (p.stdout, p.stderr)
        assert "cannot make a venv (no ensurepip); as root: apt-get install python3-venv" in p.stderr
        assert not (d / ".venv").exists()
    finally:
        shutil.rmtree(d)
