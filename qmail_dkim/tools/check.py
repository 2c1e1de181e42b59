"""qmail-dkim-check: will my mail be signed, and will receivers accept the
signature? See qmail-dkim-check(8).

It runs qmail-dkim's own sign preparation (sign.run.prepare: mode, domain,
control/dkimkeys, the % rule, options, every key loaded and checked) and adds
only the explanations: each key path and why it was taken or passed over,
whether a given user can run qmail-dkim and read what it reads, what DNS
publishes for each key, and the tags a signature would carry. The last line
and the exit status say what happens to the mail (EXIT CODES below and in
the man page):

    result=sign d=... s=... key=... published=match        0
    result=sign ... published=missing|mismatch|unusable    1  receivers will fail
    result=unsigned reason="..."                           2
    result=error reason="..." exit=NN smtp="451 ..."       3  qmail-dkim gives up
    result=sign ... published=unknown                      4  DNS did not answer
"""
import errno
import getopt
import os
import pwd
import stat
import sys

from qmail_dkim import config, exits, logline, mode as modes
from qmail_dkim.exits import QmailDkimExit
from qmail_dkim.tools.cmdline import group_name, user_name
from qmail_dkim.config import qmailhome as qmail_home

# EXIT CODES (qmail-dkim-check(8)).
SIGNED = 0          # signed, and the published key matches every private key
KEY_FAILS = 1       # signed, but receivers will fail the signature
UNSIGNED = 2        # queued without a signature (or qmail-dkim not in the path)
ERROR = 3           # qmail-dkim would exit with an error: the message is refused
DNS_UNKNOWN = 4     # signed, but the published key could not be fetched
USAGE = 64

USAGE_TEXT = ("usage: qmail-dkim-check [-u user] [-r rulesfile -i ip] [-t rcpt]... address|messagefile\n"
              "       qmail-dkim-check --ready [-i ip]... [-k keytemplate] domain\n"
              "       qmail-dkim-check --help | --version\n")
HELP_TEXT = USAGE_TEXT + """
Says whether qmail-dkim would sign mail from this address (or this message
file), why or why not, and whether receivers will accept the signature.
  -u user       check as the user qmail-smtpd runs as (usually qmaild)
  -r file -i ip take the environment from the tcprules source file rule
                tcpserver would apply to a client at ip (e.g. /etc/tcp.smtp)
  -t rcpt       an envelope recipient (repeat for more), for DKIMSIGNRCPTS
  --ready domain is domain ready to send to Gmail and Yahoo (DKIM, SPF, DMARC,
                reverse DNS of each -i ip, report addresses)? exit 0 when ready
Exit status: 0 signed and the published key matches; 1 signed but receivers
will fail (key not published or not matching); 2 unsigned; 3 qmail-dkim would
refuse the message (exit code and SMTP reply shown); 4 signed, published key
not checked (DNS did not answer); 64 usage.
See qmail-dkim-check(8): man 8 qmail-dkim-check
"""

# What qmail-smtpd answers for a qmail-queue exit code (qmail.c, qmail_close).
SMTP_REPLY = {
    exits.REJECT_PERM: "554 mail server permanently rejected message (#5.3.0)",
    exits.NO_MEMORY: "451 qq out of memory (#4.3.0)",
    exits.TIMEOUT: "451 qq timeout (#4.3.0)",
    exits.WRITE_ERROR: "451 qq write error or disk full (#4.3.0)",
    exits.READ_ERROR: "451 qq read error (#4.3.0)",
    exits.CONFIG_ERROR: "451 qq unable to read configuration (#4.3.0)",
    exits.NO_CHDIR: "451 qq trouble in home directory (#4.3.0)",
    exits.REJECT_TEMP: "451 mail server temporarily rejected message (#4.3.0)",
    exits.INTERNAL_BUG: "451 qq internal bug (#4.3.0)",
    exits.CANNOT_RUN_CHILD: "451 unable to exec qq (#4.3.0)",
}


def custom(code, env):
    """The custom-error protocol qmail-dkim would use for `code`: (exit
    code, fd) or None (see exits.custom_protocol)."""
    if env is None or code not in exits.TEXTS:
        return None
    proto = exits.custom_protocol(env.get("DKIMCUSTOMERROR"), env.get("ERROR_FD", ""))
    return proto if isinstance(proto, tuple) else None


