"""The complete RFC 7208 test suite (../shared/corpora/spf-rfc7208, 203 cases)
against spf.check.check_host:

* every case through an in-memory DNS built from the scenario's zone data;
* every case again with the zone data served by NSD and asked through our
  own DNS client (dns.client), one NSD for the module, reloaded per scenario;
* through the same NSD, pyspf (on dnspython) and Perl Mail::SPF (on
  Net::DNS) as oracles: their result must equal ours except for the listed,
  explained differences (where ours is the suite's expected result).

A case passes when the result is one of the suite's allowed results and,
for a fail with an ``explanation`` in the suite, the explanation is equal
(the default explanation is "DEFAULT", as the suite's drivers set it).
"""
import time

import pytest

from tests import spfsuite
from qmail_dkim.dns import client
from qmail_dkim.dns.txt import DnsSettings
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
    return ok, why, r.result


def test_suite_size():
    assert len(CASES) == 203


def test_suite_in_memory():
    failed = []
    for i, name, t in CASES:
        ok, why, _ = run_case(t, spfsuite.MemoryDns(SCENARIOS[i]["zonedata"]),
                              time.monotonic() + 10)
        if not ok:
            failed.append("%s: %s" % (name, why))
    passed = len(CASES) - len(failed)
    print("\nRFC 7208 suite, in-memory DNS: %d passed, %d failed" % (passed, len(failed)))
    assert not failed, "\n".join(failed)


# Where an oracle's result differs from ours on the suite through NSD, and why
# (ours is the suite's expected result in every one of these).
PYSPF_DIFFERS = {
    "ptr-cname-loop": "dnspython raises on NSD's answer for the CNAME loop: pyspf temperror "
                      "(its own in-memory driver gives neutral)",
}
MAIL_SPF_DIFFERS = {
    "toolonglabel": "Net::DNS dies on a label over 63 octets (no result)",
    "emptylabel": "Net::DNS dies on an empty label (no result)",
    "invalid-domain-empty-label": "Net::DNS dies on an empty label (no result)",
    "cidr6-0-ip4": "Mail::SPF matches an IPv4 client against ip6:::1.1.1.1/0 (pass)",
    "cidr6-ip4": "Mail::SPF matches an IPv4-mapped client against ip6:::1.1.1.1/0 (pass)",
    "mx-limit": "RFC 4408: first 10 of 11 MX names (neutral); RFC 7208 4.6.4: permerror",
}
PL = __import__("pathlib").Path(__file__).resolve().parent / "realparts" / "mail-spf-check.pl"


@pytest.fixture(scope="module")
def nsd_results(tmp_path_factory):
    """Every case through NSD: ours (dns.client), pyspf (dnspython) and Perl
    Mail::SPF (Net::DNS), one NSD reloaded per scenario.
    -> [(name, test, (ok, why), ours, pyspf, mail_spf)]"""
    import subprocess
    import warnings
    import dns.resolver
    import spf as pyspf
    require_tool("nsd")
    require_tool("perl")
    ns = NsdServer({}, workdir=tmp_path_factory.mktemp("nsd-spfsuite"))
    zones, dead = spfsuite.nsd_zones(SCENARIOS[0]["zonedata"])
    ns.replace_zones(zones, dead)
    ns.start()
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ["127.0.0.1"]
    res.lifetime = res.timeout = 2
    saved = dns.resolver.default_resolver
    out = []
    try:
        res.port = ns.port
        dns.resolver.default_resolver = res
        for sc in SCENARIOS:
            zones, dead = spfsuite.nsd_zones(sc["zonedata"])
            ns.replace_zones(zones, dead)
            lookup = client.spf_lookup(DnsSettings(ns.dnscacheip), timeout=2)
            rows = []
            for name, t in sc["tests"].items():
                sender = t["mailfrom"] or "postmaster@" + t["helo"]
                ok, why, ours = run_case(t, lookup, time.monotonic() + 10)
                verdict = (ok, why)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)
                    theirs = pyspf.check2(i=t["host"], s=sender, h=t["helo"], querytime=10)[0]
                rows.append([name, t, verdict, ours, theirs, sender])
            data = "".join("%s\t%s\t%s\n" % (r[1]["host"], r[5], r[1]["helo"]) for r in rows)
            p = subprocess.run(["perl", str(PL), str(ns.port), "2"], input=data.encode(),
                               capture_output=True, timeout=300)
            assert p.returncode == 0, p.stderr.decode(errors="replace")
            perl = p.stdout.decode().splitlines()
            assert len(perl) == len(rows), p.stdout.decode() + p.stderr.decode()
            for r, m in zip(rows, perl):
                out.append((r[0], r[1], r[2], r[3], r[4], m))
    finally:
        dns.resolver.default_resolver = saved
        ns.stop()
    return out


def test_suite_through_nsd(nsd_results):
    failed = ["%s: %s" % (name, why) for name, _, (ok, why), *_ in nsd_results if not ok]
    print("\nRFC 7208 suite, NSD + dns.client: %d passed, %d failed"
          % (len(nsd_results) - len(failed), len(failed)))
    assert len(nsd_results) == 203
    assert not failed, "\n".join(failed)


@pytest.mark.parametrize("oracle,col,differs", [("pyspf", 4, PYSPF_DIFFERS),
                                                ("Mail::SPF", 5, MAIL_SPF_DIFFERS)])
def test_suite_oracles_agree(nsd_results, oracle, col, differs):
    agree, diffs, known = 0, [], 0
    for row in nsd_results:
        name, ours, theirs = row[0], row[3], row[col]
        if ours == theirs:
            agree += 1
            assert name not in differs, "%s now agrees: drop it from the list" % name
        elif name in differs:
            known += 1
        else:
            diffs.append("%s: ours %s, %s %s" % (name, ours, oracle, theirs))
    print("\nRFC 7208 suite through NSD: %s agrees on %d of %d (%d known differences)"
          % (oracle, agree, len(nsd_results), known))
    assert not diffs, "\n".join(diffs)
    assert known == len(differs)
