"""DKIMSIGNOPTIONS, getopt style (qmail-dkim(8), SIGNING, "DKIMSIGNOPTIONS"). Pure.

    -c r|s|t|u   canonicalization relaxed/relaxed, simple/simple,
                 relaxed/simple, simple/relaxed (default r)
    -l           add l=          -q  add q=dns/txt
    -t           add t=          -h  add z= (copied header fields)
    -i identity  add i=          -x seconds|-  x= now+seconds, '-': no x=
    -z 1|2|3|4   2 rsa-sha256, 4 ed25519-sha256; 1 and 3 (sha1) are refused
                 by RFC 8301: rsa-sha256 is used and a warning logged
    -b n         obsolete (DomainKeys), ignored
DKIMIDENTITY overrides -i; DKIMEXPIRE overrides -x (empty: no x=).
"""

from qmail_dkim.dkim.text import domain_key

DEFAULT_EXPIRE = 604800          # one week
CANON = {"r": ("relaxed", "relaxed"), "s": ("simple", "simple"),
         "t": ("relaxed", "simple"), "u": ("simple", "relaxed")}


class OptionError(ValueError):
    pass


class SignOptions:
    def __init__(self):
        self.canon = CANON["r"]
        self.length = False
        self.qtag = False
        self.ttag = False
        self.ztag = False
        self.identity = None
        self.expire = DEFAULT_EXPIRE     # None: no x=
        self.algorithm = None            # None: follow the key; else "rsa" / "ed25519"
        self.warnings = []


def parse(text, identity_env=None, expire_env=None):
    """Parse an options string; raises OptionError with a one-line reason."""
    o = SignOptions()
    opts, rest = getopt((text or "").split(), "c:lqthi:x:z:b:")
    if rest:
        raise OptionError("DKIMSIGNOPTIONS: unexpected argument %r" % rest[0])
    for opt, val in opts:
        if opt == "-c":
            if val not in CANON:
                raise OptionError("DKIMSIGNOPTIONS: -c must be r, s, t or u, not %r" % val)
            o.canon = CANON[val]
        elif opt == "-l":
            o.length = True
        elif opt == "-q":
            o.qtag = True
        elif opt == "-t":
            o.ttag = True
        elif opt == "-h":
            o.ztag = True
        elif opt == "-i":
            o.identity = val
        elif opt == "-x":
            o.expire = _expire(val, "DKIMSIGNOPTIONS: -x")
        elif opt == "-z":
            if val in ("1", "3"):
                o.warnings.append("-z %s (sha1) refused by RFC 8301, signing rsa-sha256" % val)
                o.algorithm = "rsa"
            elif val == "2":
                o.algorithm = "rsa"
            elif val == "4":
                o.algorithm = "ed25519"
            else:
                raise OptionError("DKIMSIGNOPTIONS: -z must be 1, 2, 3 or 4, not %r" % val)
        elif opt == "-b":
            pass                        # DomainKeys, obsolete
    if identity_env is not None:
        o.identity = identity_env or None
    if expire_env is not None:
        o.expire = None if expire_env == "" else _expire(expire_env, "DKIMEXPIRE")
    return o


def getopt(args, spec):
    """POSIX getopt(3) for one short-option spec: bundling (-lq), attached or
    separate arguments (-z4, -z 4), "--". Our own rather than the standard
    getopt module, which imports gettext on every message."""
    opts = []
    while args and args[0].startswith("-") and args[0] != "-":
        arg, args = args[0], args[1:]
        if arg == "--":
            break
        i = 1
        while i < len(arg):
            c = arg[i]
            k = spec.find(c)
            if c == ":" or k < 0:
                raise OptionError("DKIMSIGNOPTIONS: option -%s not recognized" % c)
            if spec[k + 1:k + 2] == ":":
                if i + 1 < len(arg):
                    opts.append(("-" + c, arg[i + 1:]))
                elif args:
                    opts.append(("-" + c, args[0]))
                    args = args[1:]
                else:
                    raise OptionError("DKIMSIGNOPTIONS: option -%s requires argument" % c)
                break
            opts.append(("-" + c, ""))
            i += 1
    return opts, args


def _expire(val, what):
    if val == "-":
        return None
    if not val.isdigit() or len(val) > 10:
        raise OptionError("%s must be a number of seconds or '-', not %r" % (what, val))
    return int(val)


def check_identity(identity, domain):
    """None if i= is an address in d= or a subdomain of it, else the reason."""
    if "@" not in identity:
        return "identity %r is not an address" % identity
    dom = domain_key(identity.rsplit("@", 1)[1])
    domain = domain.lower()
    if dom == domain or dom.endswith("." + domain):
        return None
    return "identity %r is not in the signing domain %s" % (identity, domain)
