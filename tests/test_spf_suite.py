"""The complete RFC 7208 test suite (../shared/corpora/spf-rfc7208, 203 cases)
against spf.check.check_host:

* every case through an in-memory DNS built from the scenario's zone data;
* every case again with the zone data served by NSD and asked through our
  own DNS client (dns.client), one NSD for the module, reloaded per scenario.

A case passes when the result is one of the suite's allowed results and,
for a fail with an ``explanation`` in the suite, the explanation is equal
(the default explanation is "DEFAULT", as the suite's drivers set it).
"""
import time

import pytest

from tests import spfsuite
from qmail_dkim.dns import client
from qmail_dkim.spf.check import check_host
from tests.realparts.nsd import NsdServer
from tests.realparts.tools import require_tool

PATH = spfsuite.suite_path()
if PATH is None:
    pytest.skip("../shared/corpora/spf-rfc7208/rfc7208-tests.yml is absent "
                "(CI has ../shared; set QMAIL_DKIM_SHARED to its folder)",
                allow_module_level=True)
pytest.importorskip("yaml", reason="PyYAML is a test dependency (pip install -e '.[test]')")

SCENARIOS = spfsuite.load(PATH)
CASES = spfsuite.cases(SCENARIOS)


def run_case(t, lookup, deadline):
    mailfrom, helo = t["mailfrom"], t["helo"]
    sender = mailfrom if mailfrom else "postmaster@" + helo
    domain = sender.rpartition("@")[2]
    r = check_host(t["host"], domain, sender, helo, lookup, deadline,
                   default_explanation="DEFAULT")
    want = t["result"] if isinstance(t["result"], list) else [t["result"]]
    why = "got %s (%s) want %s" % (r.result, r.problem or r.mechanism, want)
    ok = r.result in want
    if ok and r.result == "fail" and "explanation" in t:
        ok = r.explanation == t["explanation"]
        why = "explanation %r want %r" % (r.explanation, t["explanation"])
    return ok, why


def test_suite_size():
    assert len(CASES) == 203


def test_suite_in_memory():
    failed = []
    for i, name, t in CASES:
        ok, why = run_case(t, spfsuite.MemoryDns(SCENARIOS[i]["zonedata"]),
                           time.monotonic() + 10)
        if not ok:
            failed.append("%s: %s" % (name, why))
    passed = len(CASES) - len(failed)
    print("\nRFC 7208 suite, in-memory DNS: %d passed, %d failed" % (passed, len(failed)))
    assert not failed, "\n".join(failed)


@pytest.fixture(scope="module")
def nsd(tmp_path_factory):
    require_tool("nsd")
    ns = NsdServer({}, workdir=tmp_path_factory.mktemp("nsd-spfsuite"))
    zones, dead = spfsuite.nsd_zones(SCENARIOS[0]["zonedata"])
    ns.replace_zones(zones, dead)
    ns.start()
    yield ns
    ns.stop()


def test_suite_through_nsd(nsd):
    failed = []
    count = 0
    for i, sc in enumerate(SCENARIOS):
        zones, dead = spfsuite.nsd_zones(sc["zonedata"])
        nsd.replace_zones(zones, dead)
        lookup = client.spf_lookup({"DNSCACHEIP": nsd.dnscacheip}, timeout=2)
        for name, t in sc["tests"].items():
            count += 1
            ok, why = run_case(t, lookup, time.monotonic() + 10)
            if not ok:
                failed.append("%s: %s" % (name, why))
    passed = count - len(failed)
    print("\nRFC 7208 suite, NSD + dns.client: %d passed, %d failed" % (passed, len(failed)))
    assert count == 203
    assert not failed, "\n".join(failed)
