"""dkimtestkey: check a published DKIM key record (like opendkim-testkey).

    dkimtestkey -d domain -s selector [-k keyfile] [-v]

Looks up the TXT record at selector._domainkey.domain (DNSCACHEIP or
/etc/resolv.conf, see qmail_dkim.dns.txt), parses it and reports what a
verifier would object to, with the usual paste mistakes named (quotes from a
zone file inside the value, a key split over several TXT records or with p=
repeated, a whole zone file line pasted as the value, the domain appended twice
by a web panel). With a private key (-k, default the key qmail-dkim would sign
with) it also says whether the published public key belongs to it.

Output: one line per finding on stdout, "dkimtestkey: error: ..." for problems,
"dkimtestkey: warning: ..." for things that work but deserve a look, then
"key secure" (the answer was DNSSEC-validated: AD bit from a validating
resolver) or "key not secure", then "key OK" when there was no problem.

Exit: 0 key OK (warnings allowed), 1 a problem, 2 temporary DNS failure,
64 usage error.
"""
import base64
import getopt
import itertools
import os
import re
import sys

from qmail_dkim import config
from qmail_dkim.dns import txt as dnstxt
from qmail_dkim.tools import zonetext as dnsrecord

PROG = "dkimtestkey"
EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_TEMP = 2
EXIT_USAGE = 64

USAGE = """\
usage: dkimtestkey -d domain -s selector [-k keyfile] [-v]
       dkimtestkey --help | --version
  -d domain    the signing domain (d=)
  -s selector  the selector (s=)
  -k keyfile   private key to compare with the published key (default:
               $QMAILHOME/$CONTROLDIR/domainkeys/<domain>/<selector>, else
               $QMAILHOME/$CONTROLDIR/domainkeys/<selector>, if present)
  -v           verbose (repeat for more)
Exit status: 0 key OK, 1 a problem, 2 temporary DNS failure, 64 usage.
See dkimtestkey(8): man 8 dkimtestkey
"""

_PTAG = re.compile(rb"(?:^|;)[ \t\r\n]*p[ \t\r\n]*=", re.S)
_PVALUE = re.compile(rb"(?:^|;)[ \t\r\n\"]*p[ \t\r\n]*=([^;]*)", re.S)
# p= again inside the p= value (strings are joined without separator, so
# "p=AAA" "p=BBB" arrives as p=AAAp=BBB); '=' inside base64 is only padding
# at the very end, so p= followed by more base64 cannot be part of the key.
_INNER_P = re.compile(rb"p=(?=[ \t\r\n\"]*[A-Za-z0-9+/])")
_ZONE_LINE = re.compile(rb"(\bIN[ \t]+TXT\b|\bTXT[ \t]+\(|_domainkey)", re.I)
_QUOTED = re.compile(rb'"((?:[^"\\]|\\.)*)"', re.S)
_B64CHARS = re.compile(rb"^[A-Za-z0-9+/=]+$")


class Report:
    def __init__(self, out, verbose):
        self.out = out
        self.verbose = verbose
        self.problems = 0
        self.warnings = 0

    def say(self, msg):
        self.out.write("%s: %s\n" % (PROG, msg))

    def info(self, msg, level=1):
        if self.verbose >= level:
            self.say(msg)

    def problem(self, msg):
        self.problems += 1
        self.say("error: " + msg)

    def warn(self, msg):
        self.warnings += 1
        self.say("warning: " + msg)


def _text(b, limit=None):
    s = b.decode("ascii", "backslashreplace")
    if limit and len(s) > limit:
        s = s[:limit] + "..."
    return s


def _looks_like_fragment(rec):
    """A TXT record that is only a piece of base64 (a key split over records)."""
    r = re.sub(rb"[ \t\r\n\"]", b"", rec)
    return bool(r) and b"=" not in r.rstrip(b"=") and bool(_B64CHARS.match(r))


def _unquote_zone_strings(rec):
    """The concatenated contents of the quoted strings in rec (zone file syntax)."""
    parts = _QUOTED.findall(rec)
    if not parts:
        return None
    return b"".join(re.sub(rb"\\(.)", rb"\1", p) for p in parts)


