"""practice: configuration parsing and the ADSP/SSP decisions."""
import pytest

from qmail_dkim.verify import practice
from tests.verifyhelp import Lookup, answer


@pytest.mark.parametrize("env,want", [
    ({}, "adsp"), ({"SIGN_PRACTICE": "adsp"}, "adsp"), ({"SIGN_PRACTICE": "SSP"}, "ssp"),
    ({"SIGN_PRACTICE": "local"}, "local"), ({"SIGN_PRACTICE": ""}, None),
    ({"SIGN_PRACTICE": "none"}, None), ({"SIGN_PRACTICE": "0"}, None),
])
def test_method(env, want):
    assert practice.method(env) == want


def test_letters():
    assert practice.letters({}) is None
    assert practice.letters({"DKIMPRACTICE": ""}) == set("FGHIJKLMNPQRSTUVWX")
    assert practice.letters({"DKIMPRACTICE": "su"}) == {"S", "U"}


def test_control_path():
    assert practice.control_path({}, "signaturedomains", "SIGNATUREDOMAINS") == "control/signaturedomains"
    assert practice.control_path({"CONTROLDIR": "etc"}, "x", "V") == "etc/x"
    assert practice.control_path({"V": "other"}, "x", "V") == "control/other"
    assert practice.control_path({"V": "/abs/file"}, "x", "V") == "/abs/file"


def test_read_domain_list(tmp_path):
    f = tmp_path / "l"
    f.write_text("# comment\nExample.COM.\n\n  other.example  # trailing\n")
    assert practice.read_domain_list(str(f)) == ["example.com", "other.example"]
    assert practice.read_domain_list(str(tmp_path / "missing")) == []


def test_no_author_domain():
    assert practice.apply({"DKIMPRACTICE": ""}, "S", None, False, Lookup()) is None


def test_adsp_lookups_names():
    lk = Lookup({"example.com": answer("nodata")})
    r = practice.apply({"DKIMPRACTICE": "", "CONTROLDIR": "/nonexistent"}, "S", "Example.com",
                       False, lk)
    assert r.letter == "D" and r.header == b"X-DKIM-ADSP: unknown;\n"
    assert lk.calls == ["_adsp._domainkey.example.com", "example.com"]
