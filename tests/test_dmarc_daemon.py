"""DMARCVERIFY through qmail-dkimd (DKIMSOCKET): the same replies, log and
queued message as in-process (the worker runs the very same main())."""
import pytest

from tests.qdkim import SAMPLE
from tests.realparts.nsd import NsdServer, txt_strings
from tests.test_daemon import RELAY, dkimd, home, run  # noqa: F401 - fixtures

ROOT = ("$TTL 300\n. IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
        ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n")


@pytest.fixture
def ns(tmp_path, require_tool, home):  # noqa: F811
    require_tool("nsd")
    from tests.realparts.keys import cached_rsa_key
    zone = ROOT + "\n".join([
        "default._domainkey.example.com. IN TXT " + txt_strings(cached_rsa_key(2048).dns_record()),
        '_dmarc.example.com. IN TXT "v=DMARC1; p=reject"',
        'example.com. IN TXT "v=spf1 ip4:192.0.2.1 -all"']) + "\n"
    (tmp_path / "nsd").mkdir()
    with NsdServer({".": zone}, workdir=tmp_path / "nsd") as s:
        yield s


def test_dmarc_through_server_same_as_in_process(dkimd, home, ns):  # noqa: F811
    signed = run(home, RELAY).stored[0].msg
    env = {"DKIMVERIFY": "", "DMARCVERIFY": "Rt", "DNSCACHEIP": ns.dnscacheip,
           "TCPREMOTEIP": "192.0.2.7", "DKIMAUTHSERVID": "mx.example.net"}
    for message, rc, dmarc in ((signed, 0, "pass"), (SAMPLE, 31, "fail")):
        inproc = run(home, env, message)
        served = run(home, dict(env, DKIMSOCKET=dkimd.socket), message)
        assert inproc.rc == served.rc == rc, (inproc.stderr, served.stderr)
        assert inproc.log == served.log
        assert "dmarc=%s" % dmarc in served.log and "spf=fail" in served.log
        assert [m.msg for m in inproc.stored] == [m.msg for m in served.stored]
        if rc == 0:
            assert b"dmarc=pass" in served.stored[0].msg.split(b"\n\n")[0]
