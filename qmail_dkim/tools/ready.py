"""qmail-dkim-check --ready: is DOMAIN ready to send to Gmail and Yahoo?
See qmail-dkim-check(8), READINESS.

    qmail-dkim-check --ready [-i IP]... [-k template] DOMAIN

One line per point, "NAME: ok|FAIL|skip - what was found", then one summary
line "ready: yes ..." or "ready: NO - failing: ...":

  dkim        the % rule finds a key for mail from DOMAIN (the same resolution
              code qmail-dkim runs: control/dkimkeys, DKIMKEY or -k, parent
              domains), it loads, and s._domainkey.d publishes its public key
  alignment   that d= is aligned with DOMAIN under DOMAIN's DMARC adkim=
              (relaxed: the same Organizational Domain, by the RFC 9989 walk)
  spf         one v=spf1 record at DOMAIN, valid, evaluated in full within
              the 10 DNS-lookup and 2 void-lookup limits (RFC 7208 4.6.4)
  spf IP      check_host(IP, DOMAIN) is pass, for each -i IP
  rdns IP     IP has a PTR name that resolves back to IP, for each -i IP
  dmarc       a valid DMARC record applies to DOMAIN (RFC 9989 discovery), and
              what it will do: p=, sp=, np=, adkim=, aspf=, t=
  reports     each rua= mailbox outside DOMAIN's Organizational Domain has
              authorised the reports (RFC 9990: <domain>._report._dmarc.<its domain>)

Exit status: 0 every point passes (skip counts as passing: spf IP and rdns
without -i), 1 a point fails, 4 a point could not be checked because DNS did
not answer, 64 usage. DNS: the servers $DNSCACHEIP names (else
/etc/resolv.conf), each lookup bounded by $DKIMDNSTIMEOUT.
"""
import getopt
import os
import sys

from qmail_dkim import config
from qmail_dkim.exits import QmailDkimExit

USAGE = "usage: qmail-dkim-check --ready [-i ip]... [-k keytemplate] domain"
DEFAULT_TEMPLATE = "control/domainkeys/%/default"
# Addresses no SPF record covers on purpose (RFC 5737 / RFC 3849), used to
# make check_host() evaluate every term of the record.
PROBE_IP4 = "192.0.2.255"

OK, FAIL, SKIP = "ok", "FAIL", "skip"


def say(text=""):
    sys.stdout.write(text + "\n")


class Report:
    def __init__(self):
        self.points = []            # (name, status, dns_trouble)

    def line(self, name, status, text, dns=False):
        self.points.append((name, status, dns))
        say("%s: %s - %s" % (name, status, text))

    def failing(self):
        return [n for n, s, _ in self.points if s == FAIL]

    def finish(self, domain):
        bad = self.failing()
        total = len(self.points)
        if not bad:
            skipped = [n for n, s, _ in self.points if s == SKIP]
            say("ready: yes - %s passes %d of %d checks%s" % (
                domain, total - len(skipped), total,
                " (%s skipped)" % ", ".join(skipped) if skipped else ""))
            return 0
        say("ready: NO - failing: %s (%d of %d checks)" % (", ".join(bad), len(bad), total))
        only_dns = all(d for n, s, d in self.points if s == FAIL)
        return 4 if only_dns else 1


class Dns:
    """The DNS lookups of one run: dns.client on $DNSCACHEIP, remembered."""

    def __init__(self, env):
        from qmail_dkim.dns import client
        self.client = client
        self.dns = config.dns_settings(env)
        self.cache = {}

    def __call__(self, name, qtype="TXT", deadline=None):
        key = (name.lower().rstrip("."), qtype)
        if key not in self.cache:
            self.cache[key] = self.client.lookup(name, qtype, self.dns, deadline=deadline)
        return self.cache[key]

    def txt(self, name):
        return self(name, "TXT")


# ------------------------------------------------------------- DKIM

