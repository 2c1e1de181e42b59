"""SPF and DMARC in verify mode: DMARCVERIFY (man page: VERIFICATION, "DMARC").

    dset = config.VerifySettings(env).dmarc   # None: DMARCVERIFY unset, or a
                                              # relay / authenticated client
    out = dmarcverify.check(dset, fields, sigs, lookup, deadline, read_envelope)
    out.specs     ["spf=...", "dmarc=..."] for the Authentication-Results field
    out.log       [(key, value), ...] for the log line
    out.code      None, exits.REJECT_PERM (31) or exits.REJECT_TEMP (71)

DMARCVERIFY holds letters; a letter that fits the message rejects it,
uppercase permanently (554, exit 31), lowercase temporarily (451, exit 71),
both present: permanent wins; empty: evaluate and write headers only.

    R  DMARC fail, policy reject in effect (after t=y)
    Q  DMARC fail, policy quarantine in effect
    N  DMARC fail, policy none
    T  DMARC temperror
    P  DMARC permerror
    F  SPF fail
    S  SPF softfail

Local policy (the letters are not applied, the headers and the log say why):
control/dmarcforwarders (trusted forwarders: IP, CIDR or host-name suffix a
line; a host name counts only when the client's PTR name has the suffix and
resolves back to the client's address), mail to postmaster@ or abuse@, and
the OVERRIDES hook (ARC trusted sealers go there).

Inputs trusted: the environment tcpserver and qmail-smtpd / mailfront set
(TCPREMOTEIP, TCP6REMOTEIP, SPFRESULT), the envelope on fd 1, and the HELO
name only from the first Received: line when it has the exact form qmail-smtpd
or mailfront writes and names the client's own address (see helo_from_received).
"""
from qmail_dkim import config, exits
from qmail_dkim.dkim import fromaddr
from qmail_dkim.verify import authresults
from qmail_dkim.verify.status import odd_characters
from qmail_dkim.dkim.text import domain_key

LETTERS = "RQNTPFS"
SPF_WORDS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
# SPFRESULT from patched qmail-smtpd (sagredo / indimail) -> RFC 7208 result
SPFRESULT_MAP = {w: w for w in SPF_WORDS}
SPFRESULT_MAP.update({"error": "temperror", "unknown": "permerror", "permerr": "permerror",
                      "temperr": "temperror", "hardfail": "fail"})
FORWARDERS_MAX = 1 << 20
PROTECTED_LOCALS = ("postmaster", "abuse")


# The settings (DMARCVERIFY, TCPREMOTEIP, SPFRESULT, ...) are read by
# config.py: config.VerifySettings.dmarc, a config.DmarcSettings, None when
# DMARC is off (DMARCVERIFY unset, or a relay / authenticated client).
_norm_ip = config.norm_ip


# ------------------------------------------------------------- HELO

def helo_from_received(fields, ip):
    """The HELO name from the first header field, only when it is a Received:
    field in the exact form our SMTP front writes and names the client's
    address `ip`; else None. The forms (man page: DMARC):

    qmail-smtpd:  Received: from HOST (HELO helo) (INFO@IP)
                    by LOCAL with SMTP; DATE
                  ("(HELO helo)" only when it differs from HOST, which is
                  $TCPREMOTEHOST or "unknown"; "INFO@" only with $TCPREMOTEINFO)
    mailfront:    Received: from helo (HOST [IP])
                    by LOCAL ([LOCALIP])
                    with PROTO via TCP; DATE
                  (add-received plugin; "HOST " only with $TCPREMOTEHOST)
    """
    if not fields or ip is None or fields[0].lname != b"received":
        return None
    words = fields[0].unfolded().split()
    if len(words) < 5 or words[0] != "from":
        return None
    # qmail-smtpd
    w = words[1:]
    helo = w[0]
    i = 1
    if len(w) > i + 1 and w[i] == "(HELO" and w[i + 1].endswith(")"):
        helo = w[i + 1][:-1]
        i += 2
    if (len(w) > i + 3 and w[i].startswith("(") and w[i].endswith(")") and w[i + 1] == "by"
            and w[i + 3] == "with"):
        addr = w[i][1:-1].rsplit("@", 1)[-1]
        if _norm_ip(addr) == ip:
            return None if helo == "unknown" else helo
        return None
    # mailfront
    helo = w[0]
    i = 1
    if len(w) > i and w[i].startswith("(") and not w[i].startswith("(["):
        i += 1                                   # "(HOST"
    if len(w) > i + 2 and w[i].endswith("])") and w[i + 1] == "by":
        addr = w[i].lstrip("(")[:-1]
        if addr.startswith("[") and addr.endswith("]") and _norm_ip(addr[1:-1]) == ip:
            rest = w[i + 2:]                     # LOCAL ([LOCALIP]) with PROTO via TCP;
            if len(rest) > 1 and rest[1].startswith("([") and rest[1].endswith("])"):
                rest = rest[:1] + rest[2:]
            if len(rest) >= 5 and rest[1] == "with" and rest[3] == "via" and rest[4].endswith(";"):
                return helo
    return None


