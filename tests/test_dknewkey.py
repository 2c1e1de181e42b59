"""dknewkey: key files, modes, no overwrite, -r, -p, record formats.

The command runs as a real subprocess (bin/dknewkey) with QMAILHOME in a temp dir.
"""
import base64
import grp
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from qmail_dkim.dkim import privkey as keyfile
from qmail_dkim.tools import dknewkey as newkey
from tests.realparts.tools import find_tool, require_tool

REPO = Path(__file__).resolve().parent.parent
BIN = REPO / "bin" / "dknewkey"


def run(qh, *args, env=None, umask=None):
    e = {k: v for k, v in os.environ.items() if k not in ("QMAILHOME", "CONTROLDIR")}
    e["QMAILHOME"] = str(qh)
    e["PYTHONPATH"] = str(REPO)
    e.update(env or {})
    (Path(qh) / e.get("CONTROLDIR", "control")).mkdir(parents=True, exist_ok=True)
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([sys.executable, str(BIN), *args], env=e, capture_output=True,
                          text=True, timeout=120, preexec_fn=pre)


def panel_value(out):
    vals = re.findall(r"^value: (.*)$", out, re.M)
    assert vals, out
    return vals


def tags(value):
    return dict((k.strip(), v.strip()) for k, v in
                (t.split("=", 1) for t in value.split(";") if t.strip()))


def kdir(qh, domain=None):
    d = Path(qh) / "control" / "domainkeys"
    return d / domain if domain else d


def existing_group_other_than_mine():
    for g in grp.getgrall():
        if g.gr_gid != os.getegid():
            return g
    return None


# ------------------------------------------------------------------ new keys

