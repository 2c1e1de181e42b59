"""The ValiMail ARC validation suite (../shared/corpora/arc-validation, MIT)
through qmail-dkim's verify mode, key records served by NSD.

All cases run through verify.run in-process (the whole verify mode: header
fields, log fields); a subset -- per scenario the first case of each expected
result, and every chain ended by cv=fail -- also runs as a qmail-dkim process
with the qmail-queue double. One NSD serves every key record.

Expected results: the suite's cv "Pass" / "Fail" / "None"; an empty cv (the
three chains ended by an ARC-Seal with cv=fail, where the suite expects no
verdict of its own) is arc=fail for us (RFC 8617 5.2: a chain with a cv=fail
seal fails). "None" (no ARC fields) means no arc= result at all: mail without
ARC gets the header fields it always got. The messages carry fixed t= values
(12345): t= is not compared with the clock, so they validate as the suite
expects, now and later.
"""
import re

import pytest

from qmail_dkim import config
from qmail_dkim.verify import run as verify
from tests.realparts.corpora import corpus_path, skip_reason
from tests.realparts.nsd import NsdServer, txt_rr
from tests import qdkim

SUITE = ("arc-validation", "arc-draft-validation-tests.yml")
SUITE_CASES = 171
EXPECTED = {"pass": "pass", "fail": "fail", "none": None, "": "fail"}
_ARC_SPEC = re.compile(rb"\tarc=(\w+)")


def _load():
    path = corpus_path(*SUITE)
    if path is None:
        pytest.skip(skip_reason(*SUITE))
    import yaml
    cases, records = [], {}
    with open(path, "rb") as f:
        for scenario in yaml.safe_load_all(f):
            for name, value in scenario["txt-records"].items():
                assert records.get(name, value) == value, name
                records[name] = value
            for name, case in scenario["tests"].items():
                cv = str(case["cv"]).strip().lower()
                cases.append((scenario["description"].strip(), name,
                              case["message"].encode("utf-8"), EXPECTED[cv]))
    return cases, records


@pytest.fixture(scope="module")
def suite():
    return _load()


@pytest.fixture(scope="module")
def suite_dns(suite, tmp_path_factory, require_tool):
    require_tool("nsd")
    _, records = suite
    zones = {}
    for name, value in records.items():
        # names are <selector>._domainkey.<zone>; the zone is everything after _domainkey
        rel, zone = name.split("._domainkey.")
        zones.setdefault(zone, []).append(txt_rr(rel + "._domainkey", value))
    ns = NsdServer({z: "\n".join(rrs) for z, rrs in zones.items()},
                   workdir=tmp_path_factory.mktemp("nsd-arc"))
    ns.start()
    yield ns
    ns.stop()


def _arc_result(header_block):
    m = _ARC_SPEC.search(header_block)
    return m.group(1).decode() if m else None


def test_suite_has_every_case(suite):
    cases, records = suite
    assert len(cases) == SUITE_CASES
    assert len(records) == 7


def test_suite_in_process(suite, suite_dns, tmp_path, monkeypatch):
    """Every case through verify.run, DNS from NSD through our own client."""
    cases, _ = suite
    (tmp_path / "control").mkdir()
    monkeypatch.chdir(tmp_path)
    env = {"DNSCACHEIP": suite_dns.dnscacheip, "DKIMAUTHSERVID": "mx.test.example",
           "DKIMVERIFY": ""}
    wrong = []
    passed = 0
    for scenario, name, message, want in cases:
        sp = qdkim.spool_bytes(message, tmp_path)
        try:
            out = verify.run(config.VerifySettings(env), sp)
        finally:
            sp.close()
        got = _arc_result(out.prepend)
        log = dict(out.log)
        if got != want or log.get("arc") != want or out.exit_code is not None:
            wrong.append((scenario, name, want, got, log.get("arc.reason")))
        else:
            passed += 1
    assert wrong == [], "%d of %d wrong: %r" % (len(wrong), len(cases), wrong)
    assert passed == SUITE_CASES


def _subset(cases):
    seen = set()
    out = []
    for scenario, name, message, want in cases:
        key = (scenario, want)
        if key not in seen or name.endswith("_fail"):
            seen.add(key)
            out.append((scenario, name, message, want))
    return out


def test_suite_subset_through_the_process(suite, suite_dns, home):
    """qmail-dkim as qmail-smtpd runs it: the stored message carries our
    Authentication-Results with the suite's verdict; the log line says arc=."""
    cases, _ = suite
    subset = _subset(cases)
    assert len(subset) >= 20
    wrong = []
    for scenario, name, message, want in subset:
        r = qdkim.run(home, {"DNSCACHEIP": suite_dns.dnscacheip,
                                   "DKIMVERIFY": "", "DKIMAUTHSERVID": "mx.test.example"},
                      message=message)
        if r.rc != 0 or len(r.stored) != 1:
            wrong.append((name, "rc=%s" % r.rc, r.stderr[-300:]))
            continue
        stored = r.msg
        # our field is the one we put in front (continuation lines start with a tab)
        assert stored.startswith(b"DKIM-Status: "), stored[:200]
        block = stored[stored.find(b"\nAuthentication-Results: mx.test.example;") + 1:]
        ours = block[:re.search(rb"\n(?![\t ])", block).end()]
        got = _arc_result(ours)
        if got != want or r.field("arc") != want:
            wrong.append((name, want, got, r.field("arc"), r.field("arc.reason")))
        if not stored.endswith(message):
            wrong.append((name, "message altered"))
    assert wrong == [], wrong
    print("ARC suite through qmail-dkim processes: %d cases" % len(subset))