def _paste_checks(rep, rec):
    """Name the usual paste mistakes. Returns the value the admin probably
    meant (bytes) when it differs from rec, else None. rep.problems counts
    what was found."""
    intended = None
    if _ZONE_LINE.search(rec) or rec.lstrip().startswith(b"("):
        rep.problem("the record holds a whole zone file line (name, IN TXT, parentheses "
                    "or quotes were pasted as the value); the value is only the text "
                    "starting with v=DKIM1, without quotes")
        intended = _unquote_zone_strings(rec)
        if intended is None:
            i = rec.find(b"v=DKIM1")
            intended = rec[i:] if i >= 0 else None
    elif b'"' in rec:
        pm = _PVALUE.search(rec)
        where = "inside p=" if pm and b'"' in pm.group(1) else "in the value"
        rep.problem('quote characters (") %s: the strings of a zone file were pasted '
                    "with their quotes; a web panel wants the value on one line without "
                    "quotes" % where)
        intended = re.sub(rb'"[ \t\r\n]*"', b"", rec).replace(b'\\"', b"").replace(b'"', b"")
    base = intended if intended is not None else rec
    pm = _PVALUE.search(base)
    n = len(_PTAG.findall(base)) + (len(_INNER_P.findall(pm.group(1))) if pm else 0)
    if n > 1:
        rep.problem("p= appears %d times: the key was split in the wrong place and p= "
                    "repeated for each piece; only the first string starts with p=, the "
                    "others continue the base64" % n)
        first = _PTAG.search(base) or pm
        head, rest = base[:first.end()], base[first.end():]
        intended = head + _INNER_P.sub(b"", _PTAG.sub(b"", rest))
    pm = _PVALUE.search(intended if intended is not None else rec)
    if pm:
        p = pm.group(1)
        if b"-----" in p or b"BEGIN" in p:
            rep.problem("p= holds a PEM block (-----BEGIN PUBLIC KEY-----); publish only "
                        "the base64 between the BEGIN and END lines")
        elif re.search(rb"\S[ \t\r\n]+\S", p.strip()):
            rep.warn("whitespace inside p= (legal folding whitespace that verifiers "
                     "ignore, but often left by a split paste: check that no piece is missing)")
    return intended


def _check_record(rep, rec, strings=None):
    """Checks on one record; returns the parsed KeyRecord or None."""
    from qmail_dkim.dkim.keyrecord import KeyRecordError, parse_key_record
    if strings is not None:
        rep.info("record: %d octets in %d string%s (%s)" % (
            len(rec), len(strings), "" if len(strings) == 1 else "s",
            "+".join(str(len(s)) for s in strings)), 2)
    rep.info("record: %s" % _text(rec), 2)
    before = rep.problems
    intended = _paste_checks(rep, rec)
    pasted = rep.problems > before
    try:
        kr = parse_key_record(rec)
    except KeyRecordError as e:
        if e.letter == "N":
            rep.problem("key revoked: empty p= (the selector is withdrawn; signatures "
                        "with it fail)")
        elif pasted:
            rep.say("(as published, the record does not parse: %s)" % e.reason)
        else:
            _report_parse_error(rep, e, rec)
        if intended is not None and intended != rec:
            try:
                parse_key_record(intended)
                rep.say("the value meant was probably: %s" % _text(intended))
                rep.say("(that value parses as a valid key record)")
            except KeyRecordError as e2:
                rep.say("even without the pasted extras the value does not parse: %s" % e2.reason)
        return None
    if intended is not None:
        rep.say("the value meant was probably: %s" % _text(intended))
    _semantic_checks(rep, kr, rec)
    return kr


def _report_parse_error(rep, e, rec):
    reason = e.reason
    if e.letter == "R":
        pm = _PVALUE.search(rec)
        p = re.sub(rb"[ \t\r\n]", b"", pm.group(1)) if pm else b""
        if "less than" in reason:
            rep.problem("key too short: %s bits (RFC 8301)" % reason)
            return
        hint = ""
        if p and (len(p) % 4 or "not an RSA public key" in reason):
            hint = " (truncated or cut in the wrong place? %d base64 characters)" % len(p)
        rep.problem("invalid public key: %s%s" % (reason, hint))
    else:
        rep.problem("syntax error: %s" % reason)


