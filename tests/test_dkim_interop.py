"""Our verifier on what eight independent DKIM implementations produced:
../shared/corpora/dkim-interop (Mail::DKIM, dkimpy, mailauth, go-msgauth,
Apache jDKIM, authheaders, OpenDKIM, rspamd; 155 cases), loaded by
tests/interop.py, key records served by one NSD (tests/realparts/nsd.py).

Each message is fed as qmail stores what qmail-smtpd received: CR LF line
ends become LF (the corpus files are mostly wire form). Our per-signature
Authentication-Results dkim= words (and the log line's dkim= field, which
must say the same) are mapped to the corpus classes by interop.WORD_CLASS;
the message class is pass when any signature passes, none when unsigned,
else the first signature's class. Where the manifest lists per-signature
classes ("sigs"), each asserted one must agree too.

All cases run in-process through verify.run; a subset -- per project the
first case of each expected class, and both DNS-timeout cases -- also runs
as a qmail-dkim process with the qmail-queue double, where the stored
message must carry our header fields with the same verdict, followed by the
message unaltered.

Documented differences (DIFFERENCES): the cases where our verdict differs
from the corpus's, each with the rule of qmail-dkim(8) it follows; the test
checks that we give exactly that verdict and that the man page states the
rule.
"""
import queue
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from qmail_dkim import config
from qmail_dkim.verify import run as verify
from qmail_dkim.verify import status
from tests import interop, qdkim
from tests.realparts.nsd import Blackhole, NsdServer

CASES = 155
WORKERS = 3          # qmail-dkim processes at a time in the subset
AUTHSERV = "mx.test.example"
MAN = interop.REPO_MAN

# case name -> (our class, the rule, a phrase of man/qmail-dkim.8 stating it)
MBOX_RULE = ("the header ends at the first line that is no header field: a file "
             "beginning with an mbox 'From ' line has no header fields for us, so "
             "its signature is not seen (S, dkim=none); jDKIM skips that line",
             "an mbox\n\"From \" separator line")
DIFFERENCES = {
    "jdkim/gamma_gmail.com.eml": ("none",) + MBOX_RULE,
    "jdkim/gamma_gmail.com_duplicateheaders.eml": ("none",) + MBOX_RULE,
}

_DKIM_WORD = re.compile(rb"[;\s]dkim=(\w+)")


def _ar_words(prepend):
    """The dkim= words of our Authentication-Results field in `prepend`."""
    start = prepend.find(b"Authentication-Results: %s;" % AUTHSERV.encode())
    assert start >= 0, prepend[:300]
    block = prepend[start:]
    end = re.search(rb"\n(?![\t ])", block)
    block = block[:end.end()] if end else block
    return [w.decode() for w in _DKIM_WORD.findall(block)]


def _classes(words):
    """dkim= words -> per-signature classes ([] for an unsigned message)."""
    if words == ["none"]:
        return []
    return [interop.our_class(w) for w in words]


def _judge(case, words):
    """-> (our message class, per-signature classes, agrees with the corpus)."""
    classes = _classes(words)
    got = interop.message_class(classes)
    agrees = got in case.expected and (
        case.sigs is None or (len(classes) >= len(case.sigs) and all(
            want is None or want == have for want, have in zip(case.sigs, classes))))
    return got, classes, agrees


@pytest.fixture(scope="module")
def corpus():
    c = interop.load()
    if c is None:
        pytest.skip(interop.skip_message())
    return c


@pytest.fixture(scope="module")
def dns(corpus, tmp_path_factory, require_tool):
    """One NSD; serve(round) switches it to a round's record sets."""
    require_tool("nsd")
    ns = NsdServer(workdir=tmp_path_factory.mktemp("nsd-interop"))
    hole = Blackhole()
    state = {"round": None}

    def serve(members):
        if state["round"] != members:
            zones, servfail = corpus.zones(members)
            ns.replace_zones(zones, servfail)
            if ns.proc is None:
                ns.start()
            state["round"] = members
        return ns

    serve.blackhole = hole
    yield serve
    ns.stop()
    hole.close()


def _by_round(corpus, cases):
    for members in corpus.rounds:
        for case in cases:
            if (case.project, case.view) in members:
                yield members, case


# a silent server costs the whole timeout: short there, generous for NSD
# (the machine may be busy)
SILENT_TIMEOUT = 0.5


def _env(case, ns, hole):
    if case.timeout:
        return {"DKIMVERIFY": "", "DKIMAUTHSERVID": AUTHSERV,
                "DKIMDNSTIMEOUT": str(SILENT_TIMEOUT), "DNSCACHEIP": hole.dnscacheip}
    return {"DKIMVERIFY": "", "DKIMAUTHSERVID": AUTHSERV, "DKIMDNSTIMEOUT": "5",
            "DNSCACHEIP": ns.dnscacheip}


def _check(case, got, classes, agrees, wrong, differ):
    diff = DIFFERENCES.get(case.name)
    if diff is not None:
        if got != diff[0]:
            wrong.append((case.name, "documented difference changed", diff[0], got, classes))
        else:
            differ.append(case.name)
    elif not agrees:
        wrong.append((case.name, case.expected, case.sigs, got, classes, case.why[:120]))


