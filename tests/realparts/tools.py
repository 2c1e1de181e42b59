"""Locating the external programs the real-parts tests drive.

``find_tool(name)`` returns an absolute path or None.  ``missing_tools(*names)``
returns a list of human-readable reasons for those that are absent.  The pytest
side (tests/conftest.py: ``require_tool``) turns a missing tool into a skip, or
into a failure when ``QMAIL_DKIM_REQUIRE_TOOLS=1`` (CI must not silently skip).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

# Debian puts daemons in sbin, which is not on a non-root PATH.
_SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def _which(prog: str) -> str | None:
    p = shutil.which(prog)
    if p:
        return p
    for d in _SBIN:
        cand = os.path.join(d, prog)
        if os.access(cand, os.X_OK):
            return cand
    return None


def _mailauth() -> str | None:
    env = os.environ.get("MAILAUTH")
    if env:
        return env if os.access(env, os.X_OK) else None
    cand = REPO / ".ci" / "node" / "node_modules" / ".bin" / "mailauth"
    if os.access(cand, os.X_OK):
        return str(cand)
    return shutil.which("mailauth")


@functools.lru_cache(maxsize=None)
def _perl_has(module: str) -> bool:
    perl = _which("perl")
    if not perl:
        return False
    try:
        r = subprocess.run([perl, f"-M{module}", "-e", "1"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return r.returncode == 0


def find_tool(name: str) -> str | None:
    """Absolute path of a tool, or None.

    Names: nsd, tcpserver, tcprules, mailfront, opendkim-testmsg, node, perl,
    mailauth, perl-mail-dkim (returns perl's path if Mail::DKIM and Net::DNS load),
    perl-mail-dmarc (the same for Mail::DMARC::PurePerl),
    libopendkim (path of libopendkim.so.11), plus any other program name (PATH + sbin).
    """
    if name == "mailauth":
        return _mailauth()
    if name == "perl-mail-dkim":
        perl = _which("perl")
        if perl and _perl_has("Mail::DKIM::Verifier") and _perl_has("Net::DNS"):
            return perl
        return None
    if name == "perl-mail-dmarc":
        perl = _which("perl")
        if perl and _perl_has("Mail::DMARC::PurePerl") and _perl_has("Net::DNS"):
            return perl
        return None
    if name == "libopendkim":
        import ctypes.util
        for cand in ("/usr/lib/x86_64-linux-gnu/libopendkim.so.11",
                     "/usr/lib/aarch64-linux-gnu/libopendkim.so.11",
                     "/usr/lib/libopendkim.so.11"):
            if os.path.exists(cand):
                return cand
        found = ctypes.util.find_library("opendkim")
        return found
    return _which(name)


# Which Debian package / npm command provides each tool (for skip messages).
PROVIDERS = {
    "nsd": "apt-get install nsd",
    "tcpserver": "apt-get install ucspi-tcp",
    "tcprules": "apt-get install ucspi-tcp",
    "mailfront": "apt-get install mailfront",
    "svscan": "apt-get install daemontools",
    "svc": "apt-get install daemontools",
    "multilog": "apt-get install daemontools",
    "opendkim-testmsg": "apt-get install opendkim-tools",
    "libopendkim": "apt-get install libopendkim11 (pulled in by opendkim-tools)",
    "perl": "apt-get install perl",
    "perl-mail-dkim": "apt-get install libmail-dkim-perl libnet-dns-perl",
    "perl-mail-dmarc": "apt-get install libmail-dmarc-perl libnet-dns-perl",
    "node": "apt-get install nodejs (Node >= 18)",
    "mailauth": "npm install --prefix .ci/node mailauth@4.13.3 (or set MAILAUTH=/path/to/mailauth)",
}


def missing_tools(*names: str) -> list[str]:
    out = []
    for n in names:
        if not find_tool(n):
            out.append(f"{n} not found ({PROVIDERS.get(n, 'install it')})")
    return out


def require_tools_strict() -> bool:
    """True when QMAIL_DKIM_REQUIRE_TOOLS is set to a true value (CI)."""
    return os.environ.get("QMAIL_DKIM_REQUIRE_TOOLS", "") not in ("", "0", "no", "false")


def require_tool(*names: str) -> list[str]:
    """In a test: skip (or, with QMAIL_DKIM_REQUIRE_TOOLS=1, fail) unless every named
    tool is present. Returns the tools' paths."""
    import pytest
    missing = missing_tools(*names)
    if missing:
        reason = "; ".join(missing)
        if require_tools_strict():
            pytest.fail(f"required tool missing (QMAIL_DKIM_REQUIRE_TOOLS is set): {reason}",
                        pytrace=False)
        pytest.skip(reason)
    return [find_tool(n) for n in names]