def smtp_reply(code, env=None, reason=None):
    """The SMTP reply qmail-smtpd gives when qmail-dkim exits `code`."""
    if custom(code, env):
        text = exits.custom_error_text(code, reason).decode("utf-8", "replace")
        return ("554 " if text[0] == "D" else "451 ") + text[1:]
    if code in SMTP_REPLY:
        return SMTP_REPLY[code]
    if 11 <= code <= 40:
        return "554 qq permanent problem (#5.3.0)"
    return "451 qq temporary problem (#4.3.0)"


class Done(Exception):
    """The check's verdict: the last line's fields and the exit status."""

    def __init__(self, status, result, **fields):
        super().__init__(result)
        self.status = status
        self.result = result
        self.fields = fields


class Usage(Exception):
    pass


def say(text=""):
    sys.stdout.write(text + "\n")


def refused(code, reason, env=None):
    """Done for "qmail-dkim would exit `code`": names the SMTP reply."""
    proto = custom(code, env)
    reply = smtp_reply(code, env, reason)
    say("qmail-dkim would exit %d%s: %s; the client gets \"%s\"%s"
        % (proto[0] if proto else code,
           " (DKIMCUSTOMERROR, for %d)" % code if proto else "",
           "permanent" if reply.startswith("5") else "temporary", reply,
           ", a bounce to the sender" if reply.startswith("5")
           else ", and retries later (the mail waits in the client's queue)"))
    return Done(ERROR, "error", reason=reason, exit=proto[0] if proto else code, smtp=reply)


# ------------------------------------------------------------ permissions

class Access:
    """What `user` (a pwd entry) may do with a path, decided from the
    permission bits of the file and of every directory on the way (search
    permission), with the user's primary and supplementary groups -- the
    kernel's rule, without switching user. ACLs are not read."""

    def __init__(self, user):
        import grp
        self.user = user
        self.gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall()
                                     if user.pw_name in g.gr_mem}

    def _allowed(self, st, bit):
        if self.user.pw_uid == 0:
            return bit != stat.S_IXOTH or stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111
        if st.st_uid == self.user.pw_uid:
            return st.st_mode & (bit << 6)
        if st.st_gid in self.gids:
            return st.st_mode & (bit << 3)
        return st.st_mode & bit

    def _denied(self, path, st, what):
        u = self.user
        return ("%s has mode %03o owner %s group %s; %s (uid %d gid %d) lacks %s permission"
                % (path, stat.S_IMODE(st.st_mode), user_name(st.st_uid), group_name(st.st_gid),
                   u.pw_name, u.pw_uid, u.pw_gid, what))

    def search(self, path):
        """None if the user can reach `path` (search permission on every
        directory above it, symbolic links followed), else the reason."""
        return self._walk(path)[1]

    def _walk(self, path):
        """(missing, reason) for the directories above `path`, in the
        kernel's order: missing is True when the first trouble is a
        directory that does not exist (ENOENT for the user too), False when
        it is one the user may not search or stat; (False, None) if none."""
        full = os.path.abspath(path)
        parts = full.split("/")
        for i in range(2, len(parts)):
            p = "/".join(parts[:i]) or "/"
            try:
                st = os.stat(p)
            except OSError as e:
                return (isinstance(e, (FileNotFoundError, NotADirectoryError)),
                        "%s: %s" % (p, e.strerror))
            if not self._allowed(st, stat.S_IXOTH):
                return False, self._denied(p, st, "search (x)")
            real = os.path.realpath(p)
            if real != p:
                found = self._walk(os.path.join(real, "x"))
                if found[1]:
                    return found
        return False, None

    def _final(self, path, bit, what, missing_ok=False):
        why = self.search(path)
        if why:
            return why
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None if missing_ok else "%s: does not exist" % path
        except OSError as e:
            return "%s: %s" % (path, e.strerror)
        if not self._allowed(st, bit):
            return self._denied(path, st, what)
        return None

    def read(self, path):
        """None if the user can open `path` for reading (or it does not
        exist and the user may look for it: qmail-dkim then decides)."""
        return self._final(path, stat.S_IROTH, "read", missing_ok=True)

    def execute(self, path):
        return self._final(path, stat.S_IXOTH, "execute (x)")

    def write_dir(self, path):
        why = self._final(path, stat.S_IWOTH, "write")
        return why or self._final(path, stat.S_IXOTH, "search (x)")

    def exists(self, path):
        """keypath.file_exists as the user: a path it may not look at counts
        as existing (qmail-dkim then fails reading it, with the reason); one
        under a directory that does not exist does not (no key there: the
        "%" rule tries the next path, as qmail-dkim does)."""
        from qmail_dkim.sign import keypath
        missing, why = self._walk(path)
        if why:
            return not missing
        return keypath.file_exists(path)


