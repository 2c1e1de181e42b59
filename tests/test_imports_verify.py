"""What a verify run imports (issue 13): qmail starts one qmail-dkim per
message, so every module the verify path imports is paid on every message
(qmail-dkimd(8), SPEED). The verify path -- verify/*, dkim/{verifier,
keyrecord}, dns/*, and with DMARCVERIFY spf/* and dmarc/*, with ARC fields
arc/* -- uses built-in C modules (_socket, _struct, binascii) and plain
string scanning instead of the modules in FORBIDDEN.

Real runs of bin/qmail-dkim under -S from a venv of plain .pth paths, with
the audit hook of tests/test_imports_sign.py recording each module loaded
and whose code was running: the key from $SELECTOR_DATA and from NSD, with
DMARCVERIFY (SPF and DMARC asked of NSD), and a message with an ARC set.
"""
import pytest

from tests import qdkim
from tests.arcseal import seal
from tests.realparts.keys import cached_rsa_key
from tests.realparts.nsd import txt_rr
from tests.test_imports_sign import DRIVER, SCRIPT, read_record, venv  # noqa: F401 - venv is a fixture

FORBIDDEN = frozenset([
    "logging", "re", "enum", "functools", "collections", "hashlib", "_hashlib",
    "socket", "selectors",      # _socket (built in) is fine
    "base64",                   # binascii is fine
    "struct",                   # the Python wrapper; _struct (built in) is fine
    "threading", "traceback", "typing", "dataclasses",
    "dkim"])                    # dkimpy, and so every dkim.* submodule


RECORD = cached_rsa_key(2048).dns_record()      # make_home's signing key (example.com/default)


def forbidden(name):
    return name.split(".")[0] in FORBIDDEN


def offenders(loaded):
    """{module: importers} of the forbidden modules not explained above."""
    return {m: chain for m, chain in loaded.items() if forbidden(m)}


