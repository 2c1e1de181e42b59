"""qmail-dkim-check: why is (or isn't) my mail signed? See qmail-dkim-check(8).

It runs the same decision code as qmail-dkim (sign.plan, keypath.resolve,
keyfile.load_private_key), adding only the explanations: each key path and
why it was taken or passed over, whether a given user can read the key, what
DNS publishes for it, and the tags a signature would carry. The last line is

    result=sign d=... s=... key=...
    result=unsigned reason="..."
    result=error reason="..." exit=NN      (qmail-dkim would fail temporarily/permanently)
"""
import getopt
import os
import pwd
import stat
import sys
import time

from qmail_dkim import exits, logline, mode as modes
from qmail_dkim.sign import headers as headerset
from qmail_dkim.sign import keypath
from qmail_dkim.sign import run as sign
from qmail_dkim.exits import QmailDkimExit

USAGE = "usage: qmail-dkim-check [-u user] [-r rulesfile -i ip] address|messagefile"


def say(text=""):
    sys.stdout.write(text + "\n")


def readable_by(path, user):
    """None if `user` (a pwd entry) can read `path`, else the reason.

    Decided from the permission bits of the file and of every directory on
    the way (search permission), with the user's primary and supplementary
    groups -- the same rule the kernel applies, without switching user.
    """
    if user.pw_uid == 0:
        return None
    import grp
    gids = {user.pw_gid} | {g.gr_gid for g in grp.getgrall() if user.pw_name in g.gr_mem}
    full = os.path.abspath(path)
    parts = full.split("/")
    for i in range(2, len(parts) + 1):
        p = "/".join(parts[:i]) or "/"
        try:
            st = os.stat(p)
        except OSError as e:
            return "%s: %s" % (p, e.strerror)
        need = stat.S_IROTH if i == len(parts) else stat.S_IXOTH
        if st.st_uid == user.pw_uid:
            ok = st.st_mode & (need << 6)
        elif st.st_gid in gids:
            ok = st.st_mode & (need << 3)
        else:
            ok = st.st_mode & need
        if not ok:
            what = "read" if i == len(parts) else "search (x)"
            return ("Permission denied: %s has mode %03o owner %d group %d; %s (uid %d gid %d) "
                    "lacks %s permission" % (p, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                               user.pw_name, user.pw_uid, user.pw_gid, what))
    return None


