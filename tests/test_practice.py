"""practice: configuration parsing and the ADSP/SSP decisions."""
import pytest

from qmail_dkim import config
from qmail_dkim.verify import practice
from tests.verifyhelp import Lookup, answer


@pytest.mark.parametrize("env,want", [
    ({}, "adsp"), ({"SIGN_PRACTICE": "adsp"}, "adsp"), ({"SIGN_PRACTICE": "SSP"}, "ssp"),
    ({"SIGN_PRACTICE": "local"}, "local"), ({"SIGN_PRACTICE": ""}, None),
    ({"SIGN_PRACTICE": "none"}, None), ({"SIGN_PRACTICE": "0"}, None),
])
def test_method(env, want):
    assert config.practice_method(env) == want


def test_letters():
    assert config.practice_letters({}) is None
    assert config.practice_letters({"DKIMPRACTICE": ""}) == set("FGHIJKLMNPQRSTUVWX")
    assert config.practice_letters({"DKIMPRACTICE": "su"}) == {"S", "U"}


def test_control_path():
    def paths(env):
        s = config.VerifySettings(dict(env, DKIMAUTHSERVID="x"))
        return s.signaturedomains, s.nosignaturedomains
    assert paths({}) == ("control/signaturedomains", "control/nosignaturedomains")
    assert paths({"CONTROLDIR": "etc"}) == ("etc/signaturedomains", "etc/nosignaturedomains")
    assert paths({"SIGNATUREDOMAINS": "other"}) == ("control/other", "control/nosignaturedomains")
    assert paths({"NOSIGNATUREDOMAINS": "/abs/file"}) == ("control/signaturedomains", "/abs/file")
    assert config.control_path("etc", "x") == "etc/x"
    assert config.control_path("etc", "a/x") == "a/x"


def test_read_domain_list(tmp_path):
    f = tmp_path / "l"
    f.write_text("# comment\nExample.COM.\n\n  other.example  # trailing\n")
    assert config.read_domain_list(str(f)) == ["example.com", "other.example"]
    assert config.read_domain_list(str(tmp_path / "missing")) == []


def settings(env):
    return config.VerifySettings(dict(env, DKIMAUTHSERVID="x"))


def test_no_author_domain():
    assert practice.apply(settings({"DKIMPRACTICE": ""}), "S", None, False, Lookup()) is None


def test_adsp_lookups_names():
    lk = Lookup({"example.com": answer("nodata")})
    r = practice.apply(settings({"DKIMPRACTICE": "", "CONTROLDIR": "/nonexistent"}), "S",
                       "Example.com", False, lk)
    assert r.letter == "D" and r.header == b"X-DKIM-ADSP: unknown;\n"
    assert lk.calls == ["_adsp._domainkey.example.com", "example.com"]