def _semantic_checks(rep, kr, rec):
    k = kr.k.decode("ascii", "replace")
    rep.info("key type %s, %d bits" % (k, kr.bits))
    if kr.v is None:
        rep.warn("no v=DKIM1 (recommended, and must be the first tag when present)")
    elif not re.match(rb"[ \t\r\n]*v[ \t\r\n]*=", rec):
        rep.warn("v=DKIM1 is not the first tag (RFC 6376 3.6.1 requires it first); "
                 "some verifiers reject the record")
    if kr.testing:
        rep.warn("t=y is still set: the key is in testing mode and verifiers may treat "
                 "failed signatures like unsigned mail; remove t=y once tests pass")
    if kr.h is not None and b"sha256" not in kr.h:
        rep.problem("h=%s excludes sha256: rsa-sha256 and ed25519-sha256 signatures (the "
                    "only ones allowed, RFC 8301) cannot verify with this key; use h=sha256 "
                    "or leave h= out" % b":".join(kr.h).decode("ascii", "replace"))
    if kr.k == b"rsa" and kr.bits < 2048:
        rep.warn("%d-bit RSA key: RFC 8301 asks signers for at least 2048 bits" % kr.bits)
    if kr.g is not None and re.sub(rb"\s", b"", kr.g) != b"*":
        rep.warn("g=%s restricts the local part of i= (RFC 4871; dropped by RFC 6376)"
                 % _text(kr.g))


def _default_keyfiles(env, domain, selector):
    # QMAILHOME default /var/qmail, not the current directory (ENVIRONMENT)
    base = os.path.join(config.control_home(env, guess_cwd=False), "domainkeys")
    return [os.path.join(base, domain, selector), os.path.join(base, selector)]


def _compare_key(rep, kr, keyfile_path, explicit):
    from qmail_dkim.dkim import privkey as keyfile
    try:
        key = keyfile.load_private_key(keyfile_path)
    except keyfile.KeyFileError as e:
        if explicit:
            rep.problem("cannot use the private key: %s" % e)
        else:
            rep.warn("private key not compared: %s" % e)
        return
    rep.info("comparing with private key %s (%s)" % (keyfile_path, key.kind))
    if key.kind.encode() != kr.k:
        rep.problem("the private key %s is %s, the record says k=%s" % (
            keyfile_path, key.kind, kr.k.decode("ascii", "replace")))
        return
    mine = base64.b64decode(key.public_b64())
    if mine != kr.key_bytes:
        rep.problem("the published public key does not match the private key %s "
                    "(signatures made with it fail: publish this key's record, see "
                    "dknewkey -p)" % keyfile_path)
    else:
        rep.info("the published public key matches the private key %s" % keyfile_path)


def _fragments(rep, answer):
    """Several TXT records at the name. Returns the records to check."""
    recs = answer.records
    keyish = [r for r in recs if not _looks_like_fragment(r)]
    frags = [r for r in recs if _looks_like_fragment(r)]
    if frags and len(keyish) == 1:
        rep.problem("the key is split over %d separate TXT records; it must be ONE TXT "
                    "record (a record may hold several strings, which verifiers join)"
                    % len(recs))
        from qmail_dkim.dkim.keyrecord import KeyRecordError, parse_key_record
        if len(frags) <= 4:
            for perm in itertools.permutations(frags):
                joined = keyish[0] + b"".join(perm)
                try:
                    parse_key_record(joined)
                except KeyRecordError:
                    continue
                rep.say("joined into one record the pieces give a valid key record: %s"
                        % _text(joined))
                break
        return []
    dkim = [r for r in recs if r.lstrip().startswith(b"v=DKIM1") or _PTAG.search(r)]
    if len(dkim) > 1:
        rep.problem("%d DKIM key records at this name; verifiers may use any one of them "
                    "(RFC 6376 3.6.2.2): publish exactly one" % len(dkim))
        return dkim
    if len(dkim) == 1:
        others = len(recs) - 1
        rep.info("%d other TXT record%s at this name ignored" % (others, "" if others == 1 else "s"))
        return dkim
    return recs[:1]


