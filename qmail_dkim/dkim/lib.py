"""Importing dkimpy's building blocks without its start-up bill.

dkimpy's package __init__ imports dnspython's resolver (about 80 ms of
imports, through dkim.dnsplug), PyNaCl (10 ms), `logging` (threading,
traceback, string) and compiles a dozen regular expressions -- about 45 ms
in all on every message, while qmail starts one process per message
(qmail-dkimd(8), SPEED). The per-message path no longer needs dkimpy at all
(header and body canonicalization, RSA and tag lists are our own); tools,
qmail-dkimd's pure-Python RSA fallback and the tests still use its pieces.

So, unless the real package is already loaded, we register a bare `dkim`
package whose __path__ is dkimpy's directory: its submodules then import
normally without running __init__, and nothing of dkimpy is imported here.
A submodule is imported when the bare package is first asked for it
(dkim.canonicalization, dkim.crypto, dkim.util ...); any other attribute it
does not have (dkim.DKIM, dkim.verify, ... -- only tests ask) runs dkimpy's
__init__ into it, with a stand-in DNS plug-in (qmail-dkim does its own
bounded lookups in dns/txt.py). nacl() imports PyNaCl, for Ed25519 keys
only: importing this module for it costs nothing more.

    from qmail_dkim.dkim.lib import dkim      # dkim.canonicalization, dkim.crypto, ...
"""
import sys
import types


def _find_dkim_dir():
    import os
    for base in sys.path:
        init = os.path.join(base or ".", "dkim", "__init__.py")
        if os.path.isfile(init):
            return os.path.dirname(init)
    raise ImportError("dkimpy is not installed (pip install dkimpy)")


def _bare_package():
    path = _find_dkim_dir()
    mod = types.ModuleType("dkim")
    mod.__path__ = [path]
    mod.__file__ = path + "/__init__.py"
    mod.__package__ = "dkim"
    state = {"loading": False}

    def __getattr__(name):
        if name.startswith("__"):
            raise AttributeError(name)
        if name.isidentifier() and _is_submodule(path, name):
            __import__("dkim." + name)          # sets the attribute too
            return sys.modules["dkim." + name]
        if state["loading"]:
            raise AttributeError(name)
        state["loading"] = True
        _stand_in_dnsplug()
        with open(mod.__file__, "rb") as f:
            code = compile(f.read(), mod.__file__, "exec")
        exec(code, mod.__dict__)            # the real __init__, into this module
        if name in mod.__dict__:
            return mod.__dict__[name]
        raise AttributeError(name)

    mod.__getattr__ = __getattr__
    return mod


def _is_submodule(path, name):
    import os
    return os.path.isfile(os.path.join(path, name + ".py")) or \
        os.path.isfile(os.path.join(path, name, "__init__.py"))


def _stand_in_dnsplug():
    if "dkim.dnsplug" in sys.modules:
        return
    plug = types.ModuleType("dkim.dnsplug")

    def get_txt(name, timeout=5):
        raise RuntimeError("qmail-dkim does its DNS lookups in qmail_dkim.dns.txt")

    plug.get_txt = get_txt
    sys.modules["dkim.dnsplug"] = plug


if "dkim" not in sys.modules:
    sys.modules["dkim"] = _bare_package()
dkim = sys.modules["dkim"]


def nacl():
    """PyNaCl's signing module, imported now; also handed to dkimpy."""
    import nacl.encoding
    import nacl.exceptions
    import nacl.signing
    dkim.__dict__.setdefault("nacl", sys.modules["nacl"])
    return nacl.signing