# ------------------------------------------------------------- envelope

def envelope_parts(envelope):
    """(sender str, [recipient str]) from qmail-queue envelope bytes (the
    recipients as envelope.py reads them for DKIMSIGNRCPTS)."""
    from qmail_dkim import envelope as rcpts
    if not envelope:
        return "", []
    first = envelope.split(b"\0", 1)[0]
    sender = first[1:].decode("utf-8", "replace") if first.startswith(b"F") else ""
    return sender, [r.decode("utf-8", "replace") for r in rcpts.recipients(envelope)]


def _domain(addr):
    if "@" not in addr:
        return None
    return fromaddr.to_alabel(addr.rsplit("@", 1)[1]) or None


# ------------------------------------------------------------- SPF

class SpfOutcome:
    def __init__(self, result, domain, mailfrom=None, helo=None, source="", reason=""):
        self.result = result            # pass fail softfail neutral none temperror permerror
        self.domain = domain            # the checked identity's domain (DMARC's SPF domain)
        self.mailfrom = mailfrom        # the MAIL FROM identity (address), None for <>
        self.helo = helo
        self.source = source            # "SPFRESULT" or "check_host"
        self.reason = reason


def spf_check(dset, sender, helo, deadline, spf_lookup=None):
    """SPF for the MAIL FROM identity (the HELO identity for the null sender,
    RFC 7208 section 2.4): $SPFRESULT when a patched qmail-smtpd exported a
    result, else spf.message.spf_for_message on our DNS client."""
    mailfrom = sender or None
    domain = _domain(sender) if sender else (domain_key(helo) if helo else None)
    if dset.spfresult is not None:
        word = dset.spfresult.strip().split(" ", 1)[0].lower() if dset.spfresult.strip() else ""
        if word in SPFRESULT_MAP:
            return SpfOutcome(SPFRESULT_MAP[word], domain, mailfrom, helo, "SPFRESULT")
    if dset.ip is None:
        return SpfOutcome("none", domain, mailfrom, helo, "", "no client address")
    from qmail_dkim.spf.message import spf_for_message
    if spf_lookup is None:
        from qmail_dkim.dns import client as dnsclient
        spf_lookup = dnsclient.spf_lookup(dset.dns)
    # no explain: the exp= text is shown nowhere, so it is not fetched
    r = spf_for_message(dset.ip, sender, helo or "", spf_lookup, deadline)
    return SpfOutcome(r.result, r.domain or domain, mailfrom, helo, "check_host", r.problem)


# ------------------------------------------------------------- local policy

def read_forwarders(ctl):
    """control/dmarcforwarders -> [("net", (4 or 6, int, bits)) | ("host", suffix)]
    (addresses as spf/check.py reads them)."""
    from qmail_dkim.spf import check as spfcheck
    out = []
    for line in config.read_lines(config.control_path(ctl, "dmarcforwarders"), FORWARDERS_MAX):
        addr, slash, bits = line.partition("/")
        try:
            ver, ip = spfcheck.parse_ip(addr)
        except (ValueError, OSError):
            if not slash:
                out.append(("host", line.lower().strip(".")))
            continue
        width = 32 if ver == 4 else 128
        try:
            n = int(bits) if slash else width
        except ValueError:
            continue
        if 0 <= n <= width:
            out.append(("net", (ver, ip, n)))
    return out


