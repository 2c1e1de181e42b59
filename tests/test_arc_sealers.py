"""Trusted ARC sealers (control/arcsealers) in verify mode, in process with
DNS from a table: when the chain passes, the most recent sealer is listed and
its ARC-Authentication-Results say DMARC passed (or hold aligned SPF / DKIM
passes), a DMARC fail is overridden and the headers and the log name the
sealer; anything less changes nothing."""
import functools

import pytest

from qmail_dkim import exits
from qmail_dkim.verify import arcsealers
from tests.arcseal import seal
from tests.test_dmarc_verify import ar, run
from tests.verifyhelp import MSG, dkimpy_sign, rsa_priv, rsa_record

LIST_KEY, EVIL_KEY = rsa_priv(2048, 3), rsa_priv(2048, 4)
KEYS = {"arc._domainkey.lists.example.org": rsa_record(LIST_KEY),
        "arc._domainkey.evil.example": rsa_record(EVIL_KEY)}
ENV = {"DMARCVERIFY": "R", "SPFRESULT": "fail"}
VOUCH = ("spf=pass smtp.mailfrom=joe@example.com; dkim=pass header.d=example.com header.s=sel;"
         " dmarc=pass header.from=example.com")


@pytest.fixture
def home(home, monkeypatch):
    monkeypatch.chdir(home)
    return home


def list_changed():
    """example.com's signed message, its Subject tagged by a list: DKIM now fails."""
    return dkimpy_sign(MSG).replace(b"Subject: test message", b"Subject: [list] test message")


@functools.lru_cache(maxsize=None)
def listed_message(results=VOUCH, sealer=b"lists.example.org", key=None):
    """list_changed(), sealed by the list with `results` as what it saw."""
    return seal(list_changed(), key or LIST_KEY, sealer, results=results)


def trust(home, text):
    (home / "control" / "arcsealers").write_text(text)


def go(tmp_path, msg, env=ENV):
    return run(tmp_path, msg, env, extra=KEYS)


def test_without_arcsealers_dmarc_fail_rejects(home, tmp_path):
    o = go(tmp_path, listed_message())
    assert o.exit_code == exits.REJECT_PERM
    log = dict(o.log)
    assert (log["arc"], log["dmarc"], log["dkim"]) == ("pass", "fail", ["fail"])
    assert "override" not in log


def test_trusted_sealer_with_dmarc_pass_delivers(home, tmp_path):
    trust(home, "# sealers we trust\nlists.example.org\n")
    o = go(tmp_path, listed_message())
    assert o.exit_code is None
    log = dict(o.log)
    assert log["override"] == "trusted_forwarder"
    assert log["override.why"] == "ARC sealer lists.example.org: dmarc=pass header.from=example.com"
    assert log["disposition"] == "none" and log["action"] == "deliver"
    a = ar(o)
    assert ("dmarc=fail (p=reject sp=reject np=reject dis=none override=trusted_forwarder:"
            " ARC sealer lists.example.org: dmarc=pass header.from=example.com)") in a
    assert "arc=pass (sealer lists.example.org) header.oldest-pass=0" in a


def test_untrusted_sealer_rejects(home, tmp_path):
    trust(home, "other.example\n.lists.example.org\n")      # not lists.example.org itself
    o = go(tmp_path, listed_message())
    assert o.exit_code == exits.REJECT_PERM and "override" not in dict(o.log)


def test_subdomain_entry(home, tmp_path):
    trust(home, ".example.org\n")
    assert go(tmp_path, listed_message()).exit_code is None


def test_failing_chain_changes_nothing(home, tmp_path):
    trust(home, "lists.example.org\n")
    o = go(tmp_path, listed_message() + b"added after sealing\n")
    assert o.exit_code == exits.REJECT_PERM
    assert dict(o.log)["arc"] == "fail" and "override" not in dict(o.log)


def test_sealer_that_saw_a_fail_changes_nothing(home, tmp_path):
    trust(home, "lists.example.org\n")
    for results in ("spf=fail smtp.mailfrom=joe@example.com; dkim=fail header.d=example.com;"
                    " dmarc=fail header.from=example.com",
                    "dmarc=pass header.from=other.example",             # about another From
                    "spf=pass smtp.mailfrom=joe@other.example; dkim=pass header.d=other.example"):
        o = go(tmp_path, listed_message(results))
        assert o.exit_code == exits.REJECT_PERM, results
        assert "override" not in dict(o.log)


def test_aligned_dkim_pass_recorded_by_the_sealer(home, tmp_path):
    """No dmarc= in the sealer's results: DMARC is evaluated again with its
    SPF and DKIM results (example.com's record, its alignment)."""
    trust(home, "lists.example.org\n")
    o = go(tmp_path, listed_message("dkim=pass header.d=mail.example.com header.s=s1"))
    assert o.exit_code is None
    assert dict(o.log)["override.why"] == ("ARC sealer lists.example.org: "
                                           "dkim=pass header.d=mail.example.com aligned")
    # strict DKIM alignment in example.com's record: a subdomain does not align
    o = run(tmp_path, listed_message("dkim=pass header.d=mail.example.com header.s=s1"), ENV,
            dmarc="v=DMARC1; p=reject; adkim=s", extra=KEYS)
    assert o.exit_code == exits.REJECT_PERM


def test_sealer_results_evaluated_without_asking_dns_again(home, tmp_path):
    """The second DMARC evaluation (with the sealer's results) walks the same
    _dmarc names as the first: every name is asked once per message."""
    trust(home, "lists.example.org\n")
    o = go(tmp_path, listed_message("dkim=pass header.d=mail.example.com header.s=s1"))
    assert o.exit_code is None and dict(o.log)["override"] == "trusted_forwarder"
    assert "_dmarc.mail.example.com" in o.lookups
    assert len(o.lookups) == len(set(o.lookups)), o.lookups


def test_only_the_most_recent_sealer_counts(home, tmp_path):
    trust(home, "lists.example.org\n")
    twice = seal(listed_message(), EVIL_KEY, b"evil.example", arc="pass", results=VOUCH)
    o = go(tmp_path, twice)
    assert dict(o.log)["arc"] == "pass" and dict(o.log)["arc.sealers"] == [
        "lists.example.org", "evil.example"]
    assert o.exit_code == exits.REJECT_PERM


def test_no_letter_to_reject_still_names_the_sealer(home, tmp_path):
    trust(home, "lists.example.org\n")
    o = go(tmp_path, listed_message(), {"DMARCVERIFY": "", "SPFRESULT": "fail"})
    assert o.exit_code is None
    assert dict(o.log)["override.why"].startswith("ARC sealer lists.example.org")
    assert "dis=none override=trusted_forwarder" in ar(o)


def test_listed():
    assert arcsealers.listed("Lists.Example.org.", ["lists.example.org"]) == "lists.example.org"
    assert arcsealers.listed("a.lists.example.org", ["lists.example.org"]) is None
    assert arcsealers.listed("a.lists.example.org", [".example.org"]) == ".example.org"
    assert arcsealers.listed("example.org", [".example.org"]) is None
    assert arcsealers.listed("", ["x"]) is None


def test_unreadable_arcsealers_is_config_error(home, tmp_path):
    (home / "control" / "arcsealers").mkdir()
    from qmail_dkim.exits import QmailDkimExit
    with pytest.raises(QmailDkimExit) as e:
        go(tmp_path, listed_message())
    assert e.value.code == exits.CONFIG_ERROR
