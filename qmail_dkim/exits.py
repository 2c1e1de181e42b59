"""Exit codes: the qmail-queue interface (qmail-dkim(8), EXIT CODES).

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
CUSTOM_ERROR = 88         # indimail, sagredo: the text is on $ERROR_FD
CUSTOM_ERROR_NOTQMAIL = 82  # notqmail (qmail-queue custom-error patch): text on fd 6
CANNOT_RUN_CHILD = 120

PERMANENT = frozenset({REJECT_PERM, KEY_MISSING})

# Short texts, used in the log line and as the DKIMCUSTOMERROR reply text.
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
    """Give up with an exit code of EXIT CODES; `reason` goes into the log line."""

    def __init__(self, code, reason=None, **fields):
        super().__init__(reason or TEXTS.get(code, "error"))
        self.code = code
        self.reason = reason or TEXTS.get(code, "error")
        self.fields = fields


# DKIMCUSTOMERROR value -> (exit code, default fd, $ERROR_FD honoured), as
# each family's qmail.c reads it (EXIT CODES in qmail-dkim(8)).
CUSTOM_FAMILIES = {
    "notqmail": (CUSTOM_ERROR_NOTQMAIL, 6, False),
    "indimail": (CUSTOM_ERROR, 2, True),
    "sagredo": (CUSTOM_ERROR, 4, True),
}
CUSTOM_MAX = 255              # notqmail's and sagredo's qmail.c read at most 255 bytes


def custom_protocol(family, error_fd=""):
    """(exit code, fd) of the custom-error protocol $DKIMCUSTOMERROR
    (`family`, None when unset) chooses, with $ERROR_FD (`error_fd`), None
    (unset, or ERROR_FD=-1, indimail's "no custom-error pipe"), or a string
    saying why the value is not used (it names no family: the plain exit
    codes answer, which every family understands)."""
    if family is None:
        return None
    name = family.strip().lower()
    if name not in CUSTOM_FAMILIES:
        return "DKIMCUSTOMERROR=%s is not notqmail, indimail or sagredo" % family[:40]
    code, fd, honoured = CUSTOM_FAMILIES[name]
    if honoured and (error_fd or "").strip():
        try:
            fd = int(error_fd)
        except ValueError:
            pass
        if fd < 0:
            return None
    return code, fd


def custom_error_text(code, text=None, enhanced=None):
    """The custom-error reply, as C's custom_error() writes it: D (permanent)
    or Z (temporary), the program name, the text, the enhanced status code;
    one line, no trailing newline (qmail-smtpd sends it as is before CR LF),
    at most CUSTOM_MAX bytes."""
    kind = "D" if code in PERMANENT else "Z"
    enhanced = enhanced or ENHANCED.get(code, "4.3.0")
    enhanced = ("5" if kind == "D" else "4") + enhanced[1:]
    text = "".join(c if c.isprintable() else " " for c in (text or TEXTS.get(code, "error")))
    tail = " (#%s)" % enhanced
    head = "%sqmail-dkim: " % kind
    room = CUSTOM_MAX - len(head) - len(tail)
    body = text.encode("utf-8", "replace")
    if len(body) > room:
        body = body[:room - 3].decode("utf-8", "ignore").encode() + b"..."
    return head.encode() + body + tail.encode()
