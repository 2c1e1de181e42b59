"""What the commands share: --help and --version (the usage, the man page to
read, exit 0; each command's own usage text lives with the command), and a
user or group id as a name for their messages."""
import sys

from qmail_dkim import __version__

QMAIL_DKIM_USAGE = """\
usage: qmail-dkim [prog [args...]]          (run by qmail-smtpd as QMAILQUEUE)
       qmail-dkim --help | --version

qmail-dkim has the interface of qmail-queue: it reads a message on fd 0 and
the envelope on fd 1, signs the message with DKIM (DKIMSIGN, DKIMKEY,
RELAYCLIENT or AUTHINFO set) or verifies its signatures (DKIMVERIFY), then
runs the queue program (prog, else $DKIMQUEUE, else $QUEUEPROG, else
bin/qmail-queue) and writes one log line on fd 2. It is not meant to be run
by hand: to see what it would do with mail from an address, run
    qmail-dkim-check joe@example.com
See qmail-dkim(8): man 8 qmail-dkim
"""

def version_line(prog):
    return "%s (qmail-dkim) %s\n" % (prog, __version__)


def qmail_dkim(arg, out=None):
    """bin/qmail-dkim --help / --version."""
    out = out or sys.stdout
    out.write(QMAIL_DKIM_USAGE if arg == "--help" else version_line("qmail-dkim"))
    return 0


def user_name(uid):
    """The user name of `uid`, else the number as text."""
    import pwd
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid):
    """The group name of `gid`, else the number as text."""
    import grp
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)