# ------------------------------------------------------------ arguments

class Args:
    def __init__(self):
        self.user = None        # pwd entry (-u)
        self.rules = None       # -r
        self.ip = None          # -i
        self.target = None      # address or message file
        self.rcpts = []         # -t: envelope recipients (for DKIMSIGNRCPTS)


def parse_args(argv):
    """Args, or raises Usage; prints --help / --version and returns None."""
    try:
        opts, rest = getopt.getopt(argv, "u:r:i:t:h", ["help", "version"])
    except getopt.GetoptError as e:
        raise Usage(e.msg)
    o = dict(opts)
    if "--help" in o or "-h" in o:
        sys.stdout.write(HELP_TEXT)
        return None
    if "--version" in o:
        from qmail_dkim.tools.cmdline import version_line
        sys.stdout.write(version_line("qmail-dkim-check"))
        return None
    if len(rest) != 1:
        raise Usage("give one address or message file" if not rest
                    else "one address or message file, not %d" % len(rest))
    if ("-r" in o) != ("-i" in o):
        raise Usage("-r and -i go together")
    a = Args()
    a.rules, a.ip, a.target = o.get("-r"), o.get("-i"), rest[0]
    a.rcpts = [v for k, v in opts if k == "-t"]
    if "-u" in o:
        try:
            a.user = pwd.getpwnam(o["-u"])
        except KeyError:
            raise Usage("no such user %s" % o["-u"])
    return a


def spool_message(arg, env):
    """(Spool, description), spooled to $TMPDIR by qmail-dkim's own code, so
    that header parsing and its bounds are the same: an existing file is a
    message, anything else a From address."""
    from qmail_dkim.spool import Spool
    tmpdir = env.get("TMPDIR") or "/tmp"
    if os.path.isfile(arg):
        try:
            fd = os.open(arg, os.O_RDONLY)
        except OSError as e:
            raise Usage("cannot read %s: %s" % (arg, e.strerror))
        what = "message file %s" % arg
    else:
        data = b"From: <%s>\n\n" % arg.encode("utf-8", "replace")[:8192]
        fd, w = os.pipe()
        os.write(w, data)
        os.close(w)
        what = "address %s" % arg
    try:
        return Spool.from_fd(fd, tmpdir), what
    except QmailDkimExit as e:
        raise refused(e.code, e.reason, env)
    finally:
        os.close(fd)


# ------------------------------------------------------------ the steps

def rules_environment(args, env):
    """The environment tcpserver gives a client at args.ip, and the rule's
    QMAILQUEUE (None: not set). Raises Done for a deny rule."""
    from qmail_dkim.tools import tcprules
    try:
        with open(args.rules, encoding="utf-8", errors="replace") as f:
            rule = tcprules.rule_for(f.read(), args.ip)
    except OSError as e:
        raise Usage("cannot read %s: %s" % (args.rules, e.strerror))
    except tcprules.RulesError as e:
        raise Usage("%s: %s" % (args.rules, e))
    env = dict(env)
    for var in ("RELAYCLIENT", "AUTHINFO", "DKIMSIGN", "DKIMKEY", "DKIMVERIFY", "QMAILQUEUE"):
        env.pop(var, None)
    if rule is None:
        say("rules: no rule in %s matches %s (tcpserver would set no variables)"
            % (args.rules, args.ip))
        return env
    n, addr, action, renv = rule
    say("rules: %s line %d (%s): %s %s" % (args.rules, n, addr or "the empty rule", action,
                                          " ".join("%s=%s" % kv for kv in renv.items())))
    if action == "deny":
        raise Done(ERROR, "error", reason="tcpserver denies %s" % args.ip, exit="-",
                   smtp="none: tcpserver closes the connection")
    env.update(renv)
    return env


def is_qmail_dkim(path):
    """Does `path` run qmail-dkim (our program or a link to it)?"""
    if os.path.basename(os.path.realpath(path)) == "qmail-dkim":
        return True
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b"qmail_dkim.main" in head


