"""Exit codes: the qmail-queue interface (contract section 7).

qmail-smtpd and mailfront turn these into SMTP replies; the code *is* the
interface, so every place that gives up goes through QmailDkimExit.
"""

OK = 0
REJECT_PERM = 31      # DKIMVERIFY uppercase letter: 554
REJECT_TEMP = 71      # DKIMVERIFY lowercase letter: 451
KEY_MISSING = 35      # key path without % does not exist (permanent)
NO_MEMORY = 51
TIMEOUT = 52          # $DEATH
WRITE_ERROR = 53      # spool write error, e.g. $TMPDIR full
READ_ERROR = 54       # cannot read message or envelope
CONFIG_ERROR = 55     # key or control file unreadable/unparsable, bad options
CHILD_CRASHED = 57
NO_FORK = 58
NO_PIPE = 59
NO_CHDIR = 61
INTERNAL_BUG = 81
CUSTOM_ERROR = 88
CANNOT_RUN_CHILD = 120

PERMANENT = frozenset({REJECT_PERM, KEY_MISSING})

# Short texts, used in the log line and (with DKIMCUSTOMERROR) on $ERROR_FD.
TEXTS = {
    REJECT_PERM: "DKIM verification failed",
    REJECT_TEMP: "DKIM verification temporarily failed",
    KEY_MISSING: "private key file does not exist",
    NO_MEMORY: "out of memory",
    TIMEOUT: "timeout",
    WRITE_ERROR: "write error (spool directory)",
    READ_ERROR: "cannot read message or envelope",
    CONFIG_ERROR: "cannot read or parse a key or control file, or bad DKIMSIGNOPTIONS",
    CHILD_CRASHED: "queue program crashed",
    NO_FORK: "cannot fork",
    NO_PIPE: "cannot create a pipe",
    NO_CHDIR: "cannot change to QMAILHOME",
    INTERNAL_BUG: "internal bug in qmail-dkim",
    CANNOT_RUN_CHILD: "cannot run the queue program",
}

# Enhanced status codes for the custom-error text.
ENHANCED = {
    REJECT_PERM: "5.7.1",
    REJECT_TEMP: "4.7.1",
    KEY_MISSING: "5.3.5",
    NO_MEMORY: "4.3.0",
    TIMEOUT: "4.3.0",
    WRITE_ERROR: "4.3.0",
    READ_ERROR: "4.3.0",
    CONFIG_ERROR: "4.3.5",
    CHILD_CRASHED: "4.3.0",
    NO_FORK: "4.3.0",
    NO_PIPE: "4.3.0",
    NO_CHDIR: "4.3.0",
    INTERNAL_BUG: "4.3.0",
    CANNOT_RUN_CHILD: "4.3.0",
}


class QmailDkimExit(Exception):
    """Give up with a contract exit code; `reason` goes into the log line."""

    def __init__(self, code, reason=None, **fields):
        super().__init__(reason or TEXTS.get(code, "error"))
        self.code = code
        self.reason = reason or TEXTS.get(code, "error")
        self.fields = fields


def custom_error_text(code, text=None):
    """The DKIMCUSTOMERROR line: D<text> (#5.x.x) or Z<text> (#4.x.x)."""
    text = (text or TEXTS.get(code, "error")).replace("\n", " ")
    prefix = "D" if code in PERMANENT else "Z"
    return "%s%s (#%s)" % (prefix, text, ENHANCED.get(code, "4.3.0"))
