"""Import dkimpy for its building blocks, without its DNS plug-in.

dkimpy's package __init__ imports dkim.dnsplug, which imports dnspython's
resolver (about 80 ms of imports), and PyNaCl (about 10 ms). qmail starts one
process per message and the signing path never looks anything up in DNS, so we
register a stand-in dnsplug before the import. dkimpy's own get_txt is never
called by qmail-dkim (verification does its own bounded lookups, dnstxt.py);
the stand-in raises if something calls it anyway. PyNaCl is imported on demand
by nacl() for Ed25519 keys only.

    from qmail_dkim.dkimlib import dkim
"""
import sys
import types


def _install_stand_ins():
    if "dkim" in sys.modules:          # already imported (e.g. by a test)
        return
    plug = types.ModuleType("dkim.dnsplug")

    def get_txt(name, timeout=5):
        raise RuntimeError("qmail-dkim does its DNS lookups in qmail_dkim.dnstxt")

    plug.get_txt = get_txt
    sys.modules["dkim.dnsplug"] = plug
    # PyNaCl and authres (ARC only) are optional imports in dkimpy: a None
    # entry makes "import nacl.signing" raise ImportError, which dkimpy
    # tolerates. nacl() below undoes this when an Ed25519 key needs it.
    for name in ("nacl", "authres"):
        if name not in sys.modules:
            sys.modules[name] = None


_install_stand_ins()
import dkim  # noqa: E402
import dkim.canonicalization  # noqa: E402,F401
import dkim.crypto  # noqa: E402,F401
import dkim.util  # noqa: E402,F401


def nacl():
    """PyNaCl's signing module, imported now; also handed to dkimpy."""
    if sys.modules.get("nacl", 1) is None:
        del sys.modules["nacl"]
    import nacl.encoding
    import nacl.exceptions
    import nacl.signing
    dkim.nacl = sys.modules["nacl"]
    return nacl.signing
