"""qmail-dkim: DKIM signing and verification with the qmail-queue interface.

The behaviour is specified in man/qmail-dkim.8. Layers, top to bottom: the
admin tools; the qmail shell; the modes' policy (sign/, verify/); what the
shell and the modes share (config, spool, envelope, exits, outcome); the
other protocols' mechanics (spf/, dmarc/, arc/); at the bottom the DKIM
mechanics (dkim/) and our DNS client (dns/), each importing nothing of
qmail_dkim outside itself. A module imports only from its own layer or the
ones below it; below the shell nothing reads os.environ or takes the
environment mapping (config turns it into settings objects); nothing on the
per-message path imports tools/. tests/test_layout.py checks all of this,
and that this map names every module.

The qmail shell (fds, child, log line; it reads os.environ):
  start       where a qmail-dkim run starts (bin/qmail-dkim loads it): the
              hand-over to qmail-dkimd, sys.path under -S, then main
  main        the qmail-dkim command: one run, its errors, the exit code
  mode        which mode a run takes (MODES)
  child       running the queue program
  logline     the one log line: quoting and order (LOG)

Shared by the shell and the modes:
  config      the environment read once into SignSettings / VerifySettings,
              QMAILHOME / CONTROLDIR paths, reading every control file
  spool       spooling fd 0 to $TMPDIR
  envelope    the envelope on fd 1 and DKIMSIGNRCPTS
  exits       exit codes and the DKIMCUSTOMERROR texts (EXIT CODES)
  outcome     what a mode hands back to the shell

Sign policy (sign/):
  sign.run      sign mode: from message to header lines + log fields
  sign.keypath  the % rule: the template, the parent-domain walk, the %-removed fallback
  sign.options  DKIMSIGNOPTIONS
  sign.headers  which header fields are signed

Verify policy (verify/):
  verify.run          verify mode: letters to headers, exit code and log fields
  verify.keys         key records: $SELECTOR_DATA or DNS within the message's budget
  verify.status       letters A-Y, texts, numbers, Authentication-Results results
  verify.practice     ADSP / SSP (DKIMPRACTICE)
  verify.authresults  the Authentication-Results and DKIM-Status fields
  verify.dmarcverify  DMARCVERIFY: SPF + DMARC, local policy, their headers and log fields
  verify.arcsealers   control/arcsealers: the trusted ARC sealers' word on DMARC

DKIM mechanics, RFC 6376 / 8463 (dkim/): no environment, no files, no exit codes,
nothing from qmail_dkim outside dkim/ (key records come through a callable)
  dkim.lib         importing dkimpy without its DNS plug-in (start-up time)
  dkim.message     splitting a spooled message into header fields and body offset
  dkim.fromaddr    the domain of the first From: address
  dkim.bodyhash    streaming body canonicalization and hashing
  dkim.headerhash  header canonicalization and hashing
  dkim.signer      building one DKIM-Signature header
  dkim.verifier    checking one DKIM-Signature: the letter of each signature
  dkim.keyrecord   parsing a DKIM key record
  dkim.privkey     reading RSA / Ed25519 private keys, RSA signing in Python
  dkim.ossl        RSA signing through OpenSSL's libcrypto by ctypes (start-up time)
  dkim.asn1        DER read as dkimpy reads it (public and private keys); EMSA-PKCS1-v1_5
  dkim.text        domain names as compared, bytes as short text (shared helpers)

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

DNS (dns/): nothing from qmail_dkim outside dns/
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
  tools.ready        qmail-dkim-check --ready: is a domain ready (DKIM, DMARC, SPF)
  tools.dknewkey     qmail-dknewkey (also installed as dknewkey)
  tools.dkimtestkey  dkimtestkey
  tools.tcprules     reading a tcprules source file
  tools.zonetext     rendering a key record as BIND / web-panel / tinydns text
  tools.cmdline      --help / --version texts (qmail-dkim's; the version line)
"""
__version__ = "0.1.0"
