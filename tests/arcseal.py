"""Sealing messages for the ARC tests with dkimpy's arc_sign (tests only: the
product verifies, it never seals). Needs the authres package (test extra).

    msg = seal(msg, priv, b"lists.example.org", b"arc", results="spf=pass ...; dkim=...; dmarc=pass")

Each hop adds its own Authentication-Results (authserv-id = the sealer's
domain) with `results` and, from the second hop on, arc=pass, then the ARC
set dkimpy computes. Messages stay in qmail's LF form.
"""
from qmail_dkim.dkim.lib import dkim

from tests.verifyhelp import crlf, lf, rsa_pem


def seal(msg, priv, domain, selector=b"arc", results="dmarc=pass", arc="none",
         timestamp=None, headers=(b"from", b"to", b"subject", b"date", b"message-id")):
    ar = ("Authentication-Results: %s; arc=%s; %s\n"
          % (domain.decode(), arc, results)).encode()
    msg = ar + msg
    got = dkim.arc_sign(crlf(msg), selector, domain, rsa_pem(priv), domain,
                        include_headers=list(headers), timestamp=timestamp)
    assert got, "dkimpy made no ARC set"
    return b"".join(lf(h) for h in got) + msg
