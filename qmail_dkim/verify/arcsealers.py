"""Trusted ARC sealers: control/arcsealers (qmail-dkim(8), ARC, "Trusted
sealers").

    hit = arcsealers.vouch(arc, authors, ctl, lookup, deadline)
    hit     None, or the comment for the headers and the log:
            "ARC sealer lists.example.org: dmarc=pass"

A DMARC fail is overridden when all of these hold:

  * the ARC chain passed (arc/chain.py);
  * the sealer of the most recent set (its ARC-Seal d=) is listed in
    control/arcsealers: one domain a line, '#' comments; a line ".example.org"
    lists every subdomain of example.org (not example.org itself);
  * that set's ARC-Authentication-Results (what the sealer saw when the
    message reached it) says dmarc=pass -- for one of the message's Author
    Domains when it names header.from -- or holds spf=pass / dkim=pass
    results with which DMARC passes for the Author Domains now: the From
    domain's DMARC record, its alignment modes and the DNS walk are asked
    again (dmarc/evaluate.py), with the sealer's results as the SPF and DKIM
    inputs.

Nothing else in the message is trusted: an untrusted sealer, a failing chain,
or a sealer that did not record a pass changes nothing.
"""
from qmail_dkim import config
from qmail_dkim.dkim.text import domain_key

SEALERS_FILE = "arcsealers"


def read_sealers(ctl):
    """control/arcsealers -> [lowercased entries]; [] when it does not exist,
    exit 55 when it cannot be read."""
    return config.read_domain_list(config.control_path(ctl, SEALERS_FILE))


def listed(domain, entries):
    """The control/arcsealers entry that lists `domain`, or None."""
    domain = domain_key(domain or "")
    if not domain:
        return None
    for e in entries:
        if e.startswith("."):
            if domain.endswith(e):
                return e
        elif domain == e:
            return e
    return None


class _Spf:
    def __init__(self, result, domain):
        self.result = result
        self.domain = domain


def _domain_of(value):
    value = domain_key((value or "").strip())
    return value.rsplit("@", 1)[-1] if value else ""


def recorded(aar, authors, lookup, deadline):
    """Why the sealer's results make DMARC pass (text), or None."""
    if aar is None:
        return None
    authors = [domain_key(a) for a in authors or ()]
    for r in aar.find("dmarc"):
        if r.result != "pass":
            continue
        hfrom = _domain_of(r.props.get("header.from"))
        if not hfrom or hfrom in authors:
            return "dmarc=pass" + (" header.from=" + hfrom if hfrom else "")
    spf = None
    for r in aar.find("spf"):
        ident = r.props.get("smtp.mailfrom") or r.props.get("smtp.helo")
        if r.result == "pass" and ident:
            spf = _Spf("pass", _domain_of(ident))
            break
    dkim = []
    for r in aar.find("dkim"):
        d = _domain_of(r.props.get("header.d") or r.props.get("header.i"))
        if r.result == "pass" and d:
            dkim.append(("pass", d, r.props.get("header.s", "")))
    if not authors or (spf is None and not dkim):
        return None
    from qmail_dkim.dmarc.evaluate import evaluate
    res = evaluate(authors, spf, dkim, lookup, deadline)
    if res.result != "pass":
        return None
    return "%s aligned" % " ".join(
        (["dkim=pass header.d=" + ",".join(res.dkim_aligned)] if res.dkim_aligned else [])
        + (["spf=pass smtp.mailfrom=" + spf.domain] if res.spf_aligned else []))


def vouch(arc, authors, ctl, lookup, deadline):
    """The trusted sealer's word for this message (see the module docstring),
    or None."""
    if arc is None or arc.result != "pass" or not arc.sealer:
        return None
    entry = listed(arc.sealer, read_sealers(ctl))
    if entry is None:
        return None
    why = recorded(arc.aar, authors, lookup, deadline)
    if why is None:
        return None
    return "ARC sealer %s: %s" % (arc.sealer, why)
