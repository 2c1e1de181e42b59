"""Each command is installed, is ours (dkimpy ships a different dknewkey),
and has a man page that renders without warnings."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(p.name for p in (ROOT / "bin").iterdir())


def test_bin_has_the_five_commands():
    assert COMMANDS == ["dkimtestkey", "dknewkey", "qmail-dkim", "qmail-dkim-check", "qmail-dkimd"]


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_renders_cleanly(name):
    page = ROOT / "man" / (name + ".8")
    assert page.is_file()
    if not shutil.which("groff"):
        pytest.skip("groff not installed")
    p = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-ww", str(page)], capture_output=True, timeout=30)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    src = page.read_text()
    assert ".SH EXIT" in src or '.SH "EXIT' in src, "no exit status section"


@pytest.mark.parametrize("name", COMMANDS)
def test_installed_command_is_ours(name):
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    assert path, name
    text = Path(path).read_text(errors="replace")
    assert "qmail_dkim" in text, "%s is not qmail-dkim's (dkimpy installs its own dknewkey)" % path
