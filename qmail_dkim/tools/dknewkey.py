"""dknewkey: make DKIM key pairs for qmail-dkim and print their DNS records.

    dknewkey [-t rsa|ed25519] [-b bits] [-d domain] [-g group] [-f] [-T|-e] selector [bits]
    dknewkey -p [-T] [-d domain] [selector]
    dknewkey -r [-d domain] selector

Files (QMAILHOME default /var/qmail, CONTROLDIR default control):

    $QMAILHOME/$CONTROLDIR/domainkeys/<domain>/<selector>      private key, 0640
    $QMAILHOME/$CONTROLDIR/domainkeys/<domain>/<selector>.pub  public key (PEM), 0644
    $QMAILHOME/$CONTROLDIR/domainkeys/<selector>               the fallback key (no -d)

The private key's group is -g group, default "nofiles": the group qmail-smtpd
(user qmaild) runs with on a standard qmail install, and so the group that
qmail-dkim runs with when qmail-smtpd starts it as QMAILQUEUE.

Exit codes: 0 done, 1 failure (file exists, cannot write, no such key), 64 usage.
"""
import base64
import getopt
import grp
import os
import sys
import tempfile

from qmail_dkim import config
from qmail_dkim.tools import zonetext as dnsrecord
from qmail_dkim.tools.cmdline import group_name

# Installed twice: qmail-dknewkey (a name only we install: dkimpy puts its own
# dknewkey into the same bin/, and a reinstall of dkimpy replaces ours) and
# dknewkey (the name indimail users know). Messages use the name it was run as.
PROG = os.path.basename(sys.argv[0]) if os.path.basename(sys.argv[0]) in (
    "dknewkey", "qmail-dknewkey") else "qmail-dknewkey"
DEFAULT_GROUP = "nofiles"
DEFAULT_BITS = 2048
MIN_BITS = 1024
MAX_BITS = 4096       # RFC 8301: verifiers must handle 1024..4096
PRIVATE_MODE = 0o640
PUBLIC_MODE = 0o644
DIR_MODE = 0o755

USAGE = """\
usage: %(prog)s [-t rsa|ed25519] [-b bits] [-d domain] [-g group] [-f] [-T|-e] selector
       %(prog)s -p [-T] [-d domain] [selector]
       %(prog)s -r [-d domain] selector
       %(prog)s --help | --version
  -t type   key type: rsa (default) or ed25519
  -b bits   RSA key size, %d..%d (default %d)
  -d domain key for this domain (default: the fallback key used for any domain)
  -g group  group that may read the private key (default %s)
  -f        replace an existing key
  -T        publish the key in testing mode (t=y)
  -e        production mode, no t=y (the default; accepted for compatibility)
  -p        print the DNS records of existing keys
  -r        remove a key
See qmail-dknewkey(8): man 8 qmail-dknewkey
""".replace("%(prog)s", PROG) % (MIN_BITS, MAX_BITS, DEFAULT_BITS, DEFAULT_GROUP)


class UsageError(Exception):
    pass


class Failure(Exception):
    pass


def warn(msg):
    sys.stderr.write("%s: warning: %s\n" % (PROG, msg))


def controldir(env):
    """$QMAILHOME/$CONTROLDIR, QMAILHOME default /var/qmail (ENVIRONMENT)."""
    return config.control_home(env, guess_cwd=False)


def keydir(env, domain=None):
    d = os.path.join(controldir(env), "domainkeys")
    return os.path.join(d, domain) if domain else d


def normalize_domain(domain):
    """-d domain as a directory name under domainkeys/ (qmail-dknewkey(8),
    OPTIONS: lowercase, the A-label of an IDN, a host name); UsageError else."""
    d, why = dnsrecord.key_domain(domain)
    if why:
        raise UsageError("invalid domain %r: %s" % (domain, why))
    return d


def check_selector(selector):
    if (not dnsrecord.check_name(selector) or selector.endswith(".pub")
            or len(selector) > 63 * 4):
        raise UsageError("invalid selector %r: letters, digits, '-' and '_' (dot-separated "
                         "labels), not ending in .pub" % selector)
    return selector


def _resolve_group(group, explicit):
    """gid for group, or None (with a warning) when the default group is missing."""
    try:
        return grp.getgrnam(group).gr_gid
    except KeyError:
        pass
    if group.isdigit():
        return int(group)
    if explicit:
        raise Failure("no such group %r" % group)
    warn("group %r does not exist here; the private key keeps the group %s "
         "(give -g with the group qmail-smtpd runs with, or qmail-dkim cannot read it)"
         % (group, group_name(os.getegid())))
    return None


