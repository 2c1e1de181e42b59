"""qmail-dkimd, the resident worker, and qmail-dkim as its client (qmail-dkimd(8))."""
