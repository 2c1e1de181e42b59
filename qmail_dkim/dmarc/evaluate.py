"""DMARC evaluation of one message (RFC 9989 sections 4.4, 4.10, 5.3, 11.5).

    res = evaluate(authors, spf, dkim, lookup, deadline)
    res.result      pass / fail / none / temperror / permerror
    res.policy      the Domain Owner Assessment Policy that applies on fail
                    (none / quarantine / reject), after t=y
    res.published   the policy as published (before t=y)

Inputs, all already authenticated by the caller:

* ``authors``: the Author Domains (A-labels, lowercase) of every address in
  every From: field, in order, duplicates removed. None or [] when there is
  none (DMARC permerror: the message cannot be evaluated).
* ``spf``: an object with ``result`` (pass, fail, softfail, neutral, none,
  temperror, permerror) and ``domain`` (the MAIL FROM identity's domain,
  the HELO name for the null sender), or None when SPF was not checked.
* ``dkim``: [(result, d, s), ...] one per DKIM signature (result as in
  Authentication-Results: pass, fail, neutral, policy, temperror, ...).

Decisions the RFC leaves to the receiver, and ours:

* Several Author Domains (several From: fields or addresses): each is
  evaluated, at most MAX_AUTHORS of them (section 11.5), and the strictest
  failing policy wins; more domains than that is permerror.
* A missing answer (timeout, SERVFAIL) that the verdict depends on is
  temperror (section 5.3.6). So is a verdict of fail when a DKIM signature
  or SPF check that would have aligned ended in temperror: it might have
  passed.
* An Author Domain that is not a domain name (an address literal, bad
  characters) is permerror for that domain.
* A record with no valid p= (or a bad sp=/np=) and no valid rua= is
  permerror (section 4.10.1: no DMARC processing; RFC 8601's permerror).
* t=y lowers the policy one step: reject -> quarantine -> none (4.7).
"""
from qmail_dkim.dmarc.walk import DnsTemp, Walker
from qmail_dkim.dns import names as dnsnames
from qmail_dkim.dkim.text import domain_key

MAX_AUTHORS = 4
_STRICTNESS = {None: -1, "none": 0, "quarantine": 1, "reject": 2}
_LOWER = {"reject": "quarantine", "quarantine": "none", "none": "none"}
# which result wins when several Author Domains disagree
_RANK = {"fail": 4, "temperror": 3, "permerror": 2, "pass": 1, "none": 0}


class AuthorResult:
    def __init__(self, domain):
        self.domain = domain
        self.result = "none"
        self.policy_domain = None
        self.record = None
        self.source = None          # which tag gave the policy: p / sp / np
        self.published = None       # that tag's policy
        self.policy = None          # after t=y
        self.testing = False
        self.dkim_aligned = []      # d= of the passing signatures that align
        self.spf_aligned = False
        self.reason = ""

    def __repr__(self):
        return "AuthorResult(%r, %r, policy=%r)" % (self.domain, self.result, self.policy)


class DmarcResult:
    def __init__(self, result, authors, per_author, queries, reason=""):
        self.result = result
        self.authors = authors
        self.per_author = per_author
        self.queries = queries
        main = None
        for ar in per_author:
            if ar.result == result and (main is None or
                                        _STRICTNESS[ar.policy] > _STRICTNESS[main.policy]):
                main = ar
        self.main = main
        self.domain = main.domain if main else (authors[0] if authors else None)
        self.policy_domain = main.policy_domain if main else None
        self.published = main.published if main else None
        self.policy = main.policy if main else None
        self.source = main.source if main else None
        self.testing = main.testing if main else False
        self.dkim_aligned = main.dkim_aligned if main else []
        self.spf_aligned = main.spf_aligned if main else False
        self.reason = reason or (main.reason if main else "")

    def __repr__(self):
        return "DmarcResult(%r, domain=%r, policy=%r, reason=%r)" % (
            self.result, self.domain, self.policy, self.reason)


def _is_suffix(org, domain):
    return domain == org or domain.endswith("." + org)


