"""Sign mode: from a spooled message to DKIM-Signature lines (qmail-dkim(8), SIGNING).

prepare() is everything before the body is read: plan() (domain,
control/dkimkeys, DKIMSIGNRCPTS, key paths, options), then every key job
loaded and checked (key read, -z fit, i= in the signing domain, the
DKIMSIGNEXTRA key). qmail-dkim (run()) and qmail-dkim-check both call
prepare(), so the check can never say "sign" where qmail-dkim would not.
"""
import time

from qmail_dkim import config, exits
from qmail_dkim.dns import names as domainname
from qmail_dkim.dkim import fromaddr
from qmail_dkim.sign import headers as headerset
from qmail_dkim.sign import keypath
from qmail_dkim.sign import options as signopts
from qmail_dkim.exits import QmailDkimExit
from qmail_dkim.outcome import Outcome
from qmail_dkim.spool import HEADER_MAX


class Unsigned(Exception):
    """The message goes through unsigned; the reason is logged."""

    def __init__(self, reason, **fields):
        super().__init__(reason)
        self.reason = reason
        self.fields = fields


class Plan:
    """Everything decided before the key is read."""

    def __init__(self):
        self.from_domain = None
        self.domain = None          # the domain the key is looked up for
        self.settings = None        # config.SignSettings after control/dkimkeys variables
        self.template = None
        self.dkimkeys_rule = None   # (keypath, vars) if control/dkimkeys chose
        self.options = None
        self.resolution = None      # keypath.Resolution
        self.extra = None           # (Resolution, options) for DKIMSIGNEXTRA
        self.extra_note = None      # why the extra signature is dropped
        self.rcpt = None            # the DKIMSIGNRCPTS match
        # Set by prepare():
        self.jobs = None            # [Job]: the signature(s) to make, keys loaded
        self.warnings = None        # the log line's warning= items
        self.include = None         # header field names to sign (h=)


class Job:
    """One signature: where its key is, its options, the loaded key."""

    def __init__(self, resolution, options, key):
        self.resolution = resolution
        self.options = options
        self.key = key


def _unreadable(readable, path):
    """qmail-dkim-check -u: `readable(path)` says why another user could not
    open `path` (None: it could, or the file does not exist and the user may
    look for it); qmail-dkim passes no such callable."""
    if readable is not None:
        why = readable(path)
        if why:
            raise QmailDkimExit(exits.CONFIG_ERROR, "cannot read %s: %s" % (path, why), key=path)


def parse_options(text, settings):
    try:
        return signopts.parse(text, settings.identity, settings.expire)
    except signopts.OptionError as e:
        raise QmailDkimExit(exits.CONFIG_ERROR, str(e))


def signing_domain(settings, fields, overflow=False):
    """(domain the key is looked up for, From: domain); raises Unsigned."""
    if fields and fields[0].name == b"":
        # Our DKIM-Signature would be continued by it downstream (and broken).
        raise Unsigned("message begins with a continuation line")
    if overflow:
        raise Unsigned("header larger than %d octets" % HEADER_MAX)
    from_domain, reason = fromaddr.from_domain(fields)
    if reason == "no From: header":
        raise Unsigned("no From: header")
    if settings.domain:
        domain = fromaddr.to_alabel(settings.domain.rsplit("@", 1)[-1])
        if domain is None:
            raise Unsigned("DKIMDOMAIN %r is not a valid domain" % settings.domain)
    else:
        if from_domain is None:
            raise Unsigned(reason)
        domain = from_domain
    bad = domainname.check(domain)
    if bad:
        raise Unsigned("%s: %r" % (bad, domain[:80]))
    return domain, from_domain


def plan(settings, fields, template, envelope=None, exists=keypath.file_exists, overflow=False,
         readable=None):
    """Decide; raises Unsigned or QmailDkimExit. `settings`: config.SignSettings;
    `envelope` is a callable returning the envelope bytes (read only when
    DKIMSIGNRCPTS is set)."""
    p = Plan()
    p.settings = settings
    p.template = template
    p.options = parse_options(settings.options, settings)
    p.domain, p.from_domain = signing_domain(settings, fields, overflow)

    if settings.use_dkimkeys:
        _unreadable(readable, config.control_path(settings.controldir, "dkimkeys"))
        rules = config.read_dkimkeys(settings.controldir)
        rule = config.match_dkimkeys(rules, p.domain) if rules else None
        if rule:
            p.dkimkeys_rule = rule
            p.template = rule[0]
            if rule[1]:
                p.settings = settings.with_vars(rule[1])
                p.options = parse_options(p.settings.options, p.settings)

    if p.settings.rcpts is not None:
        from qmail_dkim import envelope as rcpts
        wanted = rcpts.parse_filter(p.settings.rcpts)
        p.rcpt = rcpts.matches(rcpts.recipients(envelope() if envelope else b""), wanted)
        if p.rcpt is None:
            raise Unsigned("no envelope recipient in DKIMSIGNRCPTS")

    controldir = p.settings.key_controldir
    p.resolution = keypath.resolve(p.template, p.domain, exists, controldir)
    if p.resolution.missing_fixed:
        raise QmailDkimExit(exits.KEY_MISSING, "key file %s does not exist" % p.template,
                            key=p.template, tried=p.resolution.tried)
    if p.resolution.path is None:
        raise Unsigned("no key for %s" % p.domain, tried=p.resolution.tried)

    if p.settings.extra:
        extra_opts = parse_options(p.settings.extra_options, p.settings)
        res = keypath.resolve(p.settings.extra, p.domain, exists, controldir)
        if res.missing_fixed:
            raise QmailDkimExit(exits.KEY_MISSING, "key file %s does not exist" % res.tried[0],
                                key=res.tried[0], tried=res.tried)
        if res.path is None:
            p.extra_note = "no extra key for %s (tried %s)" % (p.domain, ",".join(res.tried))
        else:
            p.extra = (res, extra_opts)
    return p


