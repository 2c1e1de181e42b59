"""qmail-dkim-check --ready DOMAIN (qmail-dkim-check(8), READINESS): a domain
set up right exits 0; each broken point is named on its line and in the
summary, exit 1; DNS that does not answer is exit 4. Zones served by NSD
(one root zone with every name, so that what is absent is NXDOMAIN)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.realparts import keys
from tests.realparts.nsd import NsdServer, txt_strings

CHECK = str(Path(sys.executable).parent / "qmail-dkim-check")
KEY = keys.cached_rsa_key(2048)
OTHER = keys.cached_rsa_key(2048, 7)
GOOD_DMARC = "v=DMARC1; p=reject; rua=mailto:dmarc@%s,mailto:agg@reports.example"
SPF = "v=spf1 ip4:127.0.0.0/29 -all"


def txt(name, value):
    return "%s. IN TXT %s" % (name, txt_strings(value))


def domain_records(d, key=KEY, spf=SPF, dmarc=GOOD_DMARC, publish_key=True):
    out = []
    if publish_key:
        out.append(txt("default._domainkey." + d, key.dns_record()))
    if spf:
        out.append(txt(d, spf))
    if dmarc:
        out.append(txt("_dmarc." + d, dmarc % d if "%s" in dmarc else dmarc))
    return out


def root_zone():
    rr = ["$ORIGIN .", "$TTL 300",
          ". IN SOA ns.root. hostmaster.root. 1 3600 600 86400 300",
          ". IN NS ns.root.", "ns.root. IN A 127.0.0.1"]
    rr += domain_records("good.example")
    rr += [txt("good.example._report._dmarc.reports.example", "v=DMARC1"),
           "2.0.0.127.in-addr.arpa. IN PTR mail.good.example.",
           "mail.good.example. IN A 127.0.0.2",
           "3.0.0.127.in-addr.arpa. IN PTR mail3.good.example.",
           "mail3.good.example. IN A 127.0.0.33",
           "9.0.0.127.in-addr.arpa. IN PTR mail9.good.example.",
           "mail9.good.example. IN A 127.0.0.9"]
    rr += domain_records("nokey.example", publish_key=False)
    rr += [txt("nokey.example._report._dmarc.reports.example", "v=DMARC1")]
    rr += domain_records("badkey.example", key=OTHER)
    rr += [txt("badkey.example._report._dmarc.reports.example", "v=DMARC1")]
    rr += domain_records("nospf.example", spf=None)
    rr += [txt("nospf.example._report._dmarc.reports.example", "v=DMARC1")]
    rr += domain_records("spfloop.example", spf="v=spf1 " + " ".join(
        "include:i%d.spfloop.example" % i for i in range(11)) + " -all")
    rr += [txt("i%d.spfloop.example" % i, "v=spf1 -all") for i in range(11)]
    rr += [txt("spfloop.example._report._dmarc.reports.example", "v=DMARC1")]
    rr += domain_records("nodmarc.example", dmarc=None)
    rr += domain_records("baddmarc.example", dmarc="v=DMARC1; p=bogus")
    rr += [txt("strict.good.example", SPF),
           txt("_dmarc.strict.good.example", "v=DMARC1; p=reject; adkim=s")]
    rr += domain_records("unauth.example", dmarc="v=DMARC1; p=quarantine; rua=mailto:x@reports2.example")
    return "\n".join(rr) + "\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory, home_factory, require_tool):
    require_tool("nsd")
    home = home_factory("ready")
    for d in ("good.example", "nokey.example", "badkey.example", "nospf.example",
              "spfloop.example", "nodmarc.example", "baddmarc.example", "unauth.example"):
        keys.install(home, KEY, d, "default")
    ns = NsdServer({".": root_zone()}, workdir=tmp_path_factory.mktemp("nsd-ready"))
    ns.start()
    yield home, ns
    ns.stop()


def ready(world, *args, dns=None):
    home, ns = world
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "QMAILHOME": str(home),
           "DNSCACHEIP": dns or ns.dnscacheip, "DKIMDNSTIMEOUT": "2"}
    r = subprocess.run([CHECK, "--ready"] + list(args), capture_output=True, text=True,
                       env=env, timeout=60)
    lines = r.stdout.splitlines()
    status = {l.split(":", 1)[0]: l.split(": ", 1)[1].split(" - ", 1)[0]
              for l in lines[1:-1] if ": " in l}
    return r.returncode, lines, status, r.stderr


def test_good_domain_exits_0(world):
    rc, lines, status, err = ready(world, "-i", "127.0.0.2", "good.example")
    assert rc == 0, "\n".join(lines) + err
    assert set(status.values()) == {"ok"}, lines
    assert set(status) == {"dkim", "dmarc", "alignment", "spf", "spf 127.0.0.2",
                           "rdns 127.0.0.2", "reports"}
    text = "\n".join(lines)
    assert ("dkim: ok - control/domainkeys/good.example/default (rsa 2048 bits) signs "
            "d=good.example s=default; default._domainkey.good.example publishes the matching "
            "public key") in text
    assert "p=reject sp=reject np=reject adkim=r aspf=r t=n; mail from good.example that " \
           "fails DMARC is rejected" in text
    assert 'spf: ok - "v=spf1 ip4:127.0.0.0/29 -all": 0 of 10 DNS lookups, 0 of 2 void' in text
    assert "rdns 127.0.0.2: ok - 127.0.0.2 -> mail.good.example -> 127.0.0.2" in text
    assert "agg@" not in text and "reports.example (authorised by " \
           "good.example._report._dmarc.reports.example)" in text
    assert lines[-1] == "ready: yes - good.example passes 7 of 7 checks"


def test_without_ip_the_ip_checks_are_skipped(world):
    rc, lines, status, _ = ready(world, "good.example")
    assert rc == 0 and status["spf IP"] == "skip" and status["rdns"] == "skip"
    assert lines[-1] == "ready: yes - good.example passes 5 of 7 checks (spf IP, rdns skipped)"


@pytest.mark.parametrize("args, failing, words", [
    (["nokey.example"], ["dkim"], "default._domainkey.nokey.example TXT: NXDOMAIN"),
    (["badkey.example"], ["dkim"], "does not match the private key"),
    (["nospf.example"], ["spf"], "publishes no v=spf1 record"),
    (["spfloop.example"], ["spf"], "DNS"),
    (["nodmarc.example"], ["dmarc"], "no DMARC record for nodmarc.example"),
    (["baddmarc.example"], ["dmarc"], "p=bogus"),
    (["strict.good.example"], ["alignment"], "strict alignment (adkim=s)"),
    (["unauth.example"], ["reports"], "reports2.example has not authorised reports"),
    (["-i", "127.0.0.3", "good.example"], ["rdns 127.0.0.3"], "disagree"),
    (["-i", "127.0.0.9", "good.example"], ["spf 127.0.0.9"], "fail"),
])
def test_each_broken_point_is_named(world, args, failing, words):
    rc, lines, status, err = ready(world, *args)
    assert rc == 1, "\n".join(lines) + err
    assert [k for k, v in status.items() if v == "FAIL"] == failing, lines
    bad = [l for l in lines if l.startswith(failing[0] + ": FAIL")]
    assert len(bad) == 1 and words in bad[0], lines
    assert lines[-1].startswith("ready: NO - failing: %s (1 of " % failing[0])


def test_dns_silent_is_exit_4(world, blackhole):
    rc, lines, status, _ = ready(world, "good.example", dns=blackhole.dnscacheip)
    assert rc == 4, lines
    assert status["dkim"] == "FAIL" and lines[-1].startswith("ready: NO")


def test_usage(world):
    assert ready(world)[0] == 64
    assert ready(world, "-x", "good.example")[0] == 64
    assert ready(world, "not a domain")[0] == 64
