"""status: letters, historic numbers, texts, result words, DKIMVERIFY."""
import pytest

from qmail_dkim import exits
from qmail_dkim.verify import status


def test_numbers():
    assert status.NUMBERS["A"] == 0 and status.NUMBERS["F"] == 5
    assert status.NUMBERS["G"] == -1 and status.NUMBERS["H"] == -2
    assert status.NUMBERS["S"] == -13 and status.NUMBERS["Y"] == -19
    assert sorted(status.NUMBERS) == list(status.LETTERS)


def test_every_letter_has_name_and_text():
    for c in status.LETTERS:
        assert status.NAMES[c] and status.TEXTS[c]


@pytest.mark.parametrize("letter,text", [
    ("A", "good"), ("F", "3rd-party signature"), ("G", "DKIM Signature verification failed"),
    ("I", "signature error: RSA verify failed"), ("S", "no signatures"),
    ("U", "signature verify error: message body does not hash to bh value"),
    ("X", "signature error: not all message's From headers in signature"),
])
def test_historic_texts(letter, text):
    assert status.dkim_status_text(letter) == text


def test_old():
    assert status.dkim_status_text("G", "U") == \
        "DKIM Signature verification failed (old=BODY_HASH_MISMATCH:-15)"
    assert status.dkim_status_text("D", "S").endswith("(old=NO_SIGNATURES:-13)")


@pytest.mark.parametrize("letters,word", [
    ("AEF", "pass"), ("IUJ", "fail"), ("KXY", "policy"), ("HWO", "neutral"),
    ("LMNQRV", "permerror"), ("P", "temperror"), ("S", "none"),
])
def test_result_words(letters, word):
    for c in letters:
        assert status.result_word(c) == word


@pytest.mark.parametrize("letter,dv,code", [
    ("U", "FGHIKLMNOQRTUVWjp", exits.REJECT_PERM),
    ("P", "FGHIKLMNOQRTUVWjp", exits.REJECT_TEMP),
    ("J", "FGHIKLMNOQRTUVWjp", exits.REJECT_TEMP),
    ("S", "FGHIKLMNOQRTUVWjp", None),
    ("A", "FGHIKLMNOQRTUVWjp", None),
    ("A", "A", exits.REJECT_PERM),
    ("P", "pP", exits.REJECT_PERM),
    ("P", "", None), ("P", None, None),
])
def test_verify_action(letter, dv, code):
    assert status.verify_action(letter, dv)[0] == code