def trusted_forwarder(dset, deadline):
    """The matching control/dmarcforwarders line (text), or None."""
    entries = read_forwarders(dset.controldir)
    if not entries or dset.ip is None:
        return None
    from qmail_dkim.spf import check as spfcheck
    ver, ip = spfcheck.parse_ip(dset.ip)
    for kind, value in entries:
        if kind == "net" and value[0] == ver and spfcheck.in_net(ver, ip, value[1], value[2]):
            return "%s/%d" % (spfcheck.ip_text(ver, value[1]), value[2])
    suffixes = [v for k, v in entries if k == "host"]
    if not suffixes:
        return None
    from qmail_dkim.dns import client as dnsclient
    ptr = dnsclient.lookup(spfcheck.reverse_name(ver, ip), "PTR", dset.dns, deadline=deadline)
    if ptr.status != "ok":
        return None
    qtype = "AAAA" if ":" in dset.ip else "A"
    for name in ptr.records[:10]:
        for suf in suffixes:
            if name == suf or name.endswith("." + suf):
                fwd = dnsclient.lookup(name, qtype, dset.dns, deadline=deadline)
                if fwd.status == "ok" and dset.ip in {_norm_ip(a) for a in fwd.records}:
                    return name
    return None


def protected_rcpt(rcpts):
    """The first postmaster@ / abuse@ recipient, or None."""
    for r in rcpts:
        local = r.rsplit("@", 1)[0].lower()
        if local in PROTECTED_LOCALS:
            return r
    return None


# Each override: f(dset, ctx) -> (RFC 9990 policy override type, comment) or None.
# ctx has .rcpts, .deadline, .fields, .arc (arc/chain.py's result or None),
# .authors and .lookup.
def _ov_forwarder(dset, ctx):
    hit = trusted_forwarder(dset, ctx.deadline)
    return ("trusted_forwarder", "control/dmarcforwarders " + hit) if hit else None


def _ov_postmaster(dset, ctx):
    hit = protected_rcpt(ctx.rcpts)
    return ("local_policy", "mail to " + hit) if hit else None


def _ov_arc_sealer(dset, ctx):
    if ctx.arc is None:
        return None
    from qmail_dkim.verify import arcsealers
    hit = arcsealers.vouch(ctx.arc, ctx.authors, dset.controldir, ctx.lookup, ctx.deadline)
    return ("trusted_forwarder", hit) if hit else None


OVERRIDES = [_ov_postmaster, _ov_forwarder, _ov_arc_sealer]


class _Ctx:
    def __init__(self, rcpts, deadline, fields, arc=None, authors=(), lookup=None):
        self.rcpts, self.deadline, self.fields = rcpts, deadline, fields
        self.arc, self.authors, self.lookup = arc, authors, lookup


# ------------------------------------------------------------- the check

class DmarcOutcome:
    def __init__(self):
        self.specs = []
        self.log = []
        self.code = None
        self.error_text = None
        self.enhanced = None        # X.7.1 for DMARC, X.7.23 for SPF (RFC 7372)
        self.spf = None
        self.dmarc = None


def _authors(fields):
    """Author Domains of every address of every From: field (section 5.3.1,
    11.5), in order, without duplicates; a From: we cannot read gives none."""
    out = []
    for f in fields:
        if f.lname != b"from":
            continue
        try:
            for d in fromaddr.all_domains(f.unfolded()):
                if d not in out:
                    out.append(d)
        except Exception:           # noqa: BLE001 - unreadable From: gives no author
            continue
    return out