def find_program(env, home, from_rules):
    """The qmail-dkim that qmail-smtpd runs: QMAILQUEUE (relative to
    QMAILHOME, where qmail-smtpd runs), else bin/qmail-dkim there, else the
    one installed next to this command. Raises Done when the rules give
    QMAILQUEUE to another program, or none."""
    qq = env.get("QMAILQUEUE")
    if from_rules and not qq:
        say("QMAILQUEUE: not set by the rule: qmail-smtpd runs bin/qmail-queue")
        raise Done(UNSIGNED, "unsigned",
                   reason="the rule sets no QMAILQUEUE: qmail-dkim does not run")
    if qq:
        path = os.path.join(home, qq)
        if not os.path.exists(path):
            say("QMAILQUEUE: %s does not exist" % path)
            raise refused(exits.CANNOT_RUN_CHILD, "QMAILQUEUE %s does not exist" % path)
        if not is_qmail_dkim(path):
            say("QMAILQUEUE: %s is not qmail-dkim" % path)
            raise Done(UNSIGNED, "unsigned",
                       reason="QMAILQUEUE=%s is another program: qmail-dkim does not run" % qq)
        return path
    for cand in (os.path.join(home, "bin/qmail-dkim"),
                 os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "qmail-dkim")):
        if os.path.exists(cand):
            return cand
    return None


def interpreter(program, env):
    """The interpreter on the program's #! line (env resolved through PATH),
    or None when it has none."""
    try:
        with open(program, "rb") as f:
            first = f.readline(512)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].decode("utf-8", "replace").split()
    if not words:
        return None
    if os.path.basename(words[0]) == "env" and len(words) > 1:
        import shutil
        return shutil.which(words[1], path=env.get("PATH") or "/usr/bin:/bin") or words[1]
    return words[0]


def interpreter_options(program):
    """The options after the interpreter on the program's #! line."""
    try:
        with open(program, "rb") as f:
            words = f.readline(512)[2:].decode("utf-8", "replace").split()
    except OSError:
        return []
    if words and os.path.basename(words[0]) == "env":
        words = words[1:]
        if words[:1] == ["-S"]:          # env's own -S (split the line)
            words = words[1:]
    return words[1:]


def check_program(program, access, env):
    """-u: can the user run qmail-dkim and its interpreter? qmail-smtpd
    answers 451 "unable to exec qq" otherwise, and qmail-dkim logs nothing."""
    if program is None:
        say("program: qmail-dkim not found (give the rule's QMAILQUEUE with -r)")
        return
    real = os.path.realpath(program)
    say("program: %s%s" % (program, "" if real == program else " -> " + real))
    interp = interpreter(real, env)
    if interp:
        ireal = os.path.realpath(interp)
        say("interpreter: %s%s" % (interp, "" if ireal == interp else " -> " + ireal))
        if "-S" not in interpreter_options(real):
            say("interpreter options: no -S on the #! line: every message also runs Python's "
                "site module, a few ms more, and the qmail-dkimd hand-over is not the cheap one "
                "(README step 1)")
    if access is None:
        return
    name = access.user.pw_name
    for what, path in (("qmail-dkim", program), ("qmail-dkim", real),
                       ("its interpreter", interp), ("its interpreter", interp and os.path.realpath(interp))):
        if not path:
            continue
        why = access.execute(path)
        if why:
            say("runnable by %s: NO - %s" % (name, why))
            raise refused(exits.CANNOT_RUN_CHILD, "%s cannot run %s %s: %s" % (name, what, path, why))
    import qmail_dkim
    pkg = os.path.dirname(os.path.abspath(qmail_dkim.__file__))
    why = access.read(os.path.join(pkg, "main.py"))
    if why:
        say("runnable by %s: NO - %s" % (name, why))
        raise refused(exits.INTERNAL_BUG, "%s cannot read the qmail_dkim package: %s" % (name, why))
    say("runnable by %s: yes" % name)


def check_home(env, access):
    home = qmail_home(env)
    try:
        os.chdir(home)
    except OSError as e:
        raise refused(exits.NO_CHDIR, "cannot change to QMAILHOME %s: %s" % (home, e.strerror), env)
    if access is not None:
        why = access.search(os.path.join(os.path.abspath(home), "x"))
        if why:
            raise refused(exits.NO_CHDIR, "%s cannot change to QMAILHOME %s: %s"
                          % (access.user.pw_name, home, why), env)
    return home


