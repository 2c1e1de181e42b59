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


def test_bin_has_the_commands():
    assert COMMANDS == ["dkimtestkey", "dknewkey", "qmail-dkim", "qmail-dkim-check", "qmail-dkimd",
                        "qmail-dknewkey"]


def man_page(name):
    """man/<name>.8, or the page it names with .so (dknewkey.8 is
    qmail-dknewkey.8, installed under both names)."""
    page = ROOT / "man" / (name + ".8")
    assert page.is_file()
    first = page.read_text().split("\n", 1)[0]
    if first.startswith(".so "):
        target = first.split()[1]
        assert target.startswith("man8/")
        page = ROOT / "man" / target[len("man8/"):]
        assert page.is_file(), target
    return page


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
    page = man_page(name)
    rc, _, err = groff(page.read_text())
    assert rc == 0 and err == "", err


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_style(name):
    """One .TH form (name, section 8, year, package version, manual name) and
    one exit heading, EXIT CODES, in every page."""
    page = man_page(name)
    src = page.read_text()
    th = [l for l in src.splitlines() if l.startswith(".TH")]
    assert th == ['.TH %s 8 "2026" "qmail-dkim %s" "System Administration"'
                  % (page.stem, qmail_dkim.__version__)], th
    exits = [l for l in src.splitlines() if re.match(r'\.S[HS] "?EXIT', l)]
    assert exits == ['.SH "EXIT CODES"'], exits


def tables(src):
    """Each .TS ... .TE block of a page."""
    return re.findall(r"^\.TS\n.*?^\.TE\n", src, re.M | re.S)


@pytest.mark.parametrize("name", COMMANDS)
def test_man_page_tables_fit_80_columns(name):
    """Every table, rendered alone at 80 columns (man's default width), fits
    in them: long cells are text blocks (T{ ... T}) that wrap."""
    src = man_page(name).read_text()
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


MAN_NAME = {"dknewkey": "qmail-dknewkey"}


@pytest.mark.parametrize("name", COMMANDS)
def test_help_and_version(name):
    """Every command answers --help (usage, the man page to read, exit 0) and
    --version; qmail-dkim never takes --help for a queue program's name."""
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    p = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and "usage: " in p.stdout, (p.returncode, p.stdout, p.stderr)
    assert "man 8 %s" % MAN_NAME.get(name, name) in p.stdout
    p = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0 and p.stdout.startswith("%s (qmail-dkim) " % name), p.stdout


def test_qmail_dkim_on_a_terminal_says_what_it_reads(tmp_path):
    import pty
    path = shutil.which("qmail-dkim", path=os.path.dirname(sys.executable))
    master, slave = pty.openpty()
    try:
        p = subprocess.run([path], stdin=slave, capture_output=True, text=True, timeout=30,
                           env={"PATH": "/usr/bin:/bin", "QMAILHOME": str(tmp_path / "none")})
    finally:
        os.close(slave)
        os.close(master)
    assert "reading a message on fd 0" in p.stderr and "Ctrl-D" in p.stderr, p.stderr
    assert p.returncode == 61          # then the usual run: here, no QMAILHOME
    # not on a terminal: no notice, only the log line
    p = subprocess.run([path], input="", capture_output=True, text=True, timeout=30,
                       env={"PATH": "/usr/bin:/bin", "QMAILHOME": str(tmp_path / "none")})
    assert "reading a message" not in p.stderr and p.returncode == 61


def test_readme_key_command_survives_dkimpy_reinstall(tmp_path):
    """dkimpy installs its own dknewkey into the same bin/; reinstalling dkimpy
    replaces ours. README's key command uses qmail-dknewkey, a name only we
    install, so it still works afterwards."""
    import re
    import site
    readme = (ROOT / "README").read_text()
    cmds = re.findall(r"^\s+(/opt/qmail-dkim/bin/\S*dknewkey .*)$", readme, re.M)
    assert cmds, "README has no key command"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    py = venv / "bin/python"
    sp = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        capture_output=True, text=True, check=True).stdout.strip()
    # Dependencies from the test venv (no network needed for them); the test
    # venv's pip installs into the new one (--python).
    (Path(sp) / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
           "--disable-pip-version-check", "--no-deps"]
    subprocess.run(pip + ["dkimpy"], check=True, timeout=300)
    src = tmp_path / "src"             # pip builds in the tree: never in the checkout
    for part in ("qmail_dkim", "bin", "man"):
        shutil.copytree(ROOT / part, src / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("setup.cfg", "pyproject.toml", "README"):
        shutil.copy(ROOT / part, src / part)
    subprocess.run(pip + [str(src)], check=True, timeout=300, cwd=tmp_path)
    assert "qmail_dkim" in (venv / "bin/dknewkey").read_text()      # ours, installed last
    subprocess.run(pip + ["--force-reinstall", "dkimpy"], check=True, timeout=300)
    assert "qmail_dkim" not in (venv / "bin/dknewkey").read_text()  # now dkimpy's
    home = tmp_path / "qmail"
    (home / "control").mkdir(parents=True)
    for cmd in cmds:
        argv = cmd.replace("/opt/qmail-dkim", str(venv)).split()
        argv = [a for a in argv if a != "-g" and a != "nofiles"]    # no group nofiles here
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                           env={"PATH": "/usr/bin:/bin", "QMAILHOME": str(home)})
        assert p.returncode == 0, (cmd, p.stdout, p.stderr)
        assert "_domainkey" in p.stdout
    # README's commands in order: the key (step 2), the rollover's new key,
    # and the old key removed a week later.
    kd = home / "control/domainkeys/example.com"
    assert len(cmds) == 3 and "-r" in cmds[2].split()
    assert (kd / "2027").is_file() and not (kd / "default").exists()


def _usage_forms(lines, prog):
    """Usage lines as comparable text: the command's name as PROG, the
    bracket spacing of man's [ ... ] and a trailing (comment) dropped."""
    out = set()
    for line in lines:
        line = re.sub(r"\s{2,}\(.*\)$", "", line.strip())
        line = re.sub(r"\s+", " ", line)
        line = re.sub(r"\[\s+", "[", line)
        line = re.sub(r"\s+\]", "]", line)
        line = re.sub(r"\s+\.\.\.", "...", line)
        out.add(line.replace(prog, "PROG", 1))
    return out


@pytest.mark.parametrize("name", COMMANDS)
def test_help_usage_is_the_man_synopsis(name):
    """The usage lines of --help and the man page's SYNOPSIS name the same
    forms and options (README: every command answers --help)."""
    path = shutil.which(name, path=os.path.dirname(sys.executable))
    p = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    text = p.stdout.split("usage: ", 1)[1].splitlines()
    usage = [text[0]] + [l for l in text[1:] if l.startswith("       " + name + " ")]
    page = man_page(name)
    rc, rendered, _ = groff(page.read_text(), width=300)
    syn = rendered.split("SYNOPSIS\n", 1)[1].split("\nDESCRIPTION", 1)[0]
    syn = [l for l in syn.splitlines() if l.strip()]
    assert _usage_forms(usage, name) == _usage_forms(syn, MAN_NAME.get(name, name)), (usage, syn)