def _makedirs(path):
    """Create path and missing parents with mode 0755 (umask notwithstanding)."""
    missing = []
    p = path
    while p and not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for d in reversed(missing):
        try:
            os.mkdir(d, DIR_MODE)
        except FileExistsError:
            continue
        os.chmod(d, DIR_MODE)


def _write_atomic(path, data, mode, gid=None, force=False):
    """Write data to path via a temporary file in the same directory.

    Without force an existing path is never replaced (link() refuses
    atomically); with force it is replaced by rename().
    """
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(path) + ".")
    try:
        os.fchmod(fd, mode)
        if gid is not None:
            try:
                os.fchown(fd, -1, gid)
            except OSError as e:
                warn("cannot give %s to group %s: %s" % (path, group_name(gid), e.strerror))
        with os.fdopen(fd, "wb") as f:
            fd = None
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.rename(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise Failure("%s exists (use -f to replace it)" % path)
            os.unlink(tmp)
        tmp = None
    finally:
        if fd is not None:
            os.close(fd)
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    try:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


def generate(kind, bits):
    """(private PEM, public PEM, p= value) for a new key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    if kind == "rsa":
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        p_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    else:
        key = ed25519.Ed25519PrivateKey.generate()
        p_der = key.public_key().public_bytes(serialization.Encoding.Raw,
                                              serialization.PublicFormat.Raw)
    priv = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return priv, pub, base64.b64encode(p_der).decode("ascii")


def _comment(selector, domain, kind, bits, path):
    what = "%s %d bits" % (kind, bits) if kind == "rsa" else kind
    if domain:
        return "DKIM key %s for %s (%s), private key %s" % (selector, domain, what, path)
    return "DKIM fallback key %s for any domain (%s), private key %s" % (selector, what, path)


def cmd_new(env, out, selector, domain, kind, bits, group, group_explicit, force, testing):
    d = keydir(env, domain)
    path = os.path.join(d, selector)
    pubpath = path + ".pub"
    if not force:
        for p in (path, pubpath):
            if os.path.lexists(p):
                raise Failure("%s exists (use -f to replace it)" % p)
    gid = _resolve_group(group, group_explicit)
    if not os.path.isdir(controldir(env)):
        raise Failure("%s does not exist (is qmail installed there? set QMAILHOME and "
                      "CONTROLDIR)" % controldir(env))
    try:
        _makedirs(d)
    except OSError as e:
        raise Failure("cannot create %s: %s" % (e.filename or d, e.strerror))
    priv, pub, p = generate(kind, bits)
    try:
        _write_atomic(path, priv, PRIVATE_MODE, gid, force)
        _write_atomic(pubpath, pub, PUBLIC_MODE, None, force)
    except OSError as e:
        raise Failure("cannot write %s: %s" % (e.filename or path, e.strerror))
    value = dnsrecord.record_value(kind, p, testing)
    out.write(dnsrecord.render_all(selector, domain, value,
                                   _comment(selector, domain, kind, bits, path)))
    return 0


def _print_key(out, path, selector, domain, testing):
    from qmail_dkim.dkim import privkey as keyfile
    try:
        key = keyfile.load_private_key(path)
    except keyfile.KeyFileError as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return False
    value = dnsrecord.record_value(key.kind, key.public_b64(), testing)
    out.write(dnsrecord.render_all(selector, domain, value,
                                   _comment(selector, domain, key.kind, key.bits, path)))
    return True


def _keys_in(d):
    """Selectors of the key files directly in d (not *.pub, not dot files)."""
    try:
        names = sorted(os.listdir(d))
    except FileNotFoundError:
        return []
    out = []
    for n in names:
        if n.startswith(".") or n.endswith(".pub"):
            continue
        p = os.path.join(d, n)
        if os.path.isfile(p) and dnsrecord.check_name(n):
            out.append(n)
    return out


def cmd_print(env, out, selector, domain, testing):
    base = keydir(env)
    todo = []        # (path, selector, domain)
    if selector:
        todo.append((os.path.join(keydir(env, domain), selector), selector, domain))
    elif domain:
        todo += [(os.path.join(keydir(env, domain), s), s, domain)
                 for s in _keys_in(keydir(env, domain))]
    else:
        todo += [(os.path.join(base, s), s, None) for s in _keys_in(base)]
        try:
            subdirs = sorted(n for n in os.listdir(base)
                             if os.path.isdir(os.path.join(base, n)) and not n.startswith("."))
        except FileNotFoundError:
            subdirs = []
        for dom in subdirs:
            todo += [(os.path.join(base, dom, s), s, dom) for s in _keys_in(os.path.join(base, dom))]
    if not todo:
        raise Failure("no keys in %s" % (keydir(env, domain)))
    ok = True
    first = True
    for path, sel, dom in todo:
        if not os.path.lexists(path):
            sys.stderr.write("%s: %s: no such key\n" % (PROG, path))
            ok = False
            continue
        if not first:
            out.write("\n")
        if _print_key(out, path, sel, dom, testing):
            first = False
        else:
            ok = False
    return 0 if ok else 1


def cmd_remove(env, out, selector, domain):
    d = keydir(env, domain)
    removed = []
    for p in (os.path.join(d, selector), os.path.join(d, selector + ".pub")):
        try:
            os.unlink(p)
            removed.append(p)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise Failure("cannot remove %s: %s" % (p, e.strerror))
    if not removed:
        raise Failure("no key %s in %s" % (selector, d))
    for p in removed:
        out.write("removed %s\n" % p)
    name = dnsrecord.record_name(selector, domain)
    out.write("Keep the TXT record %s in DNS until signatures made with this key have "
              "expired (x=, one week by default), then delete it.\n" % name)
    return 0


def parse_args(argv):
    try:
        opts, args = getopt.getopt(argv, "t:b:d:g:fTeprh", ["help", "version"])
    except getopt.GetoptError as e:
        raise UsageError(str(e))
    o = {"kind": "rsa", "bits": None, "domain": None, "group": DEFAULT_GROUP,
         "group_explicit": False, "force": False, "testing": None, "action": "new"}
    for opt, val in opts:
        if opt == "-t":
            v = val.lower()
            if v not in ("rsa", "ed25519"):
                raise UsageError("-t wants rsa or ed25519, not %r" % val)
            o["kind"] = v
        elif opt == "-b":
            if not val.isdigit():
                raise UsageError("-b wants a number of bits, not %r" % val)
            o["bits"] = int(val)
        elif opt == "-d":
            o["domain"] = normalize_domain(val)
        elif opt == "-g":
            o["group"] = val
            o["group_explicit"] = True
        elif opt == "-f":
            o["force"] = True
        elif opt in ("-T", "-e"):
            t = opt == "-T"
            if o["testing"] is not None and o["testing"] != t:
                raise UsageError("-T and -e contradict each other")
            o["testing"] = t
        elif opt in ("-p", "-r"):
            a = "print" if opt == "-p" else "remove"
            if o["action"] not in ("new", a):
                raise UsageError("-p and -r cannot be combined")
            o["action"] = a
        elif opt in ("-h", "--help"):
            o["action"] = "help"
        elif opt == "--version":
            o["action"] = "version"
    o["testing"] = bool(o["testing"])
    a = o["action"]
    if a in ("help", "version"):
        return o
    if a == "new":
        if len(args) == 2 and o["bits"] is None and args[1].isdigit():
            o["bits"] = int(args[1])      # libdomainkeys: dknewkey keyfile [bits]
            args = args[:1]
        if len(args) != 1:
            raise UsageError("one selector expected")
        if o["bits"] is None:
            o["bits"] = DEFAULT_BITS if o["kind"] == "rsa" else 256
        elif o["kind"] == "ed25519":
            if o["bits"] != 256:
                warn("-b %d ignored: Ed25519 keys have a fixed size" % o["bits"])
            o["bits"] = 256
        elif not MIN_BITS <= o["bits"] <= MAX_BITS:
            raise UsageError("RSA keys must have %d to %d bits (RFC 8301)" % (MIN_BITS, MAX_BITS))
        elif o["bits"] < DEFAULT_BITS:
            warn("%d-bit RSA keys are weak; %d bits are recommended" % (o["bits"], DEFAULT_BITS))
    elif a == "print":
        if len(args) > 1:
            raise UsageError("at most one selector expected")
    elif len(args) != 1:
        raise UsageError("-r: one selector expected")
    o["selector"] = check_selector(args[0]) if args else None
    return o


def main(argv=None, env=None, out=None):
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    try:
        o = parse_args(argv)
        if o["action"] == "help":
            out.write(USAGE)
            return 0
        if o["action"] == "version":
            from qmail_dkim.tools.cmdline import version_line
            out.write(version_line(PROG))
            return 0
        if o["action"] == "print":
            return cmd_print(env, out, o["selector"], o["domain"], o["testing"])
        if o["action"] == "remove":
            return cmd_remove(env, out, o["selector"], o["domain"])
        return cmd_new(env, out, o["selector"], o["domain"], o["kind"], o["bits"],
                       o["group"], o["group_explicit"], o["force"], o["testing"])
    except UsageError as e:
        sys.stderr.write("%s: %s\n%s" % (PROG, e, USAGE))
        return 64
    except Failure as e:
        sys.stderr.write("%s: %s\n" % (PROG, e))
        return 1
    except OSError as e:
        sys.stderr.write("%s: %s%s\n" % (PROG, e.strerror or e,
                                         ": %s" % e.filename if e.filename else ""))
        return 1