def letters_warning(letters):
    """None, or the warning= text for a DMARCVERIFY that cannot mean what it
    says (qmail-dkim(8), LOG): characters that are no DMARCVERIFY letter
    (ignored), or T, which bounces mail permanently when DNS is only down
    for a while (t, 451, lets the sender retry). Never a rejection."""
    out = []
    shown = odd_characters(letters, LETTERS)
    if shown:
        out.append("DMARCVERIFY characters that are no letter of %s ignored: %s" % (LETTERS, shown))
    if "T" in letters:
        out.append("DMARCVERIFY has T: a DNS failure bounces mail permanently (t retries)")
    return "; ".join(out) or None


def _letters_hit(letters, conds):
    """-> exit code for the conditions `conds` (letters) under DMARCVERIFY."""
    code = None
    for c in conds:
        if c in letters:
            return exits.REJECT_PERM
        if c.lower() in letters:
            code = exits.REJECT_TEMP
    return code


def _pub(rec):
    return "p=%s sp=%s np=%s adkim=%s aspf=%s t=%s psd=%s" % (
        rec.p or "-", rec.sp or "-", rec.np or "-", rec.adkim, rec.aspf, rec.t, rec.psd)


_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                   "!#$%&'*+/=?^_`{|}~.-")


def _addr_pvalue(addr):
    """RFC 8601 pvalue: local-part@domain as is when both are plain."""
    local, at, dom = addr.rpartition("@")
    if (at and local and dom and len(addr) <= authresults.MAX_VALUE
            and all(c in _ATEXT for c in local)
            and all(c.isalnum() or c in ".-" for c in dom) and dom.isascii()):
        return addr
    return authresults.pvalue(addr)


def spf_spec(spf):
    parts = ["spf=" + spf.result]
    if spf.source == "SPFRESULT":
        parts.append("(from SPFRESULT)")
    elif spf.reason:
        parts.append("reason=" + authresults.pvalue(spf.reason))
    if spf.mailfrom:
        parts.append("smtp.mailfrom=" + _addr_pvalue(spf.mailfrom))
    if spf.helo:
        parts.append("smtp.helo=" + authresults.pvalue(spf.helo))
    return " ".join(parts)


def dmarc_spec(res, disposition, override):
    parts = ["dmarc=" + res.result]
    comment = []
    rec = res.main.record if res.main is not None else None
    if rec is not None and res.result in ("pass", "fail"):
        comment.append("p=%s sp=%s np=%s" % (rec.policy("p") or "none", rec.policy("sp") or "none",
                                             rec.policy("np") or "none"))
        if rec.t == "y":
            comment.append("t=y")
        comment.append("dis=%s" % disposition)
        if res.policy_domain and res.policy_domain != res.domain:
            comment.append("pdomain=%s" % res.policy_domain)
    if override:
        comment.append("override=%s: %s" % override)
    if comment:
        # a comment holds no unbalanced parentheses or backslashes, and no
        # quote (pvalue would escape it, and its backslash would be left
        # before our closing parenthesis)
        text = (" ".join(comment).replace("(", "[").replace(")", "]").replace("\\", "/")
                .replace('"', "'"))
        parts.append("(" + authresults.pvalue(text).strip('"') + ")")
    if res.result in ("temperror", "permerror", "none") and res.reason:
        parts.append("reason=" + authresults.pvalue(res.reason))
    if res.domain:
        parts.append("header.from=" + authresults.pvalue(res.domain))
    if res.result == "fail" and res.policy:
        parts.append("policy.dmarc=" + res.policy)
    return " ".join(parts)


_POLICY_LETTER = {"reject": "R", "quarantine": "Q", "none": "N"}


