"""./run-tests says what to install when npm or Node.js 20 is missing
(it used to die with "line 25: /usr/bin/npm: Permission denied"), installs
only the Debian packages that are missing, and without root says which."""
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEED_NODE = ROOT / ".ci" / "need-node"


def _bin(tmp_path, node_version=None, npm="ok"):
    b = tmp_path / "bin"
    b.mkdir()
    (b / "bash").symlink_to("/bin/bash")
    if node_version:
        (b / "node").write_text('#!/bin/sh\ncase "$1" in --version) echo v%s;; -p) echo %s;; esac\n'
                                % (node_version, node_version.split(".")[0]))
        (b / "node").chmod(0o755)
    if npm != "missing":
        (b / "npm").write_text("#!/bin/sh\necho 10.0.0\n")
        (b / "npm").chmod(0o755 if npm == "ok" else 0o644)
    return b


@pytest.mark.parametrize("node,npm,rc,words", [
    (None, "missing", 1, ["node cannot be run (not installed)", "Node.js 20", "nodesource"]),
    ("18.19.0", "ok", 1, ["Node.js v18.19.0 found, mailauth needs 20 or later", "nodejs.org"]),
    ("20.11.1", "noexec", 1, ["npm cannot be run", "is not executable", "Node.js 20"]),
    ("20.11.1", "missing", 1, ["npm cannot be run (not installed)"]),
    ("22.1.0", "ok", 0, []),
])
def test_need_node(tmp_path, node, npm, rc, words):
    b = _bin(tmp_path, node, npm)
    p = subprocess.run([str(NEED_NODE)], env={"PATH": str(b)}, capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == rc, p.stderr
    for w in words:
        assert w in p.stderr, p.stderr
    assert "Permission denied" not in p.stderr


def test_run_tests_asks_before_npm_install():
    text = (ROOT / "run-tests").read_text()
    assert text.index(".ci/need-node") < text.index("npm install")
    assert os.access(NEED_NODE, os.X_OK)


def _fake_dpkg(tmp, missing, apt_log):
    """A bin/ with dpkg-query answering 'installed' for every package but
    `missing`, and an apt-get that records its arguments."""
    b = tmp / "fakebin"
    b.mkdir()
    (b / "dpkg-query").write_text(
        "#!/bin/sh\n# the last argument is the package\n"
        "for p; do :; done\n"
        "case \" %s \" in *\" $p \"*) exit 1;; esac\n"
        "printf 'install ok installed'\n" % " ".join(missing))
    (b / "apt-get").write_text("#!/bin/sh\necho \"$*\" >> %s\n" % apt_log)
    for f in ("dpkg-query", "apt-get"):
        (b / f).chmod(0o755)
    return b


def _run_tests_copy(d, fakebin):
    """run-tests up to its venv step: PYTHON=false stops it there (exit 1)."""
    shutil.copy(ROOT / "run-tests", d / "run-tests")
    return [str(d / "run-tests")], {"PATH": "%s:/usr/bin:/bin" % fakebin, "PYTHON": "false"}


def test_run_tests_installs_only_missing_packages(tmp_path):
    log = tmp_path / "apt.log"
    b = _fake_dpkg(tmp_path, [], log)
    cmd, env = _run_tests_copy(tmp_path, b)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert "nothing to install" in p.stdout and "== venv" in p.stdout, (p.stdout, p.stderr)
    assert not log.exists()
    if os.getuid() != 0:
        pytest.skip("the apt-get step as root")
    (tmp_path / "fakebin").rename(tmp_path / "old")
    b = _fake_dpkg(tmp_path, ["nsd", "tinydns"], log)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert "== apt-get install: nsd tinydns" in p.stdout, (p.stdout, p.stderr)
    assert log.read_text().splitlines() == ["update -qq",
                                            "install -y -qq --no-install-recommends nsd tinydns"]


def test_run_tests_without_root_names_missing_packages():
    """Not root and no sudo: run-tests says which packages root must install
    (instead of 'sudo: command not found')."""
    if shutil.which("sudo"):
        pytest.skip("sudo is installed here")
    d = Path(tempfile.mkdtemp(prefix="qdkim-runtests-"))
    try:
        d.chmod(0o755)
        log = d / "apt.log"
        b = _fake_dpkg(d, ["nsd"], log)
        cmd, env = _run_tests_copy(d, b)
        if os.getuid() == 0:
            nobody = pwd.getpwnam("nobody")
            cmd = ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
                   "--clear-groups"] + cmd
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
        assert p.returncode == 1 and "only root can install them (no sudo here): nsd" in p.stderr, \
            (p.stdout, p.stderr)
        assert "== venv" not in p.stdout and not log.exists()
    finally:
        shutil.rmtree(d)


def test_run_tests_npm_cache_when_home_is_not_writable(tmp_path):
    """qmaild's home (/var/qmail) is not writable: npm gets its cache in
    .ci/node, and npm's errors are not silenced (run-tests used to exit 1
    without a word)."""
    log = tmp_path / "npm.log"
    b = _fake_dpkg(tmp_path, [], tmp_path / "apt.log")
    (b / "npm").write_text('#!/bin/sh\necho "cache=$npm_config_cache args=$*" > %s\n'
                           'echo "npm error: no cache" >&2\nexit 1\n' % log)
    (b / "npm").chmod(0o755)
    cmd, env = _run_tests_copy(tmp_path, b)
    (tmp_path / ".ci").mkdir()
    (tmp_path / ".ci/need-node").write_text("#!/bin/sh\nexit 0\n")
    (tmp_path / ".venv/bin").mkdir(parents=True)
    for f in ("python", "pip"):
        (tmp_path / ".venv/bin" / f).write_text("#!/bin/sh\nexit 0\n")
    for f in (".ci/need-node", ".venv/bin/python", ".venv/bin/pip"):
        (tmp_path / f).chmod(0o755)
    env["HOME"] = str(tmp_path / "nonexistent")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "npm error: no cache" in p.stderr, (p.stdout, p.stderr)
    line = log.read_text()
    assert line.startswith("cache=%s/.ci/node/.npm-cache " % tmp_path), line
    assert "--silent" not in line and "--loglevel=error" in line
    env["HOME"] = str(tmp_path)
    subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert log.read_text().startswith("cache= "), log.read_text()
