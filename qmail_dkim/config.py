"""Configuration: the environment, read once, and the control files.

qmail-dkim(8), sections ENVIRONMENT and FILES. What the modes need from the
environment is read here and only here (main.py hands the mapping over and
itself reads only the shell's own variables: DEATH, TMPDIR, the queue
program, DKIMCUSTOMERROR): each mode gets a small settings object
(SignSettings, VerifySettings, with DnsSettings and DmarcSettings inside)
and passes plain values down. Every control file is read here too; the
process runs in $QMAILHOME, so $CONTROLDIR (default "control") is relative
to it unless absolute.

    control/dkimkeys             read_dkimkeys()   (SIGNING, "control/dkimkeys")
    control/me                   read_me()         (VERIFICATION, "Headers")
    control/signaturedomains     read_domain_list()  (VERIFICATION, "Practice")
    control/nosignaturedomains   read_domain_list()
    control/dmarcforwarders      read_lines()      (VERIFICATION, "DMARC")
    control/arcsealers           read_domain_list()  (VERIFICATION, "ARC")

A missing control file is an empty one; an unreadable one is exit 55.
"""
import errno
import os

from qmail_dkim import exits
from qmail_dkim.exits import QmailDkimExit

DEFAULT_QMAILHOME = "/var/qmail"
DEFAULT_CONTROLDIR = "control"
DOMAIN_LIST_MAX = 1 << 22       # octets read of (no)signaturedomains
ME_MAX = 1024                   # octets read of control/me's first line


# ------------------------------------------------------------- paths

def qmailhome(env, guess_cwd=True):
    """$QMAILHOME (the directory qmail-dkim runs in); unset: the current
    directory when it is a qmail home (it holds bin/qmail-queue or control/:
    qmail-smtpd's qmail.c has changed into its home before running us), else
    /var/qmail (see DESCRIPTION). guess_cwd=False: unset is always /var/qmail
    (qmail-dknewkey(8) and dkimtestkey(8), ENVIRONMENT: an admin runs them
    from anywhere)."""
    if env.get("QMAILHOME"):
        return env["QMAILHOME"]
    if guess_cwd and (os.path.exists("bin/qmail-queue") or os.path.isdir("control")):
        return "."
    return DEFAULT_QMAILHOME


def controldir(env):
    """$CONTROLDIR, default "control" (relative to $QMAILHOME)."""
    return env.get("CONTROLDIR") or DEFAULT_CONTROLDIR


def control_home(env, guess_cwd=True):
    """$QMAILHOME/$CONTROLDIR as a path usable from any directory ($CONTROLDIR
    may be absolute); see qmailhome() for guess_cwd."""
    return os.path.join(qmailhome(env, guess_cwd), controldir(env))


def control_path(ctl, name):
    """A control file's path: `name` under the control directory `ctl`, or,
    when `name` holds a '/', `name` as written (relative to $QMAILHOME or
    absolute)."""
    if "/" in name:
        return name
    return os.path.join(ctl, name)


# ------------------------------------------------------------- reading

def _config_error(path, e, **fields):
    return QmailDkimExit(exits.CONFIG_ERROR, "cannot read %s: %s" % (path, e.strerror), **fields)


def read_me(ctl):
    """The first line of control/me, stripped; "" when there is none."""
    path = control_path(ctl, "me")
    try:
        with open(path, "rb") as f:
            return f.readline(ME_MAX).decode("utf-8", "replace").strip()
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.ENOTDIR):
            raise _config_error(path, e, file=path)
        return ""


