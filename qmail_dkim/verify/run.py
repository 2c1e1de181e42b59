"""Verify mode: from the spooled message to the Outcome (VERIFICATION,
"Headers", LOG).

    from qmail_dkim.verify import run as verify
    outcome = verify.run(config.VerifySettings(env), spool)   # cwd is $QMAILHOME

Prepends, in this order: DKIM-Status:, Authentication-Results:, then
X-DKIM-ADSP: / X-DKIM-SSP: when practice was checked. Drops every incoming
DKIM-Status: field and every Authentication-Results: field carrying our
authserv-id. Exit 31 / 71 when DKIMVERIFY holds the message's letter in
upper / lower case. Never raises for malformed mail; raises
QmailDkimExit(CONFIG_ERROR) for an unreadable control file.

See dkim/verifier.py for the per-signature checks and the limits (at most 10
signatures evaluated), keys.py for where key records come from (DNS time
bounds), practice.py for DKIMPRACTICE / SIGN_PRACTICE, authresults.py for the
header fields, dmarcverify.py for DMARCVERIFY.
"""
import time

from qmail_dkim.verify import authresults
from qmail_dkim.verify import status
from qmail_dkim.verify.keys import DNS_BUDGET_FACTOR, KeySource, asked_once, dns_lookup
from qmail_dkim.dkim.fromaddr import from_domain as _from_domain
from qmail_dkim.dkim.text import short
from qmail_dkim.dkim.verifier import Options, message_letter, verify_all
from qmail_dkim.outcome import Outcome
from qmail_dkim.spool import HEADER_MAX


ARC_FIELDS = (b"arc-seal", b"arc-message-signature", b"arc-authentication-results")
LEADING_FOLD_NOTICE = b"X-DKIM-Notice: the message below began with a folded line\n"


def _sig_values(sig):
    """(d, s, a, b8) for headers and log, also for signatures that failed
    before their tags were checked (taken as written, when present)."""
    tags = sig.tags
    d = sig.d or (tags.get(b"d", b"").strip() or None)
    s = sig.s or (tags.get(b"s", b"").strip() or None)
    a = sig.a or (tags.get(b"a", b"").strip() or None)
    if isinstance(a, bytes):
        a = a.decode("ascii", "replace")
    return d, s, a, sig.header_b


def _author(fields):
    try:
        return _from_domain(fields)[0]
    except Exception:               # noqa: BLE001 - a From: we cannot read is no author
        return None


def run(settings, spool, now=None, lookup=None, read_envelope=None, spf_lookup=None):
    """Verify mode for one message -> Outcome. `settings`: config.VerifySettings;
    `lookup(name) -> dnstxt.TxtAnswer` replaces DNS (tests);
    `read_envelope()` -> the envelope bytes (fd 1), read only for DMARC;
    `spf_lookup(name, qtype, deadline)` replaces DNS for SPF (tests)."""
    fields = spool.fields
    servid = settings.authserv_id
    drop = authresults.forged_fields(list(fields) + spool.tail_fields, servid)
    author = _author(fields)
    opts = Options(author, practice_disabled=settings.practice_method is None, now=now,
                   honor_l=settings.honor_l, unsigned_from=settings.unsigned_from)
    deadline = time.monotonic() + settings.dns.timeout * DNS_BUDGET_FACTOR
    lookup = asked_once(lookup if lookup is not None else dns_lookup(settings.dns, deadline))
    dset = settings.dmarc               # None: DMARCVERIFY off (not even imported)
    keys = KeySource(lookup, settings.selector_data)
    results, ignored = verify_all(fields, spool, opts, keys)
    # signatures past the first HEADER_MAX octets of header are not evaluated
    ignored += sum(1 for f in spool.tail_fields if f.lname == b"dkim-signature")
    letter = message_letter(results)

    # ARC (qmail-dkim(8), ARC): only when the message carries ARC fields, so
    # that mail without them costs nothing and gets the headers it always got.
    arc = None
    if any(f.lname in ARC_FIELDS for f in fields):
        from qmail_dkim.arc import chain as arc_chain
        arc = arc_chain.validate(fields, spool, keys.records)

    old = None
    if letter == "F":
        # Practice disabled and only third-party signatures verify: neutral,
        # as in C (VERIFICATION, the message letter).
        letter = "D"
    # Only third-party signatures verify (they count as A): RFC 5617 section
    # 3.2, no author signature, so the author domain's practice is asked as
    # for F; only a G (the author signs all its mail) changes the letter.
    third_only = letter in ("A", "E") and not any(
        r.letter in ("A", "E") and not r.third_party for r in results)
    pres = None
    if settings.practice_method is not None and settings.practice_letters is not None:
        # imported only when DKIMPRACTICE asks: start-up (qmail-dkimd(8), SPEED)
        from qmail_dkim.verify import practice
        pres = practice.apply(settings, "F" if third_only else letter, author, bool(results),
                              lookup)
    if pres is not None and (not third_only or pres.letter == "G"):
        old, letter = letter, pres.letter

    words = [status.result_word(sig.letter) for sig in results] or ["none"]
    specs = _dkim_specs(results)
    dm = None
    if dset is not None:
        from qmail_dkim.verify import dmarcverify
        if not specs:
            specs.append("dkim=none")
        sigs = [(w, short(v[0], None), short(v[1], None))
                for w, v in zip(words, map(_sig_values, results))]
        dm = dmarcverify.check(dset, fields, sigs, lookup, deadline, read_envelope, spf_lookup,
                               arc=arc)
        specs += dm.specs
    if arc is not None:
        if not specs:
            specs.append("dkim=none")
        specs.append(authresults.arc_spec(arc, settings.remote_ip))
    leading_fold = bool(fields) and fields[0].name == b""
    prepend = _headers(servid, specs, letter, old, pres, leading_fold)

    code, action = status.verify_action(letter, settings.dkimverify)
    log = _log(results, words, letter, old, pres, arc, ignored, drop, spool.overflow,
               leading_fold, setting_warnings(settings))
    # The reject reply (DKIMCUSTOMERROR): the DKIM-Status text, as C's.
    error_text = status.TEXTS[letter] if code is not None else None
    enhanced = status.ENHANCED[letter] if code is not None else None
    if dm is not None:
        log += dm.log
        # both reject: permanent wins; DKIM's text when DKIM decided
        if dm.code is not None and (code is None or (code == status.exits.REJECT_TEMP
                                                     and dm.code == status.exits.REJECT_PERM)):
            code, error_text, enhanced = dm.code, dm.error_text, dm.enhanced
            action = ("reject-permanent" if code == status.exits.REJECT_PERM
                      else "reject-temporary")
    log.append(("action", action))
    return Outcome(prepend=prepend, drop=drop, exit_code=code, error_text=error_text, log=log,
                   enhanced=enhanced)