def test_rsa_default_files_modes_and_record(tmp_path):
    qh = tmp_path / "qmail"
    r = run(qh, "-d", "Example.COM", "default", umask=0o077)
    assert r.returncode == 0, r.stderr
    priv = kdir(qh, "example.com") / "default"
    pub = kdir(qh, "example.com") / "default.pub"
    assert stat.S_IMODE(priv.stat().st_mode) == 0o640
    assert stat.S_IMODE(pub.stat().st_mode) == 0o644
    # directories created 0755 whatever the umask
    for d in (kdir(qh), kdir(qh, "example.com")):
        assert stat.S_IMODE(d.stat().st_mode) == 0o755, d
    assert priv.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")   # PKCS#8
    assert pub.read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----\n")
    key = keyfile.load_private_key(str(priv))
    assert key.kind == "rsa" and key.bits == 2048
    (value,) = panel_value(r.stdout)
    t = tags(value)
    assert value.startswith("v=DKIM1; ")
    assert t["k"] == "rsa" and t["h"] == "sha256" and "t" not in t
    assert t["p"] == key.public_b64()
    # .pub holds the same public key
    from cryptography.hazmat.primitives import serialization
    spki = serialization.load_pem_public_key(pub.read_bytes()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert base64.b64encode(spki).decode() == t["p"]
    # three labelled renderings
    assert "; BIND zone file" in r.stdout and "Web DNS panel" in r.stdout
    assert "# tinydns-data" in r.stdout
    assert re.search(r"^default\._domainkey\.example\.com\.\tIN\tTXT\t\( ", r.stdout, re.M)
    assert re.search(r"^:default\._domainkey\.example\.com:16:", r.stdout, re.M)
    # no temporary files left behind
    assert sorted(os.listdir(kdir(qh, "example.com"))) == ["default", "default.pub"]


def test_ed25519_record_format(tmp_path):
    r = run(tmp_path, "-t", "ed25519", "-d", "example.org", "ed")
    assert r.returncode == 0, r.stderr
    priv = kdir(tmp_path, "example.org") / "ed"
    assert priv.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----\n")
    key = keyfile.load_private_key(str(priv))
    assert key.kind == "ed25519"
    (value,) = panel_value(r.stdout)
    t = tags(value)
    assert t["v"] == "DKIM1" and t["k"] == "ed25519" and "h" not in t
    raw = base64.b64decode(t["p"], validate=True)
    assert len(raw) == 32
    assert t["p"] == key.public_b64()
    # one character-string in the BIND line (short record)
    assert re.search(r'^ed\._domainkey\.example\.org\.\tIN\tTXT\t"v=DKIM1; k=ed25519; p=[^"]+"$',
                     r.stdout, re.M)


def test_openssl_reads_both_key_types(tmp_path):
    require_tool("openssl")
    assert run(tmp_path, "-d", "example.com", "r").returncode == 0
    assert run(tmp_path, "-t", "ed25519", "-d", "example.com", "e").returncode == 0
    for sel, algo in (("r", "MODULUS"), ("e", "ED25519")):
        p = subprocess.run([find_tool("openssl"), "pkey", "-in", str(kdir(tmp_path, "example.com") / sel),
                            "-noout", "-text"], capture_output=True, text=True, timeout=30)
        assert p.returncode == 0, p.stderr
        assert algo in p.stdout.upper()


def test_testing_mode_and_e_flag(tmp_path):
    r = run(tmp_path, "-T", "-d", "example.com", "t1")
    assert r.returncode == 0
    assert tags(panel_value(r.stdout)[0])["t"] == "y"
    r = run(tmp_path, "-e", "-d", "example.com", "t2")
    assert r.returncode == 0
    assert "t" not in tags(panel_value(r.stdout)[0])
    r = run(tmp_path, "-T", "-e", "-d", "example.com", "t3")
    assert r.returncode == 64
    assert not (kdir(tmp_path, "example.com") / "t3").exists()


def test_fallback_key_without_domain(tmp_path):
    r = run(tmp_path, "default")
    assert r.returncode == 0, r.stderr
    assert (kdir(tmp_path) / "default").is_file()
    assert (kdir(tmp_path) / "default.pub").is_file()
    assert re.search(r"^default\._domainkey\tIN\tTXT\t", r.stdout, re.M)
    assert re.search(r"^:default\._domainkey\.DOMAIN:16:", r.stdout, re.M)


def test_missing_controldir_is_an_error(tmp_path):
    e = dict(os.environ, QMAILHOME=str(tmp_path / "nothere"), PYTHONPATH=str(REPO))
    r = subprocess.run([sys.executable, str(BIN), "-d", "example.com", "s"], env=e,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "nothere/control does not exist" in r.stderr
    assert not (tmp_path / "nothere").exists()


def test_controldir(tmp_path):
    r = run(tmp_path, "-d", "example.com", "s", env={"CONTROLDIR": "etc"})
    assert r.returncode == 0
    assert (tmp_path / "etc" / "domainkeys" / "example.com" / "s").is_file()


def test_idn_domain_becomes_a_label(tmp_path):
    r = run(tmp_path, "-d", "bücher.example", "s")
    assert r.returncode == 0, r.stderr
    assert (kdir(tmp_path, "xn--bcher-kva.example") / "s").is_file()
    assert "s._domainkey.xn--bcher-kva.example." in r.stdout


# ------------------------------------------------------------------ overwrite

def test_no_overwrite_without_f(tmp_path):
    assert run(tmp_path, "-d", "example.com", "s").returncode == 0
    priv = kdir(tmp_path, "example.com") / "s"
    before = priv.read_bytes()
    r = run(tmp_path, "-d", "example.com", "s")
    assert r.returncode == 1
    assert "exists" in r.stderr and "-f" in r.stderr
    assert r.stdout == ""
    assert priv.read_bytes() == before
    r = run(tmp_path, "-f", "-d", "example.com", "s")
    assert r.returncode == 0
    assert priv.read_bytes() != before
    assert stat.S_IMODE(priv.stat().st_mode) == 0o640
    assert sorted(os.listdir(priv.parent)) == ["s", "s.pub"]


def test_stale_pub_also_blocks(tmp_path):
    d = kdir(tmp_path, "example.com")
    d.mkdir(parents=True)
    (d / "s.pub").write_text("old")
    r = run(tmp_path, "-d", "example.com", "s")
    assert r.returncode == 1
    assert not (d / "s").exists()


def test_f_replaces_symlink_not_target(tmp_path):
    d = kdir(tmp_path, "example.com")
    assert run(tmp_path, "-d", "example.com", "old").returncode == 0
    os.symlink("old", d / "default")
    target = (d / "old").read_bytes()
    assert run(tmp_path, "-d", "example.com", "default").returncode == 1
    assert run(tmp_path, "-f", "-d", "example.com", "default").returncode == 0
    assert not (d / "default").is_symlink()
    assert (d / "old").read_bytes() == target


# ------------------------------------------------------------------ groups

def test_default_group_missing_warns_and_continues(tmp_path):
    try:
        gid = grp.getgrnam("nofiles").gr_gid
    except KeyError:
        gid = None
    r = run(tmp_path, "-d", "example.com", "s")
    assert r.returncode == 0
    priv = kdir(tmp_path, "example.com") / "s"
    if gid is None:
        assert "warning" in r.stderr and "nofiles" in r.stderr
        assert priv.stat().st_gid == os.getegid()
    elif os.geteuid() == 0:
        assert priv.stat().st_gid == gid


def test_explicit_group(tmp_path):
    g = existing_group_other_than_mine()
    if g is None or os.geteuid() != 0:
        pytest.skip("needs root and a second group")
    r = run(tmp_path, "-g", g.gr_name, "-d", "example.com", "s")
    assert r.returncode == 0, r.stderr
    assert "warning" not in r.stderr
    st = (kdir(tmp_path, "example.com") / "s").stat()
    assert st.st_gid == g.gr_gid
    assert st.st_uid == os.geteuid()
    # the public key keeps the default group
    assert (kdir(tmp_path, "example.com") / "s.pub").stat().st_gid == os.getegid()


def test_unknown_explicit_group_is_an_error(tmp_path):
    r = run(tmp_path, "-g", "no-such-group-xyz", "-d", "example.com", "s")
    assert r.returncode == 1
    assert "no-such-group-xyz" in r.stderr
    assert not (kdir(tmp_path, "example.com") / "s").exists()


# ------------------------------------------------------------------ bits

def test_bits(tmp_path):
    r = run(tmp_path, "-b", "1024", "-d", "example.com", "b1")
    assert r.returncode == 0
    assert "weak" in r.stderr
    assert keyfile.load_private_key(str(kdir(tmp_path, "example.com") / "b1")).bits == 1024
    for bad in ("512", "1023", "8192", "x"):
        r = run(tmp_path, "-b", bad, "-d", "example.com", "bad")
        assert r.returncode == 64, bad
    assert not (kdir(tmp_path, "example.com") / "bad").exists()
    # libdomainkeys style: dknewkey selector bits
    r = run(tmp_path, "-d", "example.com", "b3", "1024")
    assert r.returncode == 0
    assert keyfile.load_private_key(str(kdir(tmp_path, "example.com") / "b3")).bits == 1024
    # -b with ed25519: ignored with a warning
    r = run(tmp_path, "-t", "ed25519", "-b", "2048", "-d", "example.com", "e")
    assert r.returncode == 0 and "ignored" in r.stderr


# ------------------------------------------------------------------ usage

@pytest.mark.parametrize("args", [
    [], ["a", "b"], ["-d", "../etc", "s"], ["-d", "a/b", "s"], ["-d", "example.com", "a/b"],
    ["-d", "example.com", ".."], ["-d", "example.com", "x.pub"], ["-t", "dsa", "s"],
    ["-p", "-r", "s"], ["-r"], ["-p", "a", "b"], ["-z", "s"],
])
def test_usage_errors(tmp_path, args):
    r = run(tmp_path, *args)
    assert r.returncode == 64, (args, r.stderr)
    assert "usage:" in r.stderr
    assert not kdir(tmp_path).exists() or not any(kdir(tmp_path).rglob("*"))


def test_help(tmp_path):
    r = run(tmp_path, "-h")
    assert r.returncode == 0 and "usage:" in r.stdout


# ------------------------------------------------------------------ -r

def test_remove(tmp_path):
    assert run(tmp_path, "-d", "example.com", "s").returncode == 0
    assert run(tmp_path, "-d", "example.com", "keep").returncode == 0
    r = run(tmp_path, "-r", "-d", "example.com", "s")
    assert r.returncode == 0, r.stderr
    assert sorted(os.listdir(kdir(tmp_path, "example.com"))) == ["keep", "keep.pub"]
    assert "removed" in r.stdout and "s._domainkey.example.com" in r.stdout
    r = run(tmp_path, "-r", "-d", "example.com", "s")
    assert r.returncode == 1
    # the fallback key
    assert run(tmp_path, "fb").returncode == 0
    assert run(tmp_path, "-r", "fb").returncode == 0
    assert not (kdir(tmp_path) / "fb").exists()


# ------------------------------------------------------------------ -p

def test_print_existing_keys(tmp_path):
    outs = {}
    for args in (["-d", "example.com", "a"], ["-t", "ed25519", "-d", "example.com", "b"],
                 ["-d", "example.org", "c"], ["fb"]):
        r = run(tmp_path, *args)
        assert r.returncode == 0
        outs[args[-1]] = panel_value(r.stdout)[0]
    # one key
    r = run(tmp_path, "-p", "-d", "example.com", "a")
    assert r.returncode == 0, r.stderr
    assert panel_value(r.stdout) == [outs["a"]]
    # a domain
    r = run(tmp_path, "-p", "-d", "example.com")
    assert r.returncode == 0
    assert panel_value(r.stdout) == [outs["a"], outs["b"]]
    assert "b._domainkey.example.com" in r.stdout
    # everything: fallback keys first, then domains in order
    r = run(tmp_path, "-p")
    assert r.returncode == 0, r.stderr
    assert panel_value(r.stdout) == [outs["fb"], outs["a"], outs["b"], outs["c"]]
    # the fallback key by selector
    r = run(tmp_path, "-p", "fb")
    assert panel_value(r.stdout) == [outs["fb"]]
    # -T when printing
    r = run(tmp_path, "-p", "-T", "-d", "example.org", "c")
    assert tags(panel_value(r.stdout)[0])["t"] == "y"


def test_print_reads_pkcs1_and_links(tmp_path):
    from tests.realparts.keys import cached_rsa_key
    d = kdir(tmp_path, "example.net")
    d.mkdir(parents=True)
    k = cached_rsa_key(2048)
    (d / "rsa.private_sel").write_bytes(k.pem_pkcs1())       # the `domainkey` script's layout
    os.symlink("rsa.private_sel", d / "sel")
    r = run(tmp_path, "-p", "-d", "example.net", "sel")
    assert r.returncode == 0, r.stderr
    assert tags(panel_value(r.stdout)[0])["p"] == k.public_b64()


def test_print_missing_and_unreadable(tmp_path):
    r = run(tmp_path, "-p", "-d", "example.com", "nope")
    assert r.returncode == 1 and "no such key" in r.stderr
    r = run(tmp_path, "-p")
    assert r.returncode == 1 and "no keys" in r.stderr
    d = kdir(tmp_path, "example.com")
    d.mkdir(parents=True)
    (d / "junk").write_text("not a key\n")
    r = run(tmp_path, "-p", "-d", "example.com", "junk")
    assert r.returncode == 1
    assert "junk" in r.stderr and "uid=" in r.stderr


# ------------------------------------------------------------------ in-process API

def test_write_atomic_no_clobber(tmp_path):
    p = tmp_path / "f"
    newkey._write_atomic(str(p), b"one", 0o600)
    with pytest.raises(newkey.Failure):
        newkey._write_atomic(str(p), b"two", 0o600)
    assert p.read_bytes() == b"one"
    newkey._write_atomic(str(p), b"three", 0o600, force=True)
    assert p.read_bytes() == b"three"
    assert os.listdir(tmp_path) == ["f"]


def test_normalize_domain():
    assert newkey.normalize_domain("Example.COM.") == "example.com"
    for bad in ("", "a..b", "-a.b", "a_b.c", "a/b", "a" * 64 + ".com"):
        with pytest.raises(newkey.UsageError):
            newkey.normalize_domain(bad)


def test_chgrp_refused_warns_and_keeps_key(tmp_path, monkeypatch, capsys):
    """A non-root user cannot give the key to a group he is not in (EPERM):
    warning, the key is still written 0640."""
    def fchown(fd, uid, gid):
        raise PermissionError(1, "Operation not permitted")
    monkeypatch.setattr(os, "fchown", fchown)
    p = tmp_path / "k"
    newkey._write_atomic(str(p), b"key", 0o640, gid=12345)
    assert p.read_bytes() == b"key"
    assert stat.S_IMODE(p.stat().st_mode) == 0o640
    err = capsys.readouterr().err
    assert "warning: cannot give" in err and "Operation not permitted" in err


def _ec_key(qh):
    d = Path(qh) / "control/domainkeys/example.com"
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "ecparam", "-genkey", "-name", "prime256v1", "-noout",
                    "-out", str(d / "ec")], check=True, capture_output=True)