def read_lines(path, limit=DOMAIN_LIST_MAX):
    """The lines of a control file without '#' comments and white space at
    the ends, empty ones left out (at most `limit` octets read); [] when the
    file does not exist; exit 55 when it cannot be read."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return []
        raise _config_error(path, e, file=path)
    out = []
    for line in data.decode("utf-8", "replace").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(line)
    return out


def read_domain_list(path):
    """Lowercased domains of a control file (one a line, '#' comments,
    trailing dot dropped); [] when it does not exist."""
    from qmail_dkim.dkim.text import domain_key
    return [d for d in (domain_key(line) for line in read_lines(path)) if d]


# ------------------------------------------------------------- control/dkimkeys
#
#     # comment
#     example.com:control/domainkeys/example.com/2024:DKIMSIGNOPTIONS=-z 4
#     *.example.org:control/domainkeys/%/default
#     *:control/domainkeys/fallback
#
# First matching line wins. "*.example.org" matches subdomains only, "*" all.
# The optional third part sets variables (VAR=value, comma-separated; a value
# cannot contain ','). Skipped entirely when NODKIMKEYS is set.

class DkimKeysError(ValueError):
    pass


_VAR_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")
_VAR_REST = _VAR_FIRST | frozenset("0123456789")


def _var_name_ok(var):
    # (a set test, not a regular expression: this module is on every message's path)
    return bool(var) and var[0] in _VAR_FIRST and all(c in _VAR_REST for c in var)


def parse_dkimkeys(text, name="control/dkimkeys"):
    """[(pattern, keypath, {VAR: value})]; raises DkimKeysError."""
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise DkimKeysError("%s line %d: expected domain:keypath[:VAR=value,...]" % (name, n))
        variables = {}
        if len(parts) == 3 and parts[2]:
            for item in parts[2].split(","):
                var, eq, val = item.partition("=")
                var = var.strip()
                if not eq or not _var_name_ok(var):
                    raise DkimKeysError("%s line %d: bad variable setting %r" % (name, n, item))
                variables[var] = val
        rules.append((parts[0].strip().lower(), parts[1].strip(), variables))
    return rules


def match_dkimkeys(rules, domain):
    """First rule matching `domain`: (keypath, variables) or None."""
    domain = domain.lower()
    for pattern, keypath, variables in rules:
        if pattern == "*" or pattern == domain:
            return keypath, variables
        if pattern.startswith("*.") and domain.endswith(pattern[1:]) and domain != pattern[2:]:
            return keypath, variables
    return None


def read_dkimkeys(ctl):
    """The rules of control/dkimkeys ([] when it does not exist)."""
    path = control_path(ctl, "dkimkeys")
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except OSError as e:
        raise QmailDkimExit(exits.CONFIG_ERROR, "cannot read %s: %s (uid=%d gid=%d)"
                            % (path, e.strerror, os.getuid(), os.getgid()))
    try:
        return parse_dkimkeys(text, path)
    except DkimKeysError as e:
        raise QmailDkimExit(exits.CONFIG_ERROR, str(e))


# ------------------------------------------------------------- settings

class SignSettings:
    """What sign mode reads from the environment (SIGNING, ENVIRONMENT).

    The variables control/dkimkeys may set are in OVERRIDABLE; with_vars()
    gives the settings after a rule's VAR=value part."""

    OVERRIDABLE = ("DKIMSIGNOPTIONS", "DKIMIDENTITY", "DKIMEXPIRE", "DKIMSIGNRCPTS",
                   "DKIMSIGNEXTRA", "DKIMSIGNOPTIONSEXTRA", "EXCLUDE_DKIMSIGN", "CONTROLDIR")

    def __init__(self, env):
        self.controldir = controldir(env)
        self.domain = env.get("DKIMDOMAIN") or None     # DKIMDOMAIN; None: the From: domain
        self.use_dkimkeys = "NODKIMKEYS" not in env
        self.stored_crlf = "DKIMSTOREDCRLF" in env      # hash a stored CR LF as the line end
        self._vars = {k: env[k] for k in self.OVERRIDABLE if k in env}
        self._read(self._vars)

    def _read(self, v):
        self.options = v.get("DKIMSIGNOPTIONS", "")
        self.identity = v.get("DKIMIDENTITY")           # None: unset (empty: no i=)
        self.expire = v.get("DKIMEXPIRE")               # None: unset (empty: no x=)
        self.rcpts = v.get("DKIMSIGNRCPTS")             # None: unset
        self.extra = v.get("DKIMSIGNEXTRA") or None     # the second key template
        self.extra_options = v.get("DKIMSIGNOPTIONSEXTRA", "")
        self.exclude = v.get("EXCLUDE_DKIMSIGN")
        # relative key paths are also tried under it (SIGNING, "The key: the % rule")
        self.key_controldir = v.get("CONTROLDIR") or DEFAULT_CONTROLDIR

    def with_vars(self, variables):
        """A copy with control/dkimkeys' VAR=value settings applied."""
        new = SignSettings.__new__(SignSettings)
        new.__dict__.update(self.__dict__)
        new._vars = dict(self._vars)
        new._vars.update(variables)
        new._read(new._vars)
        return new


