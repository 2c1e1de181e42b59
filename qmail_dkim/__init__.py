"""qmail-dkim: DKIM signing and verification with the qmail-queue interface.

Module map (one concept per module):

  mode        which mode a run takes (contract section 2)
  fromaddr    the domain of the first From: address
  domainname  host-name syntax check before a domain goes into a path
  keypath     the % template, the parent-domain walk and the %-removed fallback
  dkimkeys    control/dkimkeys
  signopts    DKIMSIGNOPTIONS
  headerset   which header fields are signed
  message     splitting a spooled message into header fields and body offset
  bodyhash    streaming body canonicalization and hashing
  keyfile     reading RSA / Ed25519 private keys
  dkimlib     importing dkimpy without its DNS plug-in (start-up time)
  signer      building one DKIM-Signature header
  rcpts       the envelope and DKIMSIGNRCPTS
  sign        sign mode: from message to header lines + log fields
  verify      verify mode (status letters, headers)
  status      letters A-Y, texts, numbers, Authentication-Results results
  dnstxt      bounded DNS TXT lookups
  keyrecord   parsing a DKIM key record
  exits       exit codes and the DKIMCUSTOMERROR texts
  logline     the one log line
  spool       spooling fd 0 to $TMPDIR
  child       running the queue program
  main        the qmail-dkim command
"""
__version__ = "0.1.0"