def test_corpus_complete(corpus):
    assert len(corpus.cases) == CASES
    assert {c.project for c in corpus.cases} == set(interop.PROJECTS)
    for c in corpus.cases:
        assert set(c.expected) <= set(interop.CLASSES), c.name
    # every case is served by exactly one round, and no round serves one name twice
    for c in corpus.cases:
        assert sum((c.project, c.view) in r for r in corpus.rounds) == 1, c.name
    assert set(DIFFERENCES) <= {c.name for c in corpus.cases}


def test_documented_differences_are_in_the_man_page():
    text = MAN.read_text()
    for name, (_, why, phrase) in DIFFERENCES.items():
        assert phrase in text, (name, phrase)


def test_every_word_has_a_class():
    """Every dkim= word verify/status.py can write maps to a corpus class
    (a new word must be placed here, not met as a KeyError mid-corpus)."""
    words = set(status.RESULTS.values()) | {status.result_word(c) for c in status.LETTERS}
    assert words <= set(interop.WORD_CLASS), words - set(interop.WORD_CLASS)
    assert set(interop.WORD_CLASS.values()) == set(interop.CLASSES)


def test_every_case_in_process(corpus, dns, tmp_path, monkeypatch):
    """All 155 through verify.run, DNS from NSD through our own client. A
    key lookup at a silent server ends within the DNS budget (three times
    DKIMDNSTIMEOUT)."""
    (tmp_path / "control").mkdir()
    monkeypatch.chdir(tmp_path)
    wrong, differ, agree = [], [], 0
    per_class = {}
    for members, case in _by_round(corpus, corpus.cases):
        ns = dns(members)
        sp = qdkim.spool_bytes(case.message, tmp_path)
        started = time.monotonic()
        try:
            out = verify.run(config.VerifySettings(_env(case, ns, dns.blackhole)), sp)
        finally:
            sp.close()
        if case.timeout and time.monotonic() - started > 3 * SILENT_TIMEOUT + 2:
            wrong.append((case.name, "took %.1f s" % (time.monotonic() - started)))
        log = dict(out.log)
        words = _ar_words(out.prepend)
        if log["dkim"] != words or out.exit_code is not None:
            wrong.append((case.name, "log dkim=%r, header %r, exit %r"
                          % (log["dkim"], words, out.exit_code)))
            continue
        got, classes, agrees = _judge(case, words)
        _check(case, got, classes, agrees, wrong, differ)
        if agrees:
            agree += 1
            per_class[got] = per_class.get(got, 0) + 1
    assert wrong == [], "%d wrong: %r" % (len(wrong), wrong)
    assert agree + len(differ) == CASES
    assert sorted(differ) == sorted(DIFFERENCES)
    # every class of the corpus was met and agreed on at least once
    assert set(per_class) == set(interop.CLASSES), per_class
    print("dkim-interop in-process: %d/%d agree, %d documented differences (%s); %s"
          % (agree, CASES, len(differ), ", ".join(sorted(differ)),
             " ".join("%s=%d" % kv for kv in sorted(per_class.items()))))


def _subset(corpus):
    """Per project the first case of each expected class, every DNS-timeout
    case and every documented difference."""
    seen, out = set(), []
    for case in corpus.cases:
        key = (case.project, case.expected)
        if key not in seen or case.timeout or case.name in DIFFERENCES:
            seen.add(key)
            out.append(case)
    return out


def test_subset_through_the_process(corpus, dns, home_factory):
    """qmail-dkim as qmail-smtpd runs it: the stored message carries our
    DKIM-Status and Authentication-Results with the corpus's verdict, the
    log line says the same, and the message follows unaltered. The runs of
    one round go WORKERS at a time, each worker with a QMAILHOME of its own."""
    subset = _subset(corpus)
    assert len(subset) >= 20 and {c.project for c in subset} == set(interop.PROJECTS)
    homes = queue.Queue()
    for i in range(WORKERS):
        homes.put(home_factory("interop%d" % i))

    def one(case, ns):
        home = homes.get()
        try:
            return case, qdkim.run(home, _env(case, ns, dns.blackhole), message=case.message)
        finally:
            homes.put(home)

    runs = []
    with ThreadPoolExecutor(WORKERS) as pool:
        for members in corpus.rounds:
            cases = [c for c in subset if (c.project, c.view) in members]
            if cases:
                ns = dns(members)
                runs += list(pool.map(lambda c: one(c, ns), cases))
    assert len(runs) == len(subset)
    wrong, differ, agree = [], [], 0
    for case, r in runs:
        if r.rc != 0 or len(r.stored) != 1:
            wrong.append((case.name, "rc=%s" % r.rc, r.stderr[-300:]))
            continue
        stored = r.msg
        if not stored.startswith(b"DKIM-Status: ") or not stored.endswith(case.message):
            wrong.append((case.name, "stored message", stored[:200]))
            continue
        head = stored[:len(stored) - len(case.message)]
        # DKIM-Status carries the text of the message letter the log names
        if not head.startswith(b"DKIM-Status: %s\n" % status.TEXTS[r.field("status")].encode()):
            wrong.append((case.name, "DKIM-Status", r.field("status"), head[:120]))
            continue
        words = _ar_words(head)
        if r.field("dkim") != ",".join(words):
            wrong.append((case.name, "log dkim=%r, header %r" % (r.field("dkim"), words)))
            continue
        got, classes, agrees = _judge(case, words)
        _check(case, got, classes, agrees, wrong, differ)
        agree += agrees
    assert wrong == [], wrong
    assert agree + len(differ) == len(subset)
    print("dkim-interop through qmail-dkim processes: %d/%d agree, %d documented differences"
          % (agree, len(subset), len(differ)))