class VerifySettings:
    """What verify mode reads from the environment and control/me
    (VERIFICATION, ENVIRONMENT). Control files that practice may need are
    read only when it asks (domain_list)."""

    def __init__(self, env):
        self.controldir = controldir(env)
        self.authserv_id = authserv_id(env.get("DKIMAUTHSERVID", ""), self.controldir)
        self.dkimverify = env.get("DKIMVERIFY")         # None: unset
        self.practice_method = practice_method(env)     # None: practice disabled
        self.practice_letters = practice_letters(env)   # None: DKIMPRACTICE unset
        self.signaturedomains = control_path(
            self.controldir, env.get("SIGNATUREDOMAINS") or "signaturedomains")
        self.nosignaturedomains = control_path(
            self.controldir, env.get("NOSIGNATUREDOMAINS") or "nosignaturedomains")
        self.honor_l = "HONOR_BODYLENGTHTAG" in env
        self.unsigned_from = "UNSIGNED_FROM" in env
        self.selector_data = env.get("SELECTOR_DATA")   # None: ask DNS
        self.dns = dns_settings(env)
        self.remote_ip = env.get("TCPREMOTEIP")         # for arc= (smtp.remote-ip)
        self.dmarc = DmarcSettings(env, self.dns) if _dmarc_on(env) else None

    def domain_list(self, which):
        """control/signaturedomains or control/nosignaturedomains, read now."""
        return read_domain_list(self.signaturedomains if which == "signaturedomains"
                                else self.nosignaturedomains)


def _dmarc_on(env):
    """DMARCVERIFY set, and not a relay / authenticated client (RELAYCLIENT
    or AUTHINFO set): DMARC is off otherwise (behave as without it)."""
    return "DMARCVERIFY" in env and "RELAYCLIENT" not in env and "AUTHINFO" not in env


class DmarcSettings:
    """DMARCVERIFY and what it reads from tcpserver / qmail-smtpd
    (VERIFICATION, "DMARC")."""

    def __init__(self, env, dns):
        self.letters = env.get("DMARCVERIFY", "")
        self.ip = client_ip(env.get("TCPREMOTEIP", ""), env.get("TCP6REMOTEIP", ""))
        self.spfresult = env.get("SPFRESULT")
        self.controldir = controldir(env)
        self.dns = dns                  # dns.txt.DnsSettings for dns.client


def client_ip(*candidates):
    """The first of $TCPREMOTEIP, $TCP6REMOTEIP that is an address, as
    norm_ip() gives it; None if neither is."""
    for text in candidates:
        ip = norm_ip(text)
        if ip:
            return ip
    return None


def norm_ip(text):
    """Canonical text of an IPv4 / IPv6 address (IPv4-mapped IPv6 as IPv4),
    None if it is not one."""
    import _socket as socket  # the C module: socket.py imports enum, selectors (start-up, qmail-dkimd(8) SPEED)
    text = (text or "").strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    fam = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        raw = socket.inet_pton(fam, text)
    except (OSError, ValueError):
        return None
    if fam == socket.AF_INET6 and raw[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntop(socket.AF_INET, raw[12:])
    return socket.inet_ntop(fam, raw)


def dns_settings(env):
    """$DNSCACHEIP and $DKIMDNSTIMEOUT for dns/ (DNS)."""
    from qmail_dkim.dns import txt as dnstxt     # not on the sign path
    return dnstxt.DnsSettings(env.get("DNSCACHEIP"), env.get("DKIMDNSTIMEOUT"))


def authserv_id(configured, ctl):
    """$DKIMAUTHSERVID, else the first line of control/me, else the host
    name; its first word."""
    value = configured.strip()
    if not value:
        value = read_me(ctl)
    if not value:
        import _socket as socket  # the C module (start-up)
        value = socket.gethostname() or "localhost"
    words = value.split()
    return words[0] if words else "localhost"


PRACTICE_METHODS = ("adsp", "ssp", "local")
DEFAULT_PRACTICE_LETTERS = "FGHIJKLMNPQRSTUVWX"


def practice_method(env):
    """SIGN_PRACTICE: 'adsp' (unset) / 'ssp' / 'local', or None (disabled)."""
    if "SIGN_PRACTICE" not in env:
        return "adsp"
    value = env["SIGN_PRACTICE"].strip().lower()
    return value if value in PRACTICE_METHODS else None


def practice_letters(env):
    """The DKIMPRACTICE letter set, or None when DKIMPRACTICE is unset."""
    if "DKIMPRACTICE" not in env:
        return None
    value = env["DKIMPRACTICE"].strip()
    return set((value or DEFAULT_PRACTICE_LETTERS).upper())