def _aligned(w, author, ident, mode):
    """Is the authenticated identifier `ident` aligned with `author`
    (section 4.4)? Raises DnsTemp."""
    ident = domain_key(ident or "")
    if not ident:
        return False
    if ident == author:
        return True
    if mode == "s":
        return False
    org = w.org_domain(author)
    # org(ident) is ident or one of its parents: no walk when org(author)
    # is not among them.
    if not _is_suffix(org, ident):
        return False
    return w.org_domain(ident) == org


def _author(w, author, spf, dkim):
    ar = AuthorResult(author)
    bad = dnsnames.check(author.replace("_", "x"))
    if bad:
        ar.result, ar.reason = "permerror", "Author Domain %r: %s" % (author[:80], bad)
        return ar
    try:
        found = w.policy_record(author)
    except DnsTemp as e:
        ar.result, ar.reason = "temperror", "policy discovery: %s" % e
        return ar
    if found is None:
        if w.several_at(author):
            ar.reason = "several DMARC records at _dmarc.%s (all ignored)" % author
        else:
            ar.reason = "no DMARC record"
        return ar
    ar.policy_domain, rec = found
    ar.record = rec
    if not rec.usable:
        ar.result = "permerror"
        ar.reason = "record at _dmarc.%s: %s and no valid rua=" % (
            ar.policy_domain, ", ".join(rec.bad_policy))
        return ar
    unknown = []
    for result, d, _s in dkim:
        try:
            if result == "pass" and _aligned(w, author, d, rec.adkim):
                ar.dkim_aligned.append(d.lower())
        except DnsTemp as e:
            unknown.append("dkim d=%s: %s" % (d, e))
    spf_result = getattr(spf, "result", None)
    spf_domain = getattr(spf, "domain", None)
    if spf_result == "pass":
        try:
            ar.spf_aligned = _aligned(w, author, spf_domain, rec.aspf)
        except DnsTemp as e:
            unknown.append("spf %s: %s" % (spf_domain, e))
    if ar.dkim_aligned or ar.spf_aligned:
        ar.result = "pass"
        ar.reason = "aligned " + " ".join(
            (["dkim=" + ",".join(ar.dkim_aligned)] if ar.dkim_aligned else [])
            + (["spf=" + spf_domain] if ar.spf_aligned else []))
        return ar
    # Would a temporary error have aligned? Then we cannot say fail.
    for result, d, _s in dkim:
        if result == "temperror":
            try:
                if _aligned(w, author, d, rec.adkim):
                    unknown.append("dkim d=%s temperror" % d)
            except DnsTemp as e:
                unknown.append("dkim d=%s: %s" % (d, e))
    if spf_result == "temperror" and spf_domain:
        try:
            if _aligned(w, author, spf_domain, rec.aspf):
                unknown.append("spf %s temperror" % spf_domain)
        except DnsTemp as e:
            unknown.append("spf %s: %s" % (spf_domain, e))
    if unknown:
        ar.result, ar.reason = "temperror", "; ".join(unknown)
        return ar
    ar.result = "fail"
    ar.reason = "no aligned identifier"
    if ar.policy_domain == author:
        ar.source = "p"
    else:
        ar.source = "sp"
        if rec.np and not rec.bad_policy:
            try:
                if not w.exists(author):
                    ar.source = "np"
            except DnsTemp as e:
                ar.result = "temperror"
                ar.reason = "existence of %s for np=: %s" % (author, e)
                return ar
    ar.published = rec.policy(ar.source)
    ar.testing = rec.t == "y"
    ar.policy = _LOWER[ar.published] if ar.testing else ar.published
    return ar


def evaluate(authors, spf, dkim, lookup, deadline=None):
    """DMARC for one message -> DmarcResult (see the module docstring)."""
    w = Walker(lookup, deadline)
    dkim = list(dkim or ())
    if not authors:
        return DmarcResult("permerror", [], [], 0, "no Author Domain in From:")
    authors = list(dict.fromkeys(domain_key(a) for a in authors))
    if len(authors) > MAX_AUTHORS:
        return DmarcResult("permerror", authors, [], 0,
                           "%d Author Domains (at most %d are evaluated)"
                           % (len(authors), MAX_AUTHORS))
    per = [_author(w, a, spf, dkim) for a in authors]
    result = max((ar.result for ar in per), key=_RANK.__getitem__)
    return DmarcResult(result, authors, per, w.queries)