@pytest.fixture(scope="module")
def vhome(home_factory):
    """A QMAILHOME as qmail has it (control/me: the authserv-id) and a
    message signed by qmail-dkim with its key."""
    h = home_factory("verify-imports")
    (h / "control" / "me").write_text("mx.example.net\n")
    r = qdkim.run(h, {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/default"})
    assert r.rc == 0 and r.field("result") == "signed", r.stderr
    return h, r.msg


@pytest.fixture(scope="module")
def ns(nsd_factory_module):
    """example.com: the key, a DMARC record and SPF for 127.0.0.1."""
    zone = "\n".join([txt_rr("default._domainkey", RECORD),
                      txt_rr("_dmarc", "v=DMARC1; p=reject"),
                      txt_rr("@", "v=spf1 ip4:127.0.0.1 -all")])
    return nsd_factory_module({"example.com": zone})


@pytest.fixture(scope="module")
def nsd_factory_module(tmp_path_factory):
    from tests.realparts.nsd import NsdServer
    from tests.realparts.tools import require_tool
    started = []

    def make(zones):
        require_tool("nsd")
        s = NsdServer(zones, workdir=tmp_path_factory.mktemp("nsd-imports"))
        started.append(s)
        return s.start()
    yield make
    for s in started:
        s.stop()


def verify_imports(venv, home, tmp_path, message, env, name):  # noqa: F811
    """One verify run under the driver -> (run, startup modules,
    {module loaded: [the modules whose code was running, innermost first]})."""
    rec = tmp_path / ("imports-%s" % name)
    r = qdkim.run(home, dict({"DKIMVERIFY": "FGHIKLMNOQRTUVWjp"}, **env), message=message,
                  command=[str(venv / "bin" / "python3"), "-S", "-c", DRIVER, str(rec),
                           str(SCRIPT)])
    assert r.rc == 0, r.stderr
    startup, loaded = read_record(rec)
    assert not [m for m in startup if forbidden(m)], startup
    return r, loaded


VERIFY_PATH = {"qmail_dkim.verify.run", "qmail_dkim.dkim.verifier", "qmail_dkim.dkim.keyrecord",
               "qmail_dkim.dkim.headerhash", "qmail_dkim.dkim.bodyhash"}


def test_selector_data(venv, vhome, tmp_path):  # noqa: F811
    home, signed = vhome
    r, loaded = verify_imports(venv, home, tmp_path, signed, {"SELECTOR_DATA": RECORD}, "sd")
    assert r.field("dkim") == "pass", r.log
    assert VERIFY_PATH <= set(loaded), sorted(loaded)     # the hook saw the path
    assert not [m for m in loaded if m.startswith("qmail_dkim.arc")]   # no ARC fields
    assert offenders(loaded) == {}, "imported on the verify path: %r" % offenders(loaded)


def test_key_from_dns(venv, vhome, ns, tmp_path):  # noqa: F811
    home, signed = vhome
    r, loaded = verify_imports(venv, home, tmp_path, signed, {"DNSCACHEIP": ns.dnscacheip}, "dns")
    assert r.field("dkim") == "pass", r.log
    assert VERIFY_PATH | {"qmail_dkim.dns.txt"} <= set(loaded), sorted(loaded)
    assert offenders(loaded) == {}, "imported on the verify path: %r" % offenders(loaded)


def test_dmarcverify(venv, vhome, ns, tmp_path):  # noqa: F811
    home, signed = vhome
    env = {"DNSCACHEIP": ns.dnscacheip, "DMARCVERIFY": "Rt", "TCPREMOTEIP": "127.0.0.1"}
    r, loaded = verify_imports(venv, home, tmp_path, signed, env, "dmarc")
    assert (r.field("dkim"), r.field("spf"), r.field("dmarc")) == ("pass", "pass", "pass"), r.log
    assert {"qmail_dkim.verify.dmarcverify", "qmail_dkim.spf.check", "qmail_dkim.dmarc.evaluate",
            "qmail_dkim.dns.client"} <= set(loaded), sorted(loaded)
    assert offenders(loaded) == {}, "imported on the verify path: %r" % offenders(loaded)


def test_arc(venv, vhome, tmp_path):  # noqa: F811
    """ARC fields: arc/ is loaded (only then) and imports nothing forbidden
    either. The sealer's key is the signer's, so $SELECTOR_DATA serves both."""
    home, signed = vhome
    sealed = seal(signed, cached_rsa_key(2048).private, b"lists.example.org",
                  results="spf=pass smtp.mailfrom=example.com; dkim=pass header.d=example.com")
    r, loaded = verify_imports(venv, home, tmp_path, sealed, {"SELECTOR_DATA": RECORD}, "arc")
    assert r.field("dkim") == "pass" and r.field("arc") == "pass", r.log
    assert {"qmail_dkim.arc.chain", "qmail_dkim.arc.aar"} <= set(loaded), sorted(loaded)
    assert offenders(loaded) == {}, "imported on the verify path: %r" % offenders(loaded)


# The runs above see a module's first import only, and only on the branches
# those messages take. The source of the verify path's own modules, lazy
# imports included, must name none of them.
VERIFY_MODULES = ["qmail_dkim/dkim/verifier.py", "qmail_dkim/dkim/keyrecord.py", "qmail_dkim/config.py"] + [
    "qmail_dkim/%s/*.py" % d for d in ("verify", "dns", "spf", "dmarc", "arc")]


def _named_imports(path):
    import ast
    tree = ast.parse(path.read_bytes(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, node.lineno
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            yield node.module, node.lineno


def test_verify_modules_name_no_forbidden_import():
    from pathlib import Path
    root = Path(SCRIPT).parent.parent
    files = [p for pattern in VERIFY_MODULES for p in sorted(root.glob(pattern))]
    assert len(files) > 20, files
    bad = ["%s:%d imports %s" % (p.relative_to(root), line, name)
           for p in files for name, line in _named_imports(p) if forbidden(name)]
    assert bad == [], "\n".join(bad)


def test_ed25519(venv, vhome, tmp_path):  # noqa: F811
    """An Ed25519 signature: verified by dkim/verifier.py's own RFC 8032
    code, so PyNaCl (cffi, libsodium, typing, re...) is not loaded either."""
    from tests.realparts.keys import cached_ed25519_key, install
    home, _ = vhome
    key = cached_ed25519_key()
    install(home, key, "example.com", "ed")
    r = qdkim.run(home, {"RELAYCLIENT": "", "DKIMKEY": "control/domainkeys/%/ed"})
    assert r.rc == 0 and r.field("result") == "signed", r.stderr
    assert b"a=ed25519-sha256" in r.msg.split(b"\n\n")[0]
    r, loaded = verify_imports(venv, home, tmp_path, r.msg,
                               {"SELECTOR_DATA": key.dns_record()}, "ed25519")
    assert r.field("dkim") == "pass", r.log
    assert VERIFY_PATH <= set(loaded), sorted(loaded)
    assert not [m for m in loaded if m.split(".")[0] in ("nacl", "_cffi_backend")]
    assert offenders(loaded) == {}, "imported on the verify path: %r" % offenders(loaded)