def check_dkim(rep, env, domain, template, dns):
    """-> the d= the % rule signs DOMAIN's mail with (None when it does not)."""
    from qmail_dkim.dkim import keyrecord, privkey
    from qmail_dkim.dkim.message import parse_header
    from qmail_dkim.sign import run as sign
    fields, _ = parse_header(b"From: <postmaster@%s>\n\n" % domain.encode())
    try:
        plan = sign.plan(config.SignSettings(env), fields, template, envelope=lambda: b"")
    except sign.Unsigned as u:
        rep.line("dkim", FAIL, "mail from %s goes out unsigned: %s" % (domain, u.reason))
        return None
    except QmailDkimExit as e:
        rep.line("dkim", FAIL, "qmail-dkim would fail: %s" % e.reason)
        return None
    res = plan.resolution
    try:
        key = privkey.load_private_key(res.path)
    except privkey.KeyFileError as e:
        rep.line("dkim", FAIL, "cannot use key %s" % e)
        return res.domain
    name = "%s._domainkey.%s" % (res.selector, res.domain)
    what = "%s (%s %d bits) signs d=%s s=%s" % (res.path, key.kind, key.bits, res.domain,
                                                res.selector)
    ans = dns.txt(name)
    if ans.status != "ok":
        rep.line("dkim", FAIL, "%s; %s TXT: %s" % (what, name, ans.error or ans.status),
                 dns=ans.status == "temp")
        return res.domain
    problems = []
    for txt in ans.records:
        try:
            rec = keyrecord.parse_key_record(txt)
        except keyrecord.KeyRecordError as e:
            problems.append(e.reason)
            continue
        if rec.p == key.public_b64().encode():
            extra = " (t=y: receivers treat it as testing)" if rec.testing else ""
            rep.line("dkim", OK, "%s; %s publishes the matching public key%s" % (what, name, extra))
            return res.domain
        problems.append("its public key does not match the private key")
    rep.line("dkim", FAIL, "%s; %s: %s" % (what, name, "; ".join(problems)))
    return res.domain


# ------------------------------------------------------------- DMARC

def check_dmarc(rep, domain, dns):
    """-> (Walker, policy record or None)."""
    from qmail_dkim.dmarc.walk import DnsTemp, Walker
    w = Walker(dns.txt)
    try:
        found = w.policy_record(domain)
    except DnsTemp as e:
        rep.line("dmarc", FAIL, "policy discovery: %s" % e, dns=True)
        return w, None
    if found is None:
        why = ("several DMARC records at _dmarc.%s (receivers ignore them all)" % domain
               if w.several_at(domain) else "no DMARC record for %s (none at _dmarc.%s or above)"
               % (domain, domain))
        rep.line("dmarc", FAIL, why)
        return w, None
    where, rec = found
    at = "_dmarc.%s" % where
    if rec.bad_policy:
        rep.line("dmarc", FAIL, "%s: %s (%s)" % (
            at, ", ".join(rec.bad_policy),
            "receivers treat it as p=none" if rec.usable else "receivers ignore the record"))
        return w, rec
    source = "p" if where == domain else "sp"
    policy = rec.policy(source)
    does = {"reject": "mail from %s that fails DMARC is rejected",
            "quarantine": "mail from %s that fails DMARC goes to spam",
            "none": "nothing happens to mail from %s that fails DMARC (monitoring)"}[policy]
    if rec.t == "y":
        does += "; t=y: testing, receivers apply one step less"
    rep.line("dmarc", OK, "%s: p=%s sp=%s np=%s adkim=%s aspf=%s t=%s; %s" % (
        at, rec.p, rec.policy("sp"), rec.policy("np"), rec.adkim, rec.aspf, rec.t,
        does % domain))
    return w, rec


