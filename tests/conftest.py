"""Shared pytest fixtures: real parts (NSD, the qmail-queue double, tcpserver +
mailfront, independent DKIM implementations). Helpers live in tests/realparts/;
tests/ is a package with one import root: ``from tests.realparts import nsd, keys``,
``from tests import qdkim``.

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
  home                  tmp_path/"qmail": a QMAILHOME with control/, bin/, tmp/ and
                        control/domainkeys/example.com/default (rsa_key, PKCS#1)
  home_factory          session: home_factory(name) -> such a home (for wider scopes);
                        both are made by tests.qdkim.make_home(path)
  smtp_front_factory    function(rules, env=None, plugins=("accept",)) -> started SmtpFront
"""
from __future__ import annotations

import pytest

from tests import profiles
from tests.qdkim import make_home
from tests.realparts import keys as _keys
from tests.realparts.nsd import Blackhole, NsdServer, dead_udp_port, txt_rr
from tests.realparts.queue_double import QueueDouble
from tests.realparts.smtp import SmtpFront
from tests.realparts.tools import require_tool as _require_tool

# Hypothesis: the "ci" profile unless QMAIL_DKIM_HYPOTHESIS=deep (tests/profiles.py).
HYPOTHESIS_PROFILE = profiles.register_and_load()


def pytest_report_header(config):
    return "hypothesis profile: %s (%s=deep for the long search)" % (HYPOTHESIS_PROFILE,
                                                                      profiles.ENV)


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
def fake():
    """fake(handler) starts a tests/fakedns.FakeDNS; all are closed after the test."""
    from tests.fakedns import FakeDNS
    servers = []

    def make(handler):
        s = FakeDNS(handler)
        servers.append(s)
        return s
    yield make
    for s in servers:
        s.close()


@pytest.fixture
def queue_double(tmp_path):
    return QueueDouble(tmp_path / "qq")


@pytest.fixture
def home(tmp_path):
    return make_home(tmp_path / "qmail")


@pytest.fixture(scope="session")
def home_factory(tmp_path_factory):
    """For module- or session-scoped fixtures: home_factory("name") -> a fresh home."""
    return lambda name="qmail": make_home(tmp_path_factory.mktemp(name))


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
