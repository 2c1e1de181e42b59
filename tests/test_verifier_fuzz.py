"""Any input gets a status: verify.run never raises for malformed mail."""
import tempfile

from hypothesis import given, settings, strategies as st

from qmail_dkim.verify import run as verify
from qmail_dkim import config
from tests.qdkim import spool_bytes
from tests.profiles import examples
from tests.verifyhelp import MSG, Lookup, answer, dkimpy_sign, rsa_priv, rsa_record

SIGNED = dkimpy_sign(MSG)
TAGS = [b"v", b"a", b"b", b"bh", b"c", b"d", b"h", b"i", b"l", b"q", b"s", b"t", b"x", b"z"]
VALUES = st.one_of(
    st.binary(max_size=40),
    st.sampled_from([b"1", b"rsa-sha256", b"ed25519-sha256", b"relaxed/simple", b"example.com",
                     b"sel", b"from:to", b"AAAA", b"dns/txt", b"0", b"99999999999", b"@example.com",
                     b"=", b";", b"\n\t", b"\xff\xfe", b"a" * 70]))
TAG_LIST = st.lists(st.tuples(st.sampled_from(TAGS), VALUES), max_size=12)
RECORDS = st.one_of(st.just(None), st.binary(max_size=60),
                    st.sampled_from([b"v=DKIM1; p=", b"k=ed25519; p=AAAA", rsa_record(rsa_priv()).encode(),
                                     b"v=DKIM1; h=sha1; p=x", b"g=; p=" + b"A" * 8]))


def _run(msg, record):
    with tempfile.TemporaryDirectory() as d:
        sp = spool_bytes(msg, d)
        lk = Lookup(default=answer("ok", record) if record is not None else answer("nxdomain"))
        try:
            o = verify.run(config.VerifySettings({"DKIMAUTHSERVID": "mx.test",
                                              "DKIMVERIFY": "ABCDEFGHIJKLMNOPQRSTUVWXY"}),
                           sp, lookup=lk)
        finally:
            sp.close()
    assert o.prepend.startswith(b"DKIM-Status: ")
    assert b"\r" not in o.prepend
    assert all(line.startswith((b"\t", b"DKIM-Status:", b"Authentication-Results:", b"X-DKIM-"))
               for line in o.prepend.split(b"\n")[:-1])
    return o


@settings(max_examples=examples(300))
@given(TAG_LIST, RECORDS)
def test_random_signature_tags(tags, record):
    value = b";".join(k + b"=" + v for k, v in tags)
    _run(b"DKIM-Signature: " + value + b"\n" + MSG, record)


@settings(max_examples=examples(200))
@given(st.binary(max_size=400))
def test_random_message(data):
    _run(data, None)


@settings(max_examples=examples(200))
@given(st.integers(min_value=0, max_value=len(SIGNED) - 1), st.binary(min_size=1, max_size=3))
def test_mutated_signed_message(pos, junk):
    msg = SIGNED[:pos] + junk + SIGNED[pos + len(junk):]
    _run(msg, rsa_record(rsa_priv()).encode())