@pytest.mark.parametrize("args,setup,words", [
    (["-p", "-d", "example.com", "nosuch"], None, ["nosuch: no such key"]),
    (["-r", "-d", "example.com", "nosuch"], None, ["no key nosuch in "]),
    (["-g", "no-such-group", "-d", "example.com", "s1"], None, ["no such group 'no-such-group'"]),
    (["-p", "-d", "example.com", "ec"], _ec_key, ["unsupported PEM block 'EC PRIVATE KEY'"]),
    (["-d", "example.com", "s1"], "blocked", ["example.com"]),
])
def test_failures_are_plain_text(tmp_path, args, setup, words):
    """Messages a person reads carry no Python internals ([Errno 2], b'...',
    dict reprs, tracebacks), and the invoked name (issue 10)."""
    qh = tmp_path / "qh"
    (qh / "control").mkdir(parents=True)
    if setup == "blocked":              # a file where the domain directory should be
        (qh / "control/domainkeys").mkdir()
        (qh / "control/domainkeys/example.com").write_text("")
    elif setup:
        setup(qh)
    r = run(qh, *args)
    assert r.returncode == 1, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr
    assert r.stderr.startswith("dknewkey: "), r.stderr
    assert not re.search(r"""\bb'|\bb"|\[Errno|\{'|Traceback""", r.stderr), r.stderr


