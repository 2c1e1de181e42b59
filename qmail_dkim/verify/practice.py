"""Author domain signing practice (qmail-dkim(8), VERIFICATION,
"Practice").

Configuration:

  SIGN_PRACTICE   unset: adsp. "adsp", "ssp" or "local" choose the method;
                  set to anything else (also empty): practice disabled, and a
                  verifying third-party signature gets F instead of A.
  DKIMPRACTICE    unset: practice is not applied. Set: the message letters it
                  applies to (empty: FGHIJKLMNPQRSTUVWX).
  control/signaturedomains    ($SIGNATUREDOMAINS names another file)
  control/nosignaturedomains  ($NOSIGNATUREDOMAINS names another file)
                  one domain per line, '#' comments, case-insensitive;
                  '*' in nosignaturedomains stands for every domain. A file
                  name without '/' is taken under $CONTROLDIR (default
                  "control"); one with '/' as written (relative to
                  $QMAILHOME or absolute). A missing file is an empty list;
                  an unreadable one is a configuration error (exit 55).

When the message letter is in DKIMPRACTICE and the author (From:) domain is

  1. listed in signaturedomains           -> G
  2. listed in nosignaturedomains and the message is unsigned -> D
  3. otherwise, SIGN_PRACTICE=adsp: TXT _adsp._domainkey.<domain> (RFC 5617,
     historic): dkim=discardable -> G, anything else (all, unknown, no record,
     domain out of scope, DNS trouble) -> D; adds X-DKIM-ADSP:
     SIGN_PRACTICE=ssp: TXT _ssp._domainkey.<domain> (the SSP draft): dkim=all
     or dkim=strict -> G unless t=y (testing) -> D; anything else -> D; adds
     X-DKIM-SSP:
     SIGN_PRACTICE=local: no DNS; the letter stays as it was.

No From: domain: practice is not applied (there is no author domain).

Pure: the configuration comes in a settings object (config.VerifySettings:
practice_method, practice_letters, domain_list(which) reading the control
files only when asked), DNS through the `lookup` callable.
"""
from qmail_dkim.dkim.text import domain_key


def _tags(record):
    """Tolerant tag=value parse for ADSP/SSP records -> {str: str}."""
    out = {}
    for spec in record.decode("ascii", "replace").split(";"):
        if "=" in spec:
            k, v = spec.split("=", 1)
            k = k.strip().lower()
            if k and k not in out:
                out[k] = v.strip()
    return out


class PracticeResult:
    def __init__(self, letter, header=b"", detail=None):
        self.letter = letter          # the new message letter
        self.header = header          # X-DKIM-ADSP: / X-DKIM-SSP: line or b""
        self.detail = detail          # for the log, e.g. "adsp:discardable"


def _adsp(domain, lookup):
    ans = lookup("_adsp._domainkey." + domain)
    if ans.status == "temp":
        return "temporary failure;", False
    if ans.status == "ok":
        for rec in ans.records:
            dkim = _tags(rec).get("dkim", "").lower()
            if dkim == "discardable":
                return "discardable;", True
            if dkim == "all":
                return "all;", False
        return "unknown;", False
    # no ADSP record: is the author domain itself out of scope (RFC 5617 4.3)?
    return _no_record(domain, lookup)


def _no_record(domain, lookup):
    """No practice record: out of scope if the author domain does not exist."""
    dom = lookup(domain)
    if dom.status == "nxdomain":
        return "out of scope;", False
    if dom.status == "temp":
        return "temporary failure;", False
    return "unknown;", False


def _ssp(domain, lookup):
    ans = lookup("_ssp._domainkey." + domain)
    if ans.status == "temp":
        return "temporary failure;", False
    if ans.status != "ok":
        return _no_record(domain, lookup)
    for rec in ans.records:
        tags = _tags(rec)
        dkim = tags.get("dkim", "").lower()
        flags = [f.strip().lower() for f in tags.get("t", "").replace("|", ":").split(":")]
        if dkim in ("all", "strict"):
            return dkim + ";", "y" not in flags
    return "unknown;", False


def apply(settings, letter, from_domain, signed, lookup):
    """Practice for the message letter. `lookup(name) -> dnstxt.TxtAnswer`.
    Returns a PracticeResult, or None when practice does not apply."""
    meth = settings.practice_method
    which = settings.practice_letters
    if meth is None or which is None or letter not in which or not from_domain:
        return None
    domain = domain_key(from_domain)
    sigdoms = settings.domain_list("signaturedomains")
    if domain in sigdoms:
        return PracticeResult("G", detail="signaturedomains")
    nosig = settings.domain_list("nosignaturedomains")
    if not signed and ("*" in nosig or domain in nosig):
        return PracticeResult("D", detail="nosignaturedomains")
    if meth == "local":
        return None
    if meth == "adsp":
        text, fail = _adsp(domain, lookup)
        name = b"X-DKIM-ADSP"
    else:
        text, fail = _ssp(domain, lookup)
        name = b"X-DKIM-SSP"
    header = name + b": " + text.encode() + b"\n"
    return PracticeResult("G" if fail else "D", header, "%s:%s" % (meth, text.rstrip(";")))

