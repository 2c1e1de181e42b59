"""qmail-dkim: DKIM signing and verification with the qmail-queue interface.

The behaviour is specified in man/qmail-dkim.8. Layers, top to bottom
(a module imports only from its own layer or the ones below it):

The qmail shell (fds, spool, child, exits, log line):
  main        the qmail-dkim command
  mode        which mode a run takes (MODES)
  spool       spooling fd 0 to $TMPDIR
  envelope    the envelope on fd 1 and DKIMSIGNRCPTS
  child       running the queue program
  exits       exit codes and the DKIMCUSTOMERROR texts (EXIT CODES)
  logline     the one log line (LOG)
  outcome     what a mode hands back to the shell

Sign policy (sign/):
  sign.run      sign mode: from message to header lines + log fields
  sign.keypath  the % template, the parent-domain walk and the %-removed fallback
  sign.dkimkeys control/dkimkeys
  sign.options  DKIMSIGNOPTIONS
  sign.headers  which header fields are signed

Verify policy (verify/):
  verify.run          verify mode (letters, headers)
  verify.status       letters A-Y, texts, numbers, Authentication-Results results
  verify.practice     ADSP / SSP (DKIMPRACTICE)
  verify.authresults  the Authentication-Results and DKIM-Status fields
  verify.dmarcverify  DMARCVERIFY: SPF + DMARC, local policy, their headers and log fields
  verify.arcsealers   control/arcsealers: the trusted ARC sealers' word on DMARC

DKIM mechanics, RFC 6376 / 8463 (dkim/): no environment, no files, no exit codes
  dkim.lib         importing dkimpy without its DNS plug-in (start-up time)
  dkim.message     splitting a spooled message into header fields and body offset
  dkim.fromaddr    the domain of the first From: address
  dkim.bodyhash    streaming body canonicalization and hashing
  dkim.headerhash  header canonicalization and hashing
  dkim.signer      building one DKIM-Signature header
  dkim.verifier    checking one DKIM-Signature
  dkim.keyrecord   parsing a DKIM key record
  dkim.privkey     reading RSA / Ed25519 private keys

DMARC, RFC 9989 (dmarc/): no environment, no files, no exit codes
  dmarc.record    parsing a DMARC Policy Record
  dmarc.walk      the DNS tree walk, Organizational Domain, policy discovery
  dmarc.evaluate  alignment, pass/fail/none/temperror/permerror and the policy

SPF, RFC 7208 (spf/): no environment, no files; DNS through an injected lookup
  spf.check    check_host(): records, mechanisms, modifiers, macros, limits
  spf.message  the identities of one message (MAIL FROM, HELO) and spf_for_message()

ARC, RFC 8617 (arc/): no environment, no files, no exit codes
  arc.chain  validating the ARC chain (pass/fail/none, sealers, oldest-pass)
  arc.aar    reading an ARC-Authentication-Results value

DNS (dns/):
  dns.txt    bounded DNS: servers, wire format, transport (exchange), TXT lookups
  dns.client one generic bounded lookup of A, AAAA, MX, PTR and TXT records
  dns.names  host-name syntax check and parent domains

Resident worker (daemon/), qmail-dkimd(8):
  daemon.client  qmail-dkim handing its message to qmail-dkimd (DKIMSOCKET);
                 imports almost nothing, runs before main
  daemon.server  qmail-dkimd: socket, peer check, one forked worker per message
                 running main.main, key cache

Admin tools (tools/), never on the per-message path:
  tools.check        qmail-dkim-check
  tools.dknewkey     dknewkey
  tools.dkimtestkey  dkimtestkey
  tools.tcprules     reading a tcprules source file
  tools.zonetext     rendering a key record as BIND / web-panel / tinydns text
"""
__version__ = "0.1.0"
