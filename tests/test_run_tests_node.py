"""./run-tests says what to install when npm or Node.js 20 is missing
(it used to die with "line 25: /usr/bin/npm: Permission denied")."""
import os
import subprocess
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
