"""Real-parts test helpers for qmail-dkim.

Everything here drives real programs as subprocesses on 127.0.0.1 only:

  tools         locating external programs (nsd, tcpserver, mailfront, perl, mailauth, ...)
  keys          RSA / Ed25519 test keys and their DKIM key records
  nsd           NsdServer: an authoritative DNS server (NSD) on a high port
  queue_double  the qmail-queue test double and reading what it stored
  smtp          SmtpFront: tcpserver + tcprules + mailfront (qmail backend), and an SMTP client
  corpora       locating the shared conformance data (../shared/corpora)
  verifiers     independent DKIM implementations: Perl Mail::DKIM, opendkim-testmsg,
                libopendkim (ctypes), mailauth (Node)

Every process started here is stopped by its own pid (or its own process group,
whose id is that pid); every subprocess call and socket has a timeout.
"""