def check_alignment(rep, domain, d, walker, rec):
    from qmail_dkim.dmarc.walk import DnsTemp
    if d is None:
        rep.line("alignment", FAIL, "no DKIM signature for mail from %s (see dkim)" % domain)
        return
    mode = rec.adkim if rec is not None else "r"
    if d == domain:
        rep.line("alignment", OK, "the %% rule signs with d=%s, the From domain itself" % d)
        return
    if mode == "s":
        rep.line("alignment", FAIL, "d=%s is not %s and the DMARC record asks for strict "
                 "alignment (adkim=s)" % (d, domain))
        return
    try:
        org_from, org_d = walker.org_domain(domain), walker.org_domain(d)
    except DnsTemp as e:
        rep.line("alignment", FAIL, "Organizational Domain: %s" % e, dns=True)
        return
    if org_from == org_d:
        rep.line("alignment", OK, "d=%s and %s share the Organizational Domain %s (relaxed)"
                 % (d, domain, org_from))
    else:
        rep.line("alignment", FAIL, "d=%s (Organizational Domain %s) is not aligned with %s (%s)"
                 % (d, org_d, domain, org_from))


def _mailto_domain(uri):
    uri = uri.strip()
    if not uri.lower().startswith("mailto:"):
        return None
    addr = uri[7:].split("?", 1)[0].rsplit("!", 1)[0]
    from urllib.parse import unquote
    addr = unquote(addr)
    return addr.rsplit("@", 1)[-1].lower().rstrip(".") if "@" in addr else None


def check_reports(rep, domain, walker, rec, dns):
    from qmail_dkim.dmarc.walk import DnsTemp
    if rec is None:
        rep.line("reports", SKIP, "no usable DMARC record")
        return
    if not rec.rua:
        rep.line("reports", OK, "no rua= in the record: no aggregate reports are asked for")
        return
    try:
        org = walker.org_domain(domain)
    except DnsTemp as e:
        rep.line("reports", FAIL, "Organizational Domain: %s" % e, dns=True)
        return
    said, bad, temp = [], [], False
    for uri in rec.rua:
        dest = _mailto_domain(uri)
        if dest is None:
            bad.append("%s is not a mailto: address" % uri)
            continue
        try:
            dest_org = walker.org_domain(dest)
        except DnsTemp as e:
            bad.append("%s: %s" % (uri, e))
            temp = True
            continue
        if dest_org == org:
            said.append("%s (same organization)" % dest)
            continue
        name = "%s._report._dmarc.%s" % (domain, dest)
        ans = dns.txt(name)
        if ans.status == "temp":
            bad.append("%s: %s" % (name, ans.error))
            temp = True
        elif ans.status == "ok" and any(t.startswith(b"v=DMARC1") for t in ans.records):
            said.append("%s (authorised by %s)" % (dest, name))
        else:
            bad.append("%s has not authorised reports for %s: no v=DMARC1 record at %s"
                       % (dest, domain, name))
    if bad:
        rep.line("reports", FAIL, "; ".join(bad), dns=temp)
    else:
        rep.line("reports", OK, "rua= to " + ", ".join(said))


# ------------------------------------------------------------- SPF

def check_spf(rep, domain, ips, dns):
    from qmail_dkim.spf import check as spf
    ans = dns.txt(domain)
    if ans.status != "ok" and ans.status != "nodata":
        rep.line("spf", FAIL, "%s TXT: %s" % (domain, ans.error or ans.status),
                 dns=ans.status == "temp")
        return
    try:
        text = spf.select_record(ans.records)
    except spf.PermError as e:
        rep.line("spf", FAIL, "%s: %s" % (domain, e))
        return
    if text is None:
        rep.line("spf", FAIL, "%s publishes no v=spf1 record" % domain)
    else:
        try:
            spf.parse_record(text)
            r = spf.check_host(PROBE_IP4, domain, "postmaster@" + domain, lookup=dns)
        except spf.PermError as e:
            r = spf.SpfResult("permerror", domain, problem=str(e))
        short = text if len(text) <= 120 else text[:117] + "..."
        if r.result in ("permerror", "temperror"):
            rep.line("spf", FAIL, '"%s": %s' % (short, r.problem), dns=r.result == "temperror")
        else:
            rep.line("spf", OK, '"%s": %d of %d DNS lookups, %d of %d void' % (
                short, r.lookups, spf.MAX_DNS_TERMS, r.voids, spf.MAX_VOID))
    if not ips:
        rep.line("spf IP", SKIP, "no -i: which addresses send is not known")
        return
    for ip in ips:
        r = spf.check_host(ip, domain, "postmaster@" + domain, lookup=dns)
        if r.result == "pass":
            rep.line("spf " + ip, OK, "pass (%s)" % r.mechanism)
        else:
            why = r.problem or ("matched %s" % r.mechanism if r.mechanism else "")
            rep.line("spf " + ip, FAIL, "%s%s: %s may not send for %s" % (
                r.result, " (%s)" % why if why else "", ip, domain),
                dns=r.result == "temperror")