def check(dset, fields, sigs, lookup, deadline, read_envelope, spf_lookup=None, arc=None):
    """SPF + DMARC for one message. `sigs`: [(result word, d, s)] one per
    DKIM signature; `lookup(name)` TXT lookups inside the message's DNS
    budget (absolute `deadline`; verify/run.py's, each name asked once per
    message: verify/keys.py asked_once); `read_envelope()` -> envelope bytes;
    `spf_lookup(name, qtype, deadline)` replaces DNS for SPF (tests);
    `arc` the ARC chain's result (arc/chain.py; None without ARC fields)."""
    from qmail_dkim.dmarc.evaluate import evaluate
    out = DmarcOutcome()
    envelope = read_envelope() if read_envelope is not None else None
    sender, rcpts = envelope_parts(envelope)
    helo = helo_from_received(fields, dset.ip)
    spf = spf_check(dset, sender, helo, deadline, spf_lookup)
    res = evaluate(_authors(fields), spf, sigs, lookup, deadline)
    out.spf, out.dmarc = spf, res

    conds = []
    if res.result == "fail":
        conds.append(_POLICY_LETTER[res.policy])
    elif res.result == "temperror":
        conds.append("T")
    elif res.result == "permerror":
        conds.append("P")
    if spf.result == "fail":
        conds.append("F")
    elif spf.result == "softfail":
        conds.append("S")
    code = _letters_hit(dset.letters, conds)
    override = None
    ctx = _Ctx(rcpts, deadline, fields, arc, res.authors, lookup)
    if code is not None:
        for ov in OVERRIDES:
            override = ov(dset, ctx)
            if override:
                code = None
                break
    elif res.result == "fail" and arc is not None:
        # nothing to reject, but the headers say who vouched for the message
        override = _ov_arc_sealer(dset, ctx)
    if res.result == "fail" and res.testing and res.published != res.policy and not override:
        override = ("policy_test_mode", "t=y: %s applied as %s" % (res.published, res.policy))
    if code == exits.REJECT_PERM:
        disposition = "reject"
    elif code == exits.REJECT_TEMP:
        disposition = "defer"
    elif (res.result == "fail" and res.policy in ("reject", "quarantine")
          and (not override or override[0] == "policy_test_mode")):
        # delivered with the verdict in the headers; t=y only chose the
        # policy in effect, it did not set it aside
        disposition = "quarantine"
        if res.policy == "reject":
            override = ("local_policy", "R not in DMARCVERIFY: delivered with the verdict")
    else:
        disposition = "none"
    out.code = code
    if code is not None:
        what = [c for c in conds if c in dset.letters or c.lower() in dset.letters]
        texts = []
        for c in what:
            if c in "RQN":
                texts.append("DMARC policy %s of %s" % (res.policy, res.domain))
            elif c == "T":
                texts.append("DMARC temperror for %s" % res.domain)
            elif c == "P":
                texts.append("DMARC permerror for %s" % (res.domain or "the message"))
            elif c == "F":
                texts.append("SPF fail for %s" % spf.domain)
            elif c == "S":
                texts.append("SPF softfail for %s" % spf.domain)
        out.enhanced = "X.7.1" if what and what[0] in "RQNTP" else "X.7.23"
        out.error_text = ("%s: %s" % ("DMARC/SPF check failed" if code == exits.REJECT_PERM
                                      else "DMARC/SPF check temporarily failed", "; ".join(texts)))
    out.specs = [spf_spec(spf), dmarc_spec(res, disposition, override)]

    rec = res.main.record if res.main is not None else None
    log = [("ip", dset.ip or ""), ("helo", helo or ""),
           ("envfrom", _domain(sender) if sender else "<>"),
           ("hfrom", res.authors or [""]),
           ("spf", spf.result), ("spf.domain", spf.domain or "")]
    if spf.source == "SPFRESULT":
        log.append(("spf.source", "SPFRESULT"))
    elif spf.reason:
        log.append(("spf.reason", spf.reason))
    log += [("dmarc", res.result), ("policy", res.policy or "-")]
    if rec is not None:
        log += [("dmarc.domain", res.policy_domain), ("dmarc.pub", _pub(rec))]
    if res.result in ("pass", "fail"):
        log += [("dmarc.dkim", "pass" if res.dkim_aligned else "fail"),
                ("dmarc.spf", "pass" if res.spf_aligned else "fail")]
    if res.reason:
        log.append(("dmarc.reason", res.reason))
    log.append(("disposition", disposition))
    if override:
        log += [("override", override[0]), ("override.why", override[1])]
    log.append(("dmarc.queries", res.queries))
    out.log = log
    return out