def test_qmail_dknewkey_says_its_name(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "bin" / "qmail-dknewkey"), "-p", "-d",
                        "example.com", "nosuch"], capture_output=True, text=True,
                       env=dict(os.environ, QMAILHOME=str(tmp_path), PYTHONPATH=str(REPO)))
    assert r.returncode == 1 and r.stderr.startswith("qmail-dknewkey: "), r.stderr


def test_qmailhome_unset_is_var_qmail_even_in_a_qmail_home(tmp_path, monkeypatch):
    """qmail-dknewkey(8) and dkimtestkey(8), ENVIRONMENT: QMAILHOME defaults to
    /var/qmail; unlike qmail-dkim they do not take the current directory for a
    qmail home. CONTROLDIR is relative to QMAILHOME, or absolute."""
    from qmail_dkim.tools import dkimtestkey
    (tmp_path / "control").mkdir()
    monkeypatch.chdir(tmp_path)
    assert newkey.controldir({}) == "/var/qmail/control"
    assert newkey.keydir({}, "example.com") == "/var/qmail/control/domainkeys/example.com"
    assert dkimtestkey._default_keyfiles({}, "example.com", "s") == [
        "/var/qmail/control/domainkeys/example.com/s", "/var/qmail/control/domainkeys/s"]
    env = {"QMAILHOME": "/q", "CONTROLDIR": "/etc/ctl"}
    assert newkey.controldir(env) == "/etc/ctl"
    assert newkey.controldir({"QMAILHOME": "/q", "CONTROLDIR": "c2"}) == "/q/c2"
    assert dkimtestkey._default_keyfiles(env, "d.example", "s")[1] == "/etc/ctl/domainkeys/s"
