"""What a sign run imports (issue 13): qmail starts one qmail-dkim per
message, so every module the sign path imports is paid on every message
(qmail-dkimd(8), SPEED). The sign path -- mode, config, spool, envelope,
child, logline, sign/*, dkim/{message,fromaddr,headerhash,bodyhash,signer,
text} -- uses the interpreter's built-in modules instead of these.

The run is bin/qmail-dkim itself, started with -S the way an installed one
is, from a hand-made venv whose .pth holds plain paths (this repository and
the test venv's site-packages): bin/qmail-dkim then adds them without
running `site`, as in production. (The test venv's own `site` would run the
editable install's finder, which imports re, enum and functools first, and
hide them.) An audit hook records every module loaded and which modules'
code was running when it was: that is how imports made by dkim/privkey.py
are told apart.
"""
import os
import sys
from pathlib import Path

import pytest

import qmail_dkim
from tests import qdkim
from tests.realparts import keys

REPO = Path(qmail_dkim.__file__).resolve().parent.parent
SCRIPT = REPO / "bin" / "qmail-dkim"

FORBIDDEN = frozenset([
    "re", "enum", "functools", "collections", "hashlib", "_hashlib", "base64",
    "struct",                   # the Python wrapper; _struct (built in) is fine
    "dkim",                     # dkimpy, and so every dkim.* submodule
    "typing", "dataclasses", "logging"])

# dkim/privkey.py reads keys and signs in Python with none of these (helper
# "rsa", issue 13). Where OpenSSL pays (RSA-3072 and up, or RSA-2048 once
# libcrypto is loaded for a large body) it imports ctypes (dkim/ossl.py),
# which imports `struct`: the large-body run below does.
ALLOWED_VIA_PRIVKEY = frozenset(["struct"])
PRIVKEY = "qmail_dkim.dkim.privkey"

# -S: no site. Records "module<TAB>the modules whose code was running" for
# each module loaded from now on, then runs the script as the interpreter
# would (argv[0] the script).
DRIVER = r"""
import os, sys
out = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
os.write(out, ("startup\t" + ",".join(sorted(sys.modules)) + "\n").encode())

def hook(event, args):
    if event != "import":
        return
    names = []
    f = sys._getframe(1)
    while f is not None:
        n = f.f_globals.get("__name__") or "?"
        if not n.startswith(("importlib", "_frozen_importlib")) and n not in names:
            names.append(n)
        f = f.f_back
    os.write(out, ("%s\t%s\n" % (args[0], ",".join(names))).encode())

sys.addaudithook(hook)
""" + qdkim.RUN_SCRIPT


def _site_packages():
    import dkim
    return str(Path(dkim.__file__).resolve().parent.parent)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """A venv by hand: pyvenv.cfg, bin/python3 (the base interpreter) and a
    .pth of plain paths, as bin/qmail-dkim's _venv_paths() reads them."""
    v = tmp_path_factory.mktemp("venv")
    base = os.path.realpath(sys.executable)
    (v / "pyvenv.cfg").write_text("home = %s\ninclude-system-site-packages = false\n"
                                  % os.path.dirname(base))
    (v / "bin").mkdir()
    (v / "bin" / "python3").symlink_to(base)
    sp = v / "lib" / ("python%d.%d" % sys.version_info[:2]) / "site-packages"
    sp.mkdir(parents=True)
    (sp / "qmail_dkim_test.pth").write_text("%s\n%s\n" % (REPO, _site_packages()))
    return v


def sign_imports(venv, home, tmp_path, body_octets, env=None):
    """One sign run under the driver -> (run, startup modules,
    {module loaded: [the modules whose code was running]})."""
    rec = tmp_path / ("imports-%d" % body_octets)
    line = b"The quick brown fox jumps over the lazy dog, \t twice.  \n"
    msg = qdkim.SAMPLE + line * (body_octets // len(line))
    r = qdkim.run(home, dict({"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"},
                             **(env or {})),
                  message=msg,
                  command=[str(venv / "bin" / "python3"), "-S", "-c", DRIVER, str(rec),
                           str(SCRIPT)])
    assert r.rc == 0, r.stderr
    assert r.field("result") == "signed", r.log
    return (r,) + read_record(rec)


def read_record(rec):
    """The driver's record -> (startup modules, {module loaded: [the modules
    whose code was running, innermost first]})."""
    startup, loaded = None, {}
    for entry in rec.read_text().splitlines():
        name, chain = entry.split("\t")
        if name == "startup":
            startup = set(chain.split(","))
        else:
            loaded.setdefault(name, chain.split(","))
    return startup, loaded


def forbidden(name):
    return name in FORBIDDEN or name.split(".")[0] == "dkim"


@pytest.mark.parametrize("env", [None, {"DKIMSIGNOPTIONS": "-c u -t -l -q -h"}])
def test_sign_run_imports_none_of_the_costly_modules(venv, home, tmp_path, env):
    r, startup, loaded = sign_imports(venv, home, tmp_path, 2048, env)
    # the hook saw the sign path itself (else this test proves nothing)
    assert {"qmail_dkim.main", "qmail_dkim.dkim.message", "qmail_dkim.dkim.headerhash",
            "qmail_dkim.dkim.bodyhash", "qmail_dkim.dkim.signer"} <= set(loaded), sorted(loaded)
    assert not [m for m in startup if forbidden(m)]
    bad = {m: chain for m, chain in loaded.items()
           if forbidden(m) and not (PRIVKEY in chain and m.split(".")[0] in ALLOWED_VIA_PRIVKEY)}
    assert bad == {}, "imported on the sign path (module: importers, innermost first): %r" % bad


def test_large_body_loads_openssl_only_for_its_hash(venv, home, tmp_path):
    """A body past bodyhash.SMALL_BODY is hashed by OpenSSL (_hashlib):
    10-15 times faster per octet, worth its load there. Still no hashlib."""
    from qmail_dkim.dkim.bodyhash import SMALL_BODY
    r, startup, loaded = sign_imports(venv, home, tmp_path, SMALL_BODY + 65536)
    assert "qmail_dkim.dkim.bodyhash" in loaded["_hashlib"]
    bad = {m: chain for m, chain in loaded.items()
           if forbidden(m) and m != "_hashlib"
           and not (PRIVKEY in chain and m.split(".")[0] in ALLOWED_VIA_PRIVKEY)}
    assert bad == {}, bad


def test_ed25519_sign_goes_through_openssl_not_pynacl(venv, home, tmp_path):
    """Ed25519 signs through OpenSSL (dkim/ossl.py: ctypes, which brings
    struct), not PyNaCl, whose import alone was ~30 ms per message."""
    keys.install(home, keys.cached_ed25519_key(), "example.com", "ed", fmt="pkcs8")
    r, startup, loaded = sign_imports(venv, home, tmp_path, 2048,
                                      {"DKIMKEY": "control/domainkeys/%/ed"})
    assert r.field("a") == "ed25519-sha256" and "qmail_dkim.dkim.ossl" in loaded
    assert not [m for m in loaded if m.split(".")[0] in ("nacl", "_cffi_backend", "dkim")], sorted(loaded)
    bad = {m: chain for m, chain in loaded.items()
           if forbidden(m) and not (PRIVKEY in chain and m.split(".")[0] in ALLOWED_VIA_PRIVKEY)}
    assert bad == {}, bad
