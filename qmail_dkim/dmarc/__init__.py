"""DMARC (RFC 9989): the record, the DNS tree walk and the evaluation.

No environment, no files, no exit codes: DNS comes through an injected
``lookup(name) -> answer`` (``answer.status`` ok / nxdomain / nodata / temp,
``answer.records`` the TXT strings joined, as dns.txt.TxtAnswer) and an
absolute ``deadline`` (time.monotonic()).

Written from draft-ietf-dmarc-dmarcbis-41 (April 2025), the last draft
before RFC 9989 (the RFC text itself was not at hand); section numbers in
comments are the draft's.
"""
