"""Shared pytest fixtures: real parts (NSD, the qmail-queue double, tcpserver +
mailfront, independent DKIM implementations). Helpers live in tests/realparts/;
import them as ``from realparts import nsd, keys, ...`` (tests/ is on sys.path).

Fixtures
  require_tool          function: require_tool("nsd", "mailauth", ...) -> paths; skips,
                        or fails when QMAIL_DKIM_REQUIRE_TOOLS=1 (CI)
  rsa_key / rsa1024_key / ed25519_key    session-cached TestKey objects
  nsd_factory           function(zones=None, servfail_zones=()) -> started NsdServer,
                        stopped at test end
  nsd_server            session NsdServer with zone example.com holding
                        sel._domainkey (rsa_key) and ed._domainkey (ed25519_key); tests
                        must not change it (use nsd_factory for their own zones)
  blackhole             a UDP port that never answers (Blackhole)
  dead_port             int: a closed UDP port
  queue_double          a fresh QueueDouble in tmp_path
  qmail_home            tmp_path/"qmail": a QMAILHOME with control/ and bin/
  smtp_front_factory    function(rules, env=None, plugins=("accept",)) -> started SmtpFront
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

_TESTS = Path(__file__).resolve().parent
if str(_TESTS) not in sys.path:
    sys.path.insert(0, str(_TESTS))

# One copy of the helpers whether tests/ is a package (tests.realparts) or not
# (realparts): alias the package and its modules under both names.
import importlib  # noqa: E402

_PKG = (__package__ + ".realparts") if __package__ else "realparts"
_SUBMODULES = ("tools", "keys", "nsd", "queue_double", "smtp", "verifiers")
_rp = importlib.import_module(_PKG)
for _m in _SUBMODULES:
    _mod = importlib.import_module(f"{_PKG}.{_m}")
    sys.modules.setdefault(f"realparts.{_m}", _mod)
    if __package__:
        sys.modules.setdefault(f"{__package__}.realparts.{_m}", _mod)
sys.modules.setdefault("realparts", _rp)

from realparts import keys as _keys  # noqa: E402
from realparts.nsd import Blackhole, NsdServer, dead_udp_port, txt_rr  # noqa: E402
from realparts.queue_double import QueueDouble  # noqa: E402
from realparts.smtp import SmtpFront  # noqa: E402
from realparts.tools import require_tool as _require_tool  # noqa: E402


@pytest.fixture(scope="session")
def require_tool():
    return _require_tool


@pytest.fixture(scope="session")
def rsa_key():
    return _keys.cached_rsa_key(2048)


@pytest.fixture(scope="session")
def rsa1024_key():
    return _keys.cached_rsa_key(1024)


@pytest.fixture(scope="session")
def ed25519_key():
    return _keys.cached_ed25519_key()


@pytest.fixture
def nsd_factory(tmp_path_factory):
    started: list[NsdServer] = []

    def make(zones=None, servfail_zones=()):
        _require_tool("nsd")
        ns = NsdServer(zones, servfail_zones=servfail_zones,
                       workdir=tmp_path_factory.mktemp("nsd"))
        started.append(ns)
        return ns.start()

    yield make
    for ns in started:
        ns.stop()


@pytest.fixture(scope="session")
def nsd_server(tmp_path_factory, rsa_key, ed25519_key):
    _require_tool("nsd")
    zone = "\n".join([txt_rr("sel._domainkey", rsa_key.dns_record()),
                      txt_rr("ed._domainkey", ed25519_key.dns_record())])
    ns = NsdServer({"example.com": zone}, workdir=tmp_path_factory.mktemp("nsd-session"))
    ns.start()
    yield ns
    ns.stop()


@pytest.fixture
def blackhole():
    with Blackhole() as b:
        yield b


@pytest.fixture
def dead_port():
    return dead_udp_port()


@pytest.fixture
def queue_double(tmp_path):
    return QueueDouble(tmp_path / "qq")


@pytest.fixture
def qmail_home(tmp_path):
    home = tmp_path / "qmail"
    (home / "control").mkdir(parents=True)
    (home / "bin").mkdir()
    return home


@pytest.fixture
def smtp_front_factory(tmp_path_factory):
    started: list[SmtpFront] = []

    def make(rules, env=None, plugins=("accept",)):
        _require_tool("tcpserver", "tcprules", "mailfront")
        f = SmtpFront(rules, env, plugins=plugins, workdir=tmp_path_factory.mktemp("smtp"))
        started.append(f)
        return f.start()

    yield make
    for f in started:
        f.stop()