def check_tmpdir(env, access):
    """-u: qmail-dkim spools the message to $TMPDIR (53 when it cannot).
    Without -u, spool_message() spools there itself, as qmail-dkim does."""
    tmpdir = env.get("TMPDIR") or "/tmp"
    why = access.write_dir(tmpdir)
    if why:
        say("TMPDIR %s: NOT writable by %s - %s" % (tmpdir, access.user.pw_name, why))
        raise refused(exits.WRITE_ERROR, "TMPDIR %s not writable by %s: %s"
                      % (tmpdir, access.user.pw_name, why), env)
    say("TMPDIR %s: writable by %s" % (tmpdir, access.user.pw_name))


def check_queue_program(env, access):
    """The program qmail-dkim runs after signing (bin/qmail-queue)."""
    from qmail_dkim import child
    prog = child.queue_argv([], env)[0]
    if access is None:
        why = None
        try:
            st = os.stat(prog)
            if stat.S_ISDIR(st.st_mode) or not os.access(prog, os.X_OK):
                why = os.strerror(errno.EACCES)
        except OSError as e:
            why = e.strerror
    else:
        why = access.execute(prog)
    say("queue program %s: %s" % (prog, "runnable" if why is None else "NOT runnable - " + why))
    if why:
        raise refused(exits.CANNOT_RUN_CHILD, "cannot run queue program %s: %s" % (prog, why), env)


def check_verify_settings(env, access):
    """Verify mode reads control/me (unless DKIMAUTHSERVID is set) when it
    starts: qmail-dkim's own settings code, and with -u the user's access."""
    if access is not None and not env.get("DKIMAUTHSERVID", "").strip():
        path = config.control_path(config.controldir(env), "me")
        why = access.read(path)
        if why:
            raise refused(exits.CONFIG_ERROR, "cannot read %s: %s" % (path, why), env)
    try:
        config.VerifySettings(env)
    except QmailDkimExit as e:
        raise refused(e.code, e.reason, env)


def prepare(env, spool, template, access, rcpts=()):
    """sign.run.prepare -- qmail-dkim's own code -- with the key paths it
    looked at recorded. Returns (plan, looked); raises Done."""
    from qmail_dkim.sign import keypath
    from qmail_dkim.sign import run as sign
    looked = []
    base_exists = access.exists if access is not None else keypath.file_exists

    def exists(path):
        ok = base_exists(path)
        looked.append((path, ok))
        return ok
    try:
        envelope = b"F\0" + b"".join(b"T%s\0" % r.encode("utf-8", "replace") for r in rcpts) + b"\0"
        p = sign.prepare(config.SignSettings(env), spool.fields, template,
                         envelope=lambda: envelope, exists=exists,
                         overflow=spool.overflow,
                         readable=access.read if access is not None else None)
    except sign.Unsigned as u:
        show_paths(looked, ())
        raise Done(UNSIGNED, "unsigned", reason=u.reason)
    except QmailDkimExit as e:
        show_paths(looked, ())
        raise refused(e.code, e.reason, env)
    return p, looked


def show_paths(looked, chosen):
    seen = set()
    for path, ok in looked:
        if path in seen:
            continue
        seen.add(path)
        if path in chosen:
            say("key path: %s - exists, used" % path)
        else:
            say("key path: %s - %s" % (path, "exists" if ok else "does not exist"))


def show_plan(p, looked, access):
    from qmail_dkim.dkim import signer
    say("domain: %s%s" % (p.domain, "" if p.domain == p.from_domain
                          else " (From: domain %s)" % p.from_domain))
    if p.dkimkeys_rule:
        say(" ".join(["control/dkimkeys: chose", p.dkimkeys_rule[0]] + [
            "%s=%s" % kv for kv in sorted(p.dkimkeys_rule[1].items())]))
    show_paths(looked, {j.resolution.path for j in p.jobs})
    for job in p.jobs:
        key, res = job.key, job.resolution
        if access is not None:
            say("readable by %s: yes" % access.user.pw_name)
        say("key: %s, %s %d bits%s" % (res.path, key.kind, key.bits,
                                       ", WORLD-READABLE" if key.world_readable else ""))
        tags = signer.tag_list(key.algorithm, res.domain, res.selector, job.options, p.include)
        say("signature: " + "; ".join("%s=%s" % (t.decode(), v.decode("utf-8", "replace"))
                                      for t, v in tags[:-1]) + "; b=<signature>")
    for w in p.warnings:
        say("warning: " + w)


def dns_servers_text(env):
    from qmail_dkim.dns import txt as dnstxt
    warning = dnstxt.dnscacheip_warning(env.get("DNSCACHEIP"))
    if warning:
        say("warning: " + warning)
    return dnstxt.servers_text(env.get("DNSCACHEIP"))