def _load(path, opts, readable=None):
    from qmail_dkim.dkim import privkey as keyfile
    _unreadable(readable, path)
    try:
        key = keyfile.load_private_key(path)
    except keyfile.KeyFileError as e:
        raise QmailDkimExit(exits.CONFIG_ERROR, "cannot use key %s" % e, key=path)
    if opts.algorithm and opts.algorithm != key.kind:
        raise QmailDkimExit(exits.CONFIG_ERROR, "-z asks for %s but %s is an %s key"
                            % (opts.algorithm, path, key.kind), key=path)
    return key


def _check_identity(opts, domain):
    if opts.identity:
        bad = signopts.check_identity(opts.identity, domain)
        if bad:
            raise QmailDkimExit(exits.CONFIG_ERROR, bad)


def load_jobs(p, readable=None):
    """Load and check every key job of a plan (main, then DKIMSIGNEXTRA), in
    that order: i= in the signing domain, key readable and parsable, -z
    matching the key. Raises QmailDkimExit (55). Returns (jobs, warnings)."""
    pairs = [(p.resolution, p.options)]
    if p.extra:
        pairs.append(p.extra)
    jobs = []
    warnings = []
    for res, opts in pairs:
        _check_identity(opts, res.domain)
        key = _load(res.path, opts, readable)
        if key.world_readable:
            warnings.append("key %s is world-readable" % res.path)
        warnings.extend(opts.warnings)
        jobs.append(Job(res, opts, key))
    if p.extra_note:
        warnings.append(p.extra_note)
    return jobs, warnings


def prepare(settings, fields, template, envelope=None, exists=keypath.file_exists,
            overflow=False, readable=None):
    """Everything before the body: plan() plus load_jobs(). Raises Unsigned
    or QmailDkimExit. `exists` and `readable` let qmail-dkim-check ask as
    another user (-u); qmail-dkim uses the defaults."""
    p = plan(settings, fields, template, envelope, exists, overflow, readable)
    p.jobs, p.warnings = load_jobs(p, readable)
    p.include = headerset.select(fields, p.settings.exclude)
    return p


def unsigned_log(u):
    log = [("result", "unsigned"), ("reason", u.reason)]
    if "tried" in u.fields:
        log.append(("tried", u.fields["tried"]))
    return log


def run(settings, spool, template, envelope=None):
    """Sign mode for one message -> Outcome (exit_code None: queue it).
    `settings`: config.SignSettings."""
    try:
        p = prepare(settings, spool.fields, template, envelope, overflow=spool.overflow)
    except Unsigned as u:
        return Outcome(log=unsigned_log(u))

    from qmail_dkim.dkim import bodyhash
    from qmail_dkim.dkim import signer
    hashers = {}
    for job in p.jobs:
        canon = job.options.canon[1]
        hashers.setdefault(canon, bodyhash.BodyHasher(canon, "sha256"))
    bodyhash.hash_bodies(spool, list(hashers.values()))

    now = int(time.time())
    lines = []
    for job in p.jobs:
        bh = hashers[job.options.canon[1]]
        lines.append(signer.make_signature(
            spool.fields, job.key, job.resolution.domain, job.resolution.selector, job.options,
            p.include, bh.digest(), bh.length, now))
    log = [("result", "signed"),
           ("d", [j.resolution.domain for j in p.jobs]),
           ("s", [j.resolution.selector for j in p.jobs]),
           ("a", [j.key.algorithm.decode() for j in p.jobs]),
           ("key", [j.resolution.path for j in p.jobs])]
    if p.rcpt:
        log.append(("rcpt", p.rcpt))
    if p.warnings:
        log.append(("warning", "; ".join(p.warnings)))
    return Outcome(prepend=b"".join(lines), log=log)
