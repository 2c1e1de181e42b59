"""Each command is installed, is ours (dkimpy ships a different dknewkey),
and has a man page that renders without warnings, in the one style all pages
share; every table fits 80 columns."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import qmail_dkim
from qmail_dkim.verify import status

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = sorted(p.name for p in (ROOT / "bin").iterdir())


def test_bin_has_the_five_commands():
    assert COMMANDS == ["dkimtestkey", "dknewkey", "qmail-dkim", "qmail-dkim-check", "qmail-dkimd"]


def groff(source, width=80):
    """Render man source with groff at `width` columns: (returncode, text, stderr)."""
    if not shutil.which("groff"):
        pytest.skip("groff not installed (apt-get install groff-base)")
    p = subprocess.run(["groff", "-t", "-man", "-Tutf8", "-ww", "-rLL=%dn" % width,
                        "-P-c", "-P-b", "-P-u"],
                       input=source.encode(), capture_output=True, timeout=30)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8", "replace")


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_renders_cleanly(name):
    page = ROOT / "man" / (name + ".8")
    assert page.is_file()
    rc, _, err = groff(page.read_text())
    assert rc == 0 and err == "", err


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_style(name):
    """One .TH form (name, section 8, year, package version, manual name) and
    one exit heading, EXIT CODES, in every page."""
    src = (ROOT / "man" / (name + ".8")).read_text()
    th = [l for l in src.splitlines() if l.startswith(".TH")]
    assert th == ['.TH %s 8 "2026" "qmail-dkim %s" "System Administration"'
                  % (name, qmail_dkim.__version__)], th
    exits = [l for l in src.splitlines() if re.match(r'\.S[HS] "?EXIT', l)]
    assert exits == ['.SH "EXIT CODES"'], exits


def tables(src):
    """Each .TS ... .TE block of a page."""
    return re.findall(r"^\.TS\n.*?^\.TE\n", src, re.M | re.S)


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_tables_fit_80_columns(name):
    """Every table, rendered alone at 80 columns (man's default width), fits
    in them: long cells are text blocks (T{ ... T}) that wrap."""
    src = (ROOT / "man" / (name + ".8")).read_text()
    for table in tables(src):
        rc, text, err = groff(".TH T 8\n.SH T\n" + table)
        assert rc == 0 and err == "", err
        body = text.splitlines()[1:-1]          # without the .TH header and footer lines
        wide = [l for l in body if len(l) > 80]
        assert not wide, (name, wide)


def test_verify_letter_table_lists_every_letter():
    """qmail-dkim(8)'s letter table: one row per letter of verify/status.py,
    with its libdkim name, in order, each row within 80 columns."""
    src = (ROOT / "man" / "qmail-dkim.8").read_text()
    table = [t for t in tables(src) if "\nA\tSUCCESS\t" in t]
    assert len(table) == 1
    rows = re.findall(r"^([A-Z])\t(\S+)\t", table[0], re.M)
    assert rows == [(c, status.NAMES[c]) for c in status.LETTERS]
    rc, text, _ = groff(".TH T 8\n.SH T\n" + table[0])
    rendered = re.findall(r"^ +([A-Z])   (\S+) ", text, re.M)
    assert rendered == rows and max(len(l) for l in text.splitlines()) <= 80


@pytest.mark.parametrize("name", COMMANDS)
def test_installed_command_is_ours(name):
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    assert path, name
    text = Path(path).read_text(errors="replace")
    assert "qmail_dkim" in text, "%s is not qmail-dkim's (dkimpy installs its own dknewkey)" % path