def load_message(arg):
    if os.path.isfile(arg):
        with open(arg, "rb") as f:
            return f.read(), "message file %s" % arg
    return b"From: <%s>\n\n" % arg.encode("utf-8"), "address %s" % arg


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, args = getopt.getopt(argv, "u:r:i:")
    except getopt.GetoptError as e:
        sys.stderr.write("qmail-dkim-check: %s\n%s\n" % (e.msg, USAGE))
        return 64
    o = dict(opts)
    if len(args) != 1 or (("-r" in o) != ("-i" in o)):
        sys.stderr.write(USAGE + "\n")
        return 64
    env = dict(os.environ)
    if "-r" in o:
        from qmail_dkim.tools import tcprules
        try:
            with open(o["-r"], encoding="utf-8", errors="replace") as f:
                rule = tcprules.rule_for(f.read(), o["-i"])
        except (OSError, tcprules.RulesError) as e:
            sys.stderr.write("qmail-dkim-check: %s: %s\n" % (o["-r"], e))
            return 64
        for var in ("RELAYCLIENT", "AUTHINFO", "DKIMSIGN", "DKIMKEY", "DKIMVERIFY"):
            env.pop(var, None)
        if rule is None:
            say("rules: no rule in %s matches %s (tcpserver would use no variables)" % (o["-r"], o["-i"]))
        else:
            n, addr, action, renv = rule
            say("rules: %s line %d %r: %s %s" % (o["-r"], n, addr, action,
                                                 " ".join("%s=%s" % kv for kv in renv.items())))
            if action == "deny":
                return finish("error", reason="tcpserver denies %s" % o["-i"], exit="-")
            env.update(renv)
    user = None
    if "-u" in o:
        try:
            user = pwd.getpwnam(o["-u"])
        except KeyError:
            sys.stderr.write("qmail-dkim-check: no such user %s\n" % o["-u"])
            return 64

    home = env.get("QMAILHOME") or "/var/qmail"
    try:
        os.chdir(home)
    except OSError as e:
        return finish("error", reason="cannot change to QMAILHOME %s: %s" % (home, e.strerror),
                      exit=exits.NO_CHDIR)
    data, what = load_message(args[0])
    from qmail_dkim.dkim.message import parse_header
    fields, _ = parse_header(data)
    mode, arg = modes.select(env)
    say("input: %s" % what)
    if mode != "sign":
        say("mode: verify (%s)" % ("DKIMVERIFY=%s" % arg if "DKIMVERIFY" in env
                                    else "no DKIMSIGN, DKIMKEY, RELAYCLIENT or AUTHINFO"))
        return finish("unsigned", reason="qmail-dkim would verify, not sign")
    say("mode: sign, key template %s" % arg)

    looked = []

    def exists(path):
        ok = keypath.file_exists(path)
        looked.append((path, ok))
        return ok
    try:
        plan = sign.plan(env, fields, arg, envelope=lambda: b"", exists=exists)
    except sign.Unsigned as u:
        show_paths(looked, None)
        return finish("unsigned", reason=u.reason)
    except QmailDkimExit as e:
        show_paths(looked, None)
        return finish("error", reason=e.reason, exit=e.code)
    say("domain: %s%s" % (plan.domain, "" if plan.domain == plan.from_domain
                            else " (From: domain %s)" % plan.from_domain))
    if plan.dkimkeys_rule:
        say("control/dkimkeys: chose %s %s" % plan.dkimkeys_rule)
    show_paths(looked, plan.resolution.path)
    res = plan.resolution
    if user is not None:
        why = readable_by(res.path, user)
        say("readable by %s: %s" % (user.pw_name, "yes" if why is None else "NO - " + why))
        if why:
            return finish("error", reason="key %s not readable by %s: %s" % (res.path, user.pw_name, why),
                          exit=exits.CONFIG_ERROR)
    from qmail_dkim.dkim import privkey as keyfile
    try:
        key = keyfile.load_private_key(res.path)
    except keyfile.KeyFileError as e:
        return finish("error", reason="cannot use key %s" % e, exit=exits.CONFIG_ERROR)
    say("key: %s, %s %d bits%s" % (res.path, key.kind, key.bits,
                                   ", WORLD-READABLE" if key.world_readable else ""))
    opts = plan.options
    if opts.algorithm and opts.algorithm != key.kind:
        return finish("error", reason="-z asks for %s but the key is %s" % (opts.algorithm, key.kind),
                      exit=exits.CONFIG_ERROR)
    show_dns(env, res, key)
    include = headerset.select(fields, plan.env.get("EXCLUDE_DKIMSIGN"))
    tags = ["v=1", "a=%s" % key.algorithm.decode(), "c=%s/%s" % opts.canon, "d=%s" % res.domain,
            "s=%s" % res.selector]
    if opts.qtag:
        tags.append("q=dns/txt")
    if opts.identity:
        tags.append("i=%s" % opts.identity)
    if opts.ttag:
        tags.append("t=<now>")
    if opts.expire is not None:
        tags.append("x=<now+%d>" % opts.expire)
    if opts.length:
        tags.append("l=<body length>")
    tags.append("h=%s" % b":".join(include).decode())
    say("signature: " + "; ".join(tags))
    for w in opts.warnings:
        say("warning: " + w)
    if plan.extra_note:
        say("warning: " + plan.extra_note)
    return finish("sign", d=res.domain, s=res.selector, key=res.path)


def show_paths(looked, chosen):
    for path, ok in looked:
        if path == chosen:
            say("key path: %s - exists, used" % path)
        else:
            say("key path: %s - %s" % (path, "exists" if ok else "does not exist"))


def show_dns(env, res, key):
    from qmail_dkim.dns import txt as dnstxt
    from qmail_dkim.dkim import keyrecord
    name = "%s._domainkey.%s" % (res.selector, res.domain)
    ans = dnstxt.lookup_txt(name, env)
    if ans.status != "ok":
        say("dns: %s TXT: %s %s" % (name, ans.status, ans.error))
        return
    rec = None
    for txt in ans.records:
        try:
            rec = keyrecord.parse_key_record(txt)
            break
        except keyrecord.KeyRecordError as e:
            say("dns: %s TXT: unusable record (%s): %s" % (name, e.letter, e.reason))
    if rec is None:
        return
    import base64
    match = rec.p == key.public_b64().encode()
    say("dns: %s TXT: k=%s%s, public key %s" % (name, rec.k.decode(), " t=y (testing)" if rec.testing else "",
                                              "matches the private key" if match else "DOES NOT MATCH the private key"))


def finish(result, **fields):
    items = [("result", result)] + [(k, v) for k, v in fields.items() if v is not None]
    say(" ".join("%s=%s" % (k, logline.quote(v)) for k, v in items))
    return 0 if result == "sign" else 1