def published(env, job):
    """What DNS publishes for one signature: match, missing, mismatch,
    unusable or unknown (DNS did not answer)."""
    from qmail_dkim.dns import txt as dnstxt
    from qmail_dkim.dkim import keyrecord
    res = job.resolution
    name = "%s._domainkey.%s" % (res.selector, res.domain)
    ans = dnstxt.lookup_txt(name, config.dns_settings(env))
    server = " from %s" % ans.server if getattr(ans, "server", None) else ""
    if ans.status == "temp":
        say("dns: %s TXT: no answer (%s)" % (name, ans.error))
        return "unknown"
    if ans.status != "ok":
        say("dns: %s TXT%s: %s - receivers will fail the signature (publish the record"
            " that dknewkey printed)" % (name, server, "no such name" if ans.status == "nxdomain"
                                         else "no TXT record"))
        return "missing"
    rec = None
    for txt in ans.records:
        try:
            rec = keyrecord.parse_key_record(txt)
            break
        except keyrecord.KeyRecordError as e:
            say("dns: %s TXT%s: unusable record: %s" % (name, server, e.reason))
    if rec is None:
        return "unusable"
    match = rec.p == job.key.public_b64().encode()
    say("dns: %s TXT%s: k=%s%s, public key %s" % (
        name, server, rec.k.decode("ascii", "replace"), " t=y (testing)" if rec.testing else "",
        "matches the private key" if match
        else "DOES NOT MATCH the private key - receivers will fail the signature"))
    return "match" if match else "mismatch"


def check(args):
    """Run the steps; always ends by raising Done."""
    env = dict(os.environ)
    access = Access(args.user) if args.user is not None else None
    if args.rules:
        env = rules_environment(args, env)
    home = qmail_home(env)
    program = find_program(env, home, bool(args.rules))
    check_program(program, access, env)
    check_home(env, access)
    mode, arg = modes.select(env)
    if access is not None:
        check_tmpdir(env, access)
    spool, what = spool_message(args.target, env)
    say("input: %s" % what)
    if mode != "sign":
        say("mode: verify (%s)" % ("DKIMVERIFY=%s" % arg if "DKIMVERIFY" in env
                                   else "no DKIMSIGN, DKIMKEY, RELAYCLIENT or AUTHINFO"))
        check_verify_settings(env, access)
        from qmail_dkim.verify.run import setting_warnings      # the log line's own list
        for w in setting_warnings(config.VerifySettings(env)):
            say("warning: %s (also in qmail-dkim's log line)" % w)
        raise Done(UNSIGNED, "unsigned", reason="qmail-dkim would verify, not sign")
    say("mode: sign, key template %s" % arg)
    if "DKIMSIGNRCPTS" in env:
        say("DKIMSIGNRCPTS=%s: envelope recipients %s" % (
            env["DKIMSIGNRCPTS"], ", ".join(args.rcpts) if args.rcpts
            else "none given (-t rcpt), so none matches"))
    p, looked = prepare(env, spool, arg, access, args.rcpts)
    spool.close()
    show_plan(p, looked, access)
    check_queue_program(env, access)
    say("dns: asking %s" % dns_servers_text(env))
    states = [published(env, job) for job in p.jobs]
    status = SIGNED
    if any(s in ("missing", "mismatch", "unusable") for s in states):
        status = KEY_FAILS
    elif "unknown" in states:
        status = DNS_UNKNOWN
    res = [j.resolution for j in p.jobs]
    raise Done(status, "sign", d=[r.domain for r in res], s=[r.selector for r in res],
               key=[r.path for r in res], rcpt=p.rcpt, published=states)


def finish(done):
    items = [("result", done.result)] + [(k, v) for k, v in done.fields.items() if v is not None]
    say(" ".join("%s=%s" % (k, logline.quote(v)) for k, v in items))
    return done.status


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--ready"]:             # qmail-dkim-check(8), READINESS: tools/ready.py
        from qmail_dkim.tools import ready
        return ready.main(argv[1:])
    try:
        args = parse_args(argv)
        if args is None:
            return 0
        check(args)
    except Usage as e:
        sys.stderr.write("qmail-dkim-check: %s\n%s" % (e, USAGE_TEXT))
        return USAGE
    except Done as d:
        sys.stdout.flush()
        return finish(d)
    raise AssertionError("check() ends with Done")  # pragma: no cover
