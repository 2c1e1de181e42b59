"""SPF (RFC 7208) for the verify side: pure, DNS through an injected lookup.

    from qmail_dkim.spf.check import check_host, SpfResult
    from qmail_dkim.spf.message import spf_for_message, MessageSpf

See spf.check (check_host and its limits) and spf.message (the identities of
RFC 7208 section 2.4 and what Authentication-Results needs).
"""
