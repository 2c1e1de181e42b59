"""DMARC against independent implementations, on records served by NSD:
Perl Mail::DMARC (RFC 7489, Public Suffix List) and mailauth 4.x (Node).

Only scenarios where RFC 7489 and RFC 9989 give the same answer: the
Organizational Domains are registrable domains of the Public Suffix List (the
tree walk finds the same ones: no record at the public suffix, none in
between), no psd=, np=, t=. mailauth treats adkim=s / aspf=s as relaxed
(its getAlignment() gets {strict: ...} as a truthy flag and then falls back
to the Organizational Domain), so strict scenarios are not asked of it.
Every scenario also states the expected answer, so that agreement among
wrong answers cannot pass."""
import json
import os
import subprocess
from pathlib import Path

import pytest

from qmail_dkim.dmarc.evaluate import evaluate
from qmail_dkim.dns import txt as dnstxt
from tests.realparts.nsd import NsdServer, txt_strings
from tests.realparts.tools import find_tool

HERE = Path(__file__).parent / "realparts"

ROOT = ("$TTL 300\n. IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
        ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n")
DMARC = {
    "example.com": "v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com",
    "shop.example.com": "v=DMARC1; p=quarantine",
    "example.net": "v=DMARC1; p=none",
    "example.info": "v=DMARC1; p=reject; adkim=s; aspf=s",
    "example.co.uk": "v=DMARC1; p=quarantine",
    "split.example.org": "v=DMARC1; p=reject",
}
HOSTS = ["example.com", "news.example.com", "mail.example.com", "bounce.example.com",
         "shop.example.com", "example.net", "example.org", "example.info", "mail.example.info",
         "example.co.uk", "mail.example.co.uk", "split.example.org", "sub.split.example.org"]

# (From domain, [(SPF domain, result)], [(DKIM d=, result)], expected result, policy on fail, strict)
SCENARIOS = [
    ("example.com", [], [("example.com", "pass")], "pass", None, False),
    ("example.com", [], [("mail.example.com", "pass")], "pass", None, False),
    ("news.example.com", [("bounce.example.com", "pass")], [], "pass", None, False),
    ("example.com", [("example.net", "pass")], [("example.net", "pass")], "fail", "reject", False),
    ("news.example.com", [("example.net", "pass")], [], "fail", "quarantine", False),
    ("example.org", [("example.org", "pass")], [], "none", None, False),
    ("example.info", [], [("mail.example.info", "pass")], "fail", "reject", True),
    ("example.info", [("example.info", "pass")], [], "pass", None, True),
    ("mail.example.info", [("mail.example.info", "pass")], [], "pass", None, True),
    ("mail.example.info", [("example.info", "pass")], [("example.info", "pass")], "fail", "reject", True),
    ("shop.example.com", [], [("example.net", "pass")], "fail", "quarantine", False),
    ("shop.example.com", [], [("example.com", "pass")], "pass", None, False),
    ("example.co.uk", [], [("mail.example.co.uk", "pass")], "pass", None, False),
    ("example.co.uk", [], [("other.co.uk", "pass")], "fail", "quarantine", False),
    ("example.com", [], [("example.net", "pass"), ("example.com", "pass")], "pass", None, False),
    ("example.com", [("example.com", "fail")], [("example.com", "fail")], "fail", "reject", False),
    ("example.com", [("example.com", "softfail")], [], "fail", "reject", False),
    ("example.net", [], [], "fail", "none", False),
    ("EXAMPLE.com", [], [("Example.COM", "pass")], "pass", None, False),
]

# Where the two RFCs differ: split.example.org publishes a record, its parent
# example.org does not. RFC 9989's tree walk makes split.example.org its own
# Organizational Domain, so d=example.org does not align; RFC 7489's Public
# Suffix List says example.org, so it does. And sub.split.example.org finds
# split.example.org's record by the walk, where RFC 7489 asks only the
# author domain and example.org. (scenario, ours, Mail::DMARC's)
DIFFERS = [
    (("split.example.org", [], [("example.org", "pass")]), ("fail", "reject"), "pass"),
    (("sub.split.example.org", [], [("example.com", "pass")]), ("fail", "reject"), "none"),
    (("sub.split.example.org", [], [("split.example.org", "pass")]), ("pass", None), "none"),
]


class Spf:
    def __init__(self, result, domain):
        self.result, self.domain = result, domain


@pytest.fixture(scope="module")
def ns(tmp_path_factory, require_tool):
    require_tool("nsd")
    lines = [ROOT]
    for d, rec in DMARC.items():
        lines.append("_dmarc.%s. IN TXT %s" % (d, txt_strings(rec)))
    for h in HOSTS:
        lines.append("%s. IN A 192.0.2.10" % h)
        lines.append("%s. IN MX 10 mx.example.net." % h)
    with NsdServer({".": "\n".join(lines) + "\n"}, workdir=tmp_path_factory.mktemp("nsd-dmarc")) as s:
        yield s


def ours(ns, frm, spf, dkim):
    def lookup(name):
        return dnstxt.lookup_txt(name, dnstxt.DnsSettings("127.0.0.1:%d" % ns.port), timeout=5)
    passing = [d for d, r in spf if r == "pass"]
    s = Spf(spf[0][1], spf[0][0]) if spf else None
    r = evaluate([frm.lower()], s, [(res, d, "sel") for d, res in dkim], lookup)
    assert passing == [] or s.result == "pass"
    return r


def test_ours_on_nsd(ns):
    for frm, spf, dkim, want, policy, _strict in SCENARIOS:
        r = ours(ns, frm, spf, dkim)
        assert (r.result, r.policy) == (want, policy), (frm, spf, dkim, r)


def test_mail_dmarc_agrees(ns, require_tool):
    (perl,) = require_tool("perl-mail-dmarc")
    lines = "".join(json.dumps({"from": f.lower(), "spf": [[d, r] for d, r in spf],
                                "dkim": [[d, "sel", r] for d, r in dkim]}) + "\n"
                    for f, spf, dkim, *_ in SCENARIOS)
    out = subprocess.run([perl, str(HERE / "mail-dmarc.pl"), str(ns.port)], input=lines.encode(),
                         capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    answers = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert len(answers) == len(SCENARIOS)
    agree = 0
    for (frm, spf, dkim, want, policy, _s), md in zip(SCENARIOS, answers):
        r = ours(ns, frm, spf, dkim)
        md_result = md["result"] if md["p"] else "none"     # no policy found: DMARC does not apply
        assert md_result == r.result == want, (frm, spf, dkim, md, r)
        if r.result == "fail":
            # Mail::DMARC's disposition is the effective p / sp ("none" stays none)
            assert md["disposition"] == r.policy == policy, (frm, md, r)
            assert (md["dkim"] == "pass") == bool(r.dkim_aligned)
            assert (md["spf"] == "pass") == r.spf_aligned
        agree += 1
    assert agree == len(SCENARIOS)


def _mailauth_pkg():
    prog = find_tool("mailauth")
    if not prog:
        return None
    p = Path(os.path.realpath(prog)).parent
    while p != p.parent and not (p / "package.json").exists():
        p = p.parent
    return p


def test_mailauth_agrees_relaxed(ns, require_tool):
    node, _ = require_tool("node", "mailauth")
    pkg = _mailauth_pkg()
    cases = [s for s in SCENARIOS if not s[5]]
    lines = "".join(json.dumps({"from": f.lower(), "spf": [d for d, r in spf if r == "pass"],
                                "dkim": [d for d, r in dkim if r == "pass"]}) + "\n"
                    for f, spf, dkim, *_ in cases)
    out = subprocess.run([node, str(HERE / "mailauth-dmarc.js"), str(pkg), str(ns.port)],
                         input=lines.encode(), capture_output=True, timeout=120)
    assert out.returncode == 0, out.stderr.decode()
    answers = [json.loads(x) for x in out.stdout.decode().splitlines()]
    assert len(answers) == len(cases)
    for (frm, spf, dkim, want, policy, _s), ma in zip(cases, answers):
        r = ours(ns, frm, spf, dkim)
        assert ma["result"] == r.result == want, (frm, spf, dkim, ma, r)
        if r.result == "fail":
            assert ma["policy"] == r.policy == policy, (frm, ma, r)


def test_rfc9989_differs_from_psl(ns, require_tool):
    (perl,) = require_tool("perl-mail-dmarc")
    for (frm, spf, dkim), want, md_want in DIFFERS:
        r = ours(ns, frm, spf, dkim)
        assert (r.result, r.policy) == want, (frm, r)
        line = json.dumps({"from": frm, "spf": [], "dkim": [[d, "sel", x] for d, x in dkim]}) + "\n"
        out = subprocess.run([perl, str(HERE / "mail-dmarc.pl"), str(ns.port)], input=line.encode(),
                             capture_output=True, timeout=60)
        assert out.returncode == 0, out.stderr.decode()
        md = json.loads(out.stdout)
        assert (md["result"] if md["p"] else "none") == md_want, (frm, md)   # RFC 7489 / PSL


def test_mailauth_strict_alignment_is_wrong(ns, require_tool):
    """Documents why strict scenarios are not asked of mailauth 4.x: it passes
    a strict-aligned-only failure (adkim=s, d= a subdomain)."""
    node, _ = require_tool("node", "mailauth")
    line = json.dumps({"from": "example.info", "spf": [], "dkim": ["mail.example.info"]}) + "\n"
    out = subprocess.run([node, str(HERE / "mailauth-dmarc.js"), str(_mailauth_pkg()), str(ns.port)],
                         input=line.encode(), capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout)["result"] == "pass"          # mailauth: wrong
    assert ours(ns, "example.info", [], [("mail.example.info", "pass")]).result == "fail"
