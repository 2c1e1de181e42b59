"""Where verify mode gets key records: $SELECTOR_DATA, or bounded DNS with
one time budget per message (VERIFICATION, "DNS"). Injected into the DKIM
mechanics (dkim/verifier.py), which never look anything up themselves.
"""
from qmail_dkim.dkim.verifier import Invalid
from qmail_dkim.dns import txt as dnstxt

# All DNS lookups for one message (keys and practice) together get this many
# times $DKIMDNSTIMEOUT.
DNS_BUDGET_FACTOR = 3


def dns_lookup(dns, deadline):
    """lookup(name) -> dnstxt.TxtAnswer with the DnsSettings `dns`, every
    lookup sharing the absolute `deadline` (time.monotonic())."""
    def lookup(name):
        return dnstxt.lookup_txt(name, dns, deadline=deadline)
    return lookup


def asked_once(lookup):
    """`lookup` answering each name once per message: keys (DKIM, ARC),
    practice and DMARC (whose trusted-sealer check walks the same _dmarc
    names again, and whose np= existence query is practice's) share it."""
    answers = {}

    def ask(name):
        ans = answers.get(name)
        if ans is None:
            ans = answers[name] = lookup(name)
        return ans
    ask.asked_once = True
    return ask


class KeySource:
    """Key records by name: `selector_data` ($SELECTOR_DATA, testing) as
    every record, or `lookup(name)` (asked_once: each name asked once per
    message)."""

    def __init__(self, lookup, selector_data=None):
        # a KeySource asks each name once whoever built it (verify.run passes
        # the message's shared asked_once lookup; wrapping it again is not done)
        self.lookup = lookup if getattr(lookup, "asked_once", False) else asked_once(lookup)
        self.selector_data = selector_data

    def records(self, name):
        """-> list of TXT records (bytes), or raises Invalid P/Q."""
        if self.selector_data is not None:
            return [self.selector_data.encode("utf-8", "surrogateescape")]
        ans = self.lookup(name)
        if ans.status == "ok":
            return ans.records
        if ans.status == "temp":
            raise Invalid("P", "key lookup %s: %s" % (name, ans.error or "temporary failure"))
        if ans.status == "nxdomain":
            raise Invalid("Q", "key lookup %s: NXDOMAIN" % name)
        raise Invalid("Q", "key lookup %s: %s" % (name, ans.error or "no TXT record"))
