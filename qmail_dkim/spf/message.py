"""The SPF identities of one message (RFC 7208 section 2.4) and what
Authentication-Results (RFC 8601: smtp.mailfrom, smtp.helo) and DMARC need.

    spf_for_message(client_ip, mailfrom, helo, lookup, deadline,
                    receiver="unknown", check_helo=False, explain=False) -> MessageSpf

* ``mailfrom``: the envelope sender as qmail hands it (fd 1, without the F
  and the NUL); "" or "<>" is the null sender.
* Non-null sender: check_host(client_ip, <sender domain>, sender, helo).
* Null sender: the MAIL FROM identity is postmaster@<HELO> (section 2.4);
  the one evaluation is both the HELO and the MAIL FROM check.
* ``check_helo=True`` also evaluates the HELO identity (sender
  postmaster@<HELO>) for a non-null sender, when the HELO is a fully
  qualified name; it shares the deadline. Off by default: it costs DNS time
  and DMARC does not use it.
* ``explain=False`` (the default): no exp= lookup, no explanation text
  (see spf.check.check_host; ``receiver`` is only for %{r} in it).
* ``lookup`` and ``deadline``: as for spf.check.check_host. For real DNS,
  ``qmail_dkim.dns.client.spf_lookup(dns)`` gives the lookup (dns: a
  dns.txt.DnsSettings).

``MessageSpf`` fields:

* ``result``    -- the SPF result for the MAIL FROM identity (spf= in
                   Authentication-Results): one of spf.check.RESULTS
* ``identity``  -- "mailfrom", or "helo" for the null sender
* ``domain``    -- the domain SPF evaluated for that identity (the sender's
                   domain, the HELO name for the null sender): DMARC's
                   SPF-authenticated identifier
* ``smtp_mailfrom`` -- the sender address ("" for the null sender)
* ``smtp_helo`` -- the HELO name as given ("" when unknown)
* ``mailfrom_result`` / ``helo_result`` -- the SpfResult objects (helo_result
  is the same object as mailfrom_result for the null sender, None when the
  HELO identity was not evaluated)

The spf= Authentication-Results clause is built from these fields by
verify/dmarcverify.spf_spec (the one implementation).
"""
from qmail_dkim.spf.check import SpfResult, check_host, valid_domain
from qmail_dkim.dkim.text import domain_key


class MessageSpf:
    def __init__(self, result, identity, domain, smtp_mailfrom, smtp_helo,
                 mailfrom_result, helo_result):
        self.result = result
        self.identity = identity
        self.domain = domain
        self.smtp_mailfrom = smtp_mailfrom
        self.smtp_helo = smtp_helo
        self.mailfrom_result = mailfrom_result
        self.helo_result = helo_result

    def __repr__(self):
        return "MessageSpf(%r, identity=%r, domain=%r)" % (self.result, self.identity, self.domain)

    @property
    def problem(self):
        return self.mailfrom_result.problem if self.mailfrom_result else ""


def _clean_sender(mailfrom):
    s = (mailfrom or "").strip()
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1]
    return s


def spf_for_message(client_ip, mailfrom, helo, lookup, deadline, receiver="unknown",
                    check_helo=False, explain=False):
    helo = (helo or "").strip()
    sender = _clean_sender(mailfrom)
    if not sender:
        if not helo:
            r = SpfResult("none", "", problem="null sender and no HELO name")
            return MessageSpf("none", "helo", "", "", "", r, r)
        r = check_host(client_ip, helo, "postmaster@" + helo, helo, lookup, deadline, receiver,
                       explain=explain)
        return MessageSpf(r.result, "helo", domain_key(helo), "", helo, r, r)
    domain = sender.rpartition("@")[2]
    if "@" not in sender:
        r = SpfResult("none", domain, problem="sender %r has no domain" % sender)
    else:
        r = check_host(client_ip, domain, sender, helo, lookup, deadline, receiver,
                       explain=explain)
    h = None
    if check_helo and valid_domain(helo):
        h = check_host(client_ip, helo, "postmaster@" + helo, helo, lookup, deadline, receiver,
                       explain=explain)
    return MessageSpf(r.result, "mailfrom", domain_key(domain), sender, helo, r, h)