def run(domain, selector, keyfile_path, verbose, env, out):
    rep = Report(out, verbose)
    d, why = dnsrecord.key_domain(domain)
    if why:
        rep.problem("invalid domain %r: %s" % (domain, why))
        return EXIT_PROBLEM
    if not dnsrecord.check_name(selector):
        rep.problem("invalid selector %r" % selector)
        return EXIT_PROBLEM
    name = dnsrecord.record_name(selector, d)
    if len(name) > 253 or any(len(x) > 63 for x in name.split(".")):
        rep.problem("%s is too long for DNS (253 octets, 63 per label)" % name)
        return EXIT_PROBLEM
    rep.info("checking key '%s'" % name)
    bad = dnstxt.dnscacheip_warning(env.get("DNSCACHEIP"))
    if bad:
        rep.warn(bad)
    ans = dnstxt.lookup_txt(name, config.dns_settings(env))
    rep.say("asked %s%s" % (dnstxt.servers_text(env.get("DNSCACHEIP")),
                            "; answer from %s" % ans.server if getattr(ans, "server", None) else ""))
    if ans.status == "temp":
        rep.say("error: '%s' query failed: %s (temporary DNS failure; try again)"
                % (name, ans.error or "no answer"))
        return EXIT_TEMP
    if ans.status in ("nxdomain", "nodata"):
        if ans.status == "nxdomain":
            rep.problem("'%s' record not found (NXDOMAIN: no such name). Just published? "
                        "A cache remembers that a name did not exist for up to the zone's "
                        "SOA minimum TTL (negative caching): try again later, or ask the "
                        "zone's own server with DNSCACHEIP=its-address" % name)
        else:
            rep.problem("'%s' has no TXT record (the name exists, but without a TXT record)"
                        % name)
        doubled = name + "." + d
        ans2 = dnstxt.lookup_txt(doubled, config.dns_settings(env))
        if ans2.status == "ok":
            rep.say("a TXT record exists at '%s': the name was entered with the domain in a "
                    "panel that adds the domain itself; enter only '%s'"
                    % (doubled, dnsrecord.record_name(selector)))
        return EXIT_PROBLEM
    if ans.oversize:
        rep.warn("some TXT records at this name are oversized and were ignored")
    if len(ans.records) > 1:
        todo = _fragments(rep, ans)
    else:
        todo = ans.records
    parsed = []
    for i, rec in enumerate(todo):
        strings = ans.strings[ans.records.index(rec)] if rec in ans.records else None
        kr = _check_record(rep, rec, strings)
        if kr is not None:
            parsed.append(kr)
    if len(parsed) == 1:
        kr = parsed[0]
        explicit = keyfile_path is not None
        paths = [keyfile_path] if explicit else _default_keyfiles(env, d, selector)
        for p in paths:
            if explicit or os.path.lexists(p):
                _compare_key(rep, kr, p, explicit)
                break
        else:
            rep.info("no private key at %s; not compared (use -k)" % " or ".join(paths))
    # As opendkim-testkey words it (scripts look for these lines); the man
    # page and README explain "not secure": no DNSSEC validation, not an error.
    rep.say("key secure" if ans.secure else "key not secure")
    if rep.problems:
        rep.say("key not OK (%d problem%s)" % (rep.problems, "" if rep.problems == 1 else "s"))
        return EXIT_PROBLEM
    rep.say("key OK")
    return EXIT_OK


def main(argv=None, env=None, out=None):
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    out = sys.stdout if out is None else out
    try:
        opts, args = getopt.getopt(argv, "d:s:k:vh", ["help", "version"])
    except getopt.GetoptError as e:
        sys.stderr.write("%s: %s\n%s" % (PROG, e, USAGE))
        return EXIT_USAGE
    domain = selector = keyfile_path = None
    verbose = 0
    for o, v in opts:
        if o == "-d":
            domain = v
        elif o == "-s":
            selector = v
        elif o == "-k":
            keyfile_path = v
        elif o == "-v":
            verbose += 1
        elif o in ("-h", "--help"):
            out.write(USAGE)
            return EXIT_OK
        elif o == "--version":
            from qmail_dkim.tools.cmdline import version_line
            out.write(version_line(PROG))
            return EXIT_OK
    if args or not domain or not selector:
        sys.stderr.write("%s: -d domain and -s selector are required\n%s" % (PROG, USAGE))
        return EXIT_USAGE
    try:
        return run(domain, selector, keyfile_path, verbose, env, out)
    except BrokenPipeError:
        return EXIT_PROBLEM
