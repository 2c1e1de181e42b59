"""The DNS Tree Walk (RFC 9989 section 4.10), Organizational Domain (4.10.2)
and DMARC policy discovery (4.10.1), with one query cache per message.

    w = Walker(lookup, deadline)
    w.policy_record("mail.example.com")  -> (policy_domain, Record) | None
    w.org_domain("mail.example.com")     -> "example.com"
    w.exists("nosuch.example.com")       -> False (NXDOMAIN)

Every method raises DnsTemp when an answer it needs did not come (timeout,
SERVFAIL, the message's DNS time budget spent): the caller turns that into
DMARC temperror (section 5.3.6).

A walk makes at most MAX_QUERIES (8) queries whatever the number of labels:
the name itself, then (for 8 or more labels) straight to its last 7 labels,
then one label less each time up to the top-level label.
"""
import time

from qmail_dkim.dmarc import record as dmarcrecord

MAX_QUERIES = 8


class DnsTemp(Exception):
    """A DNS answer the evaluation needs is missing (temporary error)."""


def walk_names(domain):
    """The names a tree walk from `domain` asks, in order (section 4.10)."""
    labels = domain.split(".")
    x = len(labels)
    start = 1 if x < MAX_QUERIES else x - (MAX_QUERIES - 1)
    return [domain] + [".".join(labels[i:]) for i in range(start, x)]


class Walker:
    def __init__(self, lookup, deadline=None):
        self.lookup = lookup
        self.deadline = deadline
        self.cache = {}         # "_dmarc.<name>" or "<name>" -> answer
        self.queries = 0
        self._walks = {}

    def _ask(self, qname):
        ans = self.cache.get(qname)
        if ans is not None:
            return ans
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise DnsTemp("DNS time budget exhausted before %s" % qname)
        self.queries += 1
        ans = self.lookup(qname)
        self.cache[qname] = ans
        return ans

    def record_at(self, domain):
        """The one DMARC Policy Record at _dmarc.<domain>, or None (none, or
        several: section 4.10 step 2 discards them all). Raises DnsTemp."""
        ans = self._ask("_dmarc." + domain)
        if ans.status == "temp":
            raise DnsTemp("_dmarc.%s: %s" % (domain, ans.error or "temporary DNS error"))
        if ans.status != "ok":
            return None
        found = [r for r in (dmarcrecord.parse(t) for t in ans.records) if r is not None]
        return found[0] if len(found) == 1 else None

    def several_at(self, domain):
        """True when _dmarc.<domain> holds more than one DMARC record (for the
        reason text only; the answer is cached)."""
        ans = self.cache.get("_dmarc." + domain)
        if ans is None or ans.status != "ok":
            return False
        return sum(1 for t in ans.records if dmarcrecord.parse(t) is not None) > 1

    def walk(self, domain):
        """[(name, Record), ...] found from `domain` upwards, longest first,
        stopping after a record with psd=y or psd=n (steps 1-7)."""
        found = self._walks.get(domain)
        if found is not None:
            return found
        found = []
        for name in walk_names(domain):
            rec = self.record_at(name)
            if rec is not None:
                found.append((name, rec))
                if rec.psd in ("y", "n"):
                    break
        self._walks[domain] = found
        return found

    def org_domain(self, domain):
        """The Organizational Domain of `domain` (section 4.10.2)."""
        found = self.walk(domain)
        for name, rec in found:
            if rec.psd == "n":
                return name
            if rec.psd == "y" and name != domain:
                n = name.count(".") + 2          # labels of the name one below
                return ".".join(domain.split(".")[-n:])
        if found:
            return found[-1][0]                  # the fewest labels
        return domain

    def policy_record(self, author):
        """(policy_domain, Record) for the Author Domain (section 4.10.1):
        the record at the Author Domain, else at its Organizational Domain,
        else at its Public Suffix Domain; None when there is none."""
        rec = self.record_at(author)
        if rec is not None:
            return author, rec
        found = self.walk(author)
        if not found:
            return None
        org = self.org_domain(author)
        for name, rec in found:
            if name == org:
                return name, rec
        for name, rec in found:
            if rec.psd == "y":
                return name, rec
        return None

    def exists(self, domain):
        """False when `domain` does not exist (NXDOMAIN, RFC 8020; appendix
        A.4: any RR makes a name exist). Raises DnsTemp."""
        ans = self._ask(domain)
        if ans.status == "temp":
            raise DnsTemp("%s: %s" % (domain, ans.error or "temporary DNS error"))
        return ans.status != "nxdomain"