def _dkim_specs(results):
    """The dkim= result of each signature for Authentication-Results."""
    specs = []
    for sig in results:
        d, s, a, b8 = _sig_values(sig)
        word = status.result_word(sig.letter)
        specs.append(authresults.result_spec(
            word, d=d, s=s, a=a, b=b8,
            reason=None if word == "pass" else sig.reason))
    return specs


def _headers(servid, specs, letter, old, pres, leading_fold):
    """DKIM-Status:, Authentication-Results:, X-DKIM-ADSP/SSP:, the notice."""
    prepend = (authresults.dkim_status_header(status.dkim_status_text(letter, old))
               + authresults.header(servid, specs)
               + (pres.header if pres is not None else b""))
    if leading_fold:
        # The message begins with a continuation line: downstream it continues
        # our last header line. Give it one of its own to continue, so that
        # the sender cannot write into our verdict.
        prepend += LEADING_FOLD_NOTICE
    return prepend


def setting_warnings(settings):
    """Settings that cannot mean what they say: warning=, never a reject (LOG).
    qmail-dkim-check shows the same list."""
    from qmail_dkim.dns import txt as dnstxt
    out = [w for w in (status.dkimverify_warning(settings.dkimverify),
                       dnstxt.dnscacheip_warning(settings.dns.dnscacheip)) if w]
    if settings.dmarc is not None:      # DMARCVERIFY set: dmarcverify is loaded anyway
        from qmail_dkim.verify import dmarcverify
        w = dmarcverify.letters_warning(settings.dmarc.letters)
        if w:
            out.append(w)
    return out


def _log(results, words, letter, old, pres, arc, ignored, drop, overflow, leading_fold,
         more_warnings=()):
    """The log fields after mode=verify up to (not with) DMARC's and action= (LOG)."""
    log = [("status", letter)]
    if old is not None:
        log.append(("old", old))
    log.append(("dkim", words))
    if results:
        values = [_sig_values(sig) for sig in results]
        log += [("d", [short(v[0], None) for v in values]),
                ("s", [short(v[1], None) for v in values]),
                ("reason", [sig.reason or "" for sig in results])]
    if pres is not None:
        log.append(("practice", pres.detail))
    if arc is not None:
        log += authresults.arc_log(arc)
    if ignored:
        log.append(("ignored", ignored))
    if drop:
        log.append(("removed", len(drop)))
    warnings = []
    if overflow:
        warnings.append("header over %d octets: only fields in them are verified" % HEADER_MAX)
    if leading_fold:
        warnings.append("message begins with a continuation line")
    warnings += more_warnings
    if warnings:
        log.append(("warning", "; ".join(warnings)))
    return log