def check_rdns(rep, ips, dns):
    from qmail_dkim.spf.check import reverse_name, parse_ip
    if not ips:
        rep.line("rdns", SKIP, "no -i: which addresses send is not known")
        return
    for ip in ips:
        try:
            ver, num = parse_ip(ip)
        except (ValueError, OSError) as e:
            rep.line("rdns " + ip, FAIL, "not an IP address: %s" % e)
            continue
        ptr = dns(reverse_name(ver, num), "PTR")
        if ptr.status != "ok":
            rep.line("rdns " + ip, FAIL, "no PTR record (%s)" % (ptr.error or ptr.status),
                     dns=ptr.status == "temp")
            continue
        qtype = "AAAA" if ver == 6 else "A"
        names = []
        for name in ptr.records[:10]:
            fwd = dns(name, qtype)
            addrs = fwd.records if fwd.status == "ok" else []
            if (ver, num) in {parse_ip(a) for a in addrs}:
                rep.line("rdns " + ip, OK, "%s -> %s -> %s" % (ip, name, ip))
                break
            names.append("%s (%s: %s)" % (name, qtype, ", ".join(addrs) or fwd.error or fwd.status))
        else:
            rep.line("rdns " + ip, FAIL, "forward and reverse DNS disagree: PTR %s"
                     % "; ".join(names))


# ------------------------------------------------------------- main

def main(argv):
    try:
        opts, args = getopt.getopt(argv, "i:k:")
    except getopt.GetoptError as e:
        sys.stderr.write("qmail-dkim-check: %s\n%s\n" % (e.msg, USAGE))
        return 64
    if len(args) != 1:
        sys.stderr.write(USAGE + "\n")
        return 64
    from qmail_dkim.dkim.fromaddr import to_alabel
    domain = to_alabel(args[0].strip().rstrip(".").rsplit("@", 1)[-1])
    if not domain or "." not in domain:
        sys.stderr.write("qmail-dkim-check: \"%s\" is not a domain name\n%s\n" % (args[0], USAGE))
        return 64
    ips = [v for k, v in opts if k == "-i"]
    env = dict(os.environ)
    template = dict(opts).get("-k") or env.get("DKIMKEY") or DEFAULT_TEMPLATE
    from qmail_dkim import config
    home = config.qmailhome(env)
    try:
        os.chdir(home)
    except OSError as e:
        sys.stderr.write("qmail-dkim-check: cannot change to QMAILHOME %s: %s\n" % (home, e.strerror))
        return 64
    dns = Dns(env)
    rep = Report()
    say("readiness of %s (DNS %s, key template %s)" % (
        domain, env.get("DNSCACHEIP") or "from /etc/resolv.conf", template))
    d = check_dkim(rep, env, domain, template, dns)
    walker, rec = check_dmarc(rep, domain, dns)
    check_alignment(rep, domain, d, walker, rec)
    check_spf(rep, domain, ips, dns)
    check_rdns(rep, ips, dns)
    check_reports(rep, domain, walker, rec if rec is not None and rec.usable else None, dns)
    return rep.finish(domain)
