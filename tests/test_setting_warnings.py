"""Settings that cannot mean what they say give warning= in the log line,
never a rejection (qmail-dkim(8), LOG): DKIMVERIFY characters outside
A-Y/a-y, the letter A (rejects mail whose signature verifies), DNSCACHEIP
entries that are not addresses; DMARCVERIFY characters that are none of
its letters, and T (a DNS failure bounces permanently)."""
import os
import shutil
import subprocess
import sys

import pytest

from qmail_dkim.verify import status
from tests import qdkim
from tests.logparse import fields

CHECK = shutil.which("qmail-dkim-check", path=os.path.dirname(sys.executable))
UNSIGNED = b"From: joe@example.com\nTo: bob@example.net\nSubject: x\n\nhello\n"


@pytest.mark.parametrize("value,expect", [
    ('"FGHIKLMNOQRTUVWjp"', 'DKIMVERIFY characters that are no letter A-Y ignored: "'),
    ("FGH IKL", "DKIMVERIFY characters that are no letter A-Y ignored: space"),
    ("FGH1", "ignored: 1"),
    ("FGHZ", "ignored: Z"),
    ("AFGH", "DKIMVERIFY has A: mail whose signature verifies is rejected"),
    ("aFGH", "DKIMVERIFY has a: mail whose signature verifies is rejected"),
])
def test_dkimverify_warning_in_log_line(home, value, expect):
    r = qdkim.run(home, {"DKIMVERIFY": value, "DNSCACHEIP": "127.0.0.1:1", "DKIMDNSTIMEOUT": "1"},
                  message=UNSIGNED)
    log = fields(r.log)
    assert r.rc == 0 and log["status"] == "S" and log["action"] == "deliver", r.stderr
    assert expect in log["warning"], r.log
    assert len(r.stored) == 1          # a warning, never a rejection


@pytest.mark.parametrize("value", ["FGHIKLMNOQRTUVWjp", "", "UIp"])
def test_good_dkimverify_no_warning(home, value):
    r = qdkim.run(home, {"DKIMVERIFY": value, "DNSCACHEIP": "127.0.0.1:1"}, message=UNSIGNED)
    assert "warning" not in fields(r.log), r.log
    assert status.dkimverify_warning(value) is None


@pytest.mark.parametrize("value,expect", [
    ("'127.0.0.1'", "DNSCACHEIP has no usable address ('127.0.0.1'): /etc/resolv.conf used instead"),
    ("127.0.0.1:1 ns.example.com", "DNSCACHEIP entries that are not addresses skipped: ns.example.com"),
    ("127.0.0.1:99999", "DNSCACHEIP has no usable address (127.0.0.1:99999)"),
])
def test_dnscacheip_warning_in_log_line(home, value, expect):
    r = qdkim.run(home, {"DKIMVERIFY": "", "DNSCACHEIP": value, "DKIMDNSTIMEOUT": "1"},
                  message=UNSIGNED)
    assert expect in fields(r.log)["warning"], r.log
    assert r.rc == 0 and len(r.stored) == 1


def test_check_shows_the_same_warnings(home):
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "DKIMVERIFY": '"AFGH"',
           "DNSCACHEIP": "'127.0.0.1'"}
    p = subprocess.run([CHECK, "joe@example.com"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 2, p.stdout
    assert "warning: DKIMVERIFY characters that are no letter A-Y ignored: \"" in p.stdout
    assert "DKIMVERIFY has A" in p.stdout and "DNSCACHEIP has no usable address" in p.stdout


@pytest.fixture(scope="module")
def dmarc_dns(tmp_path_factory):
    """A root zone where example.com publishes p=none: DMARC evaluates, nothing rejects."""
    from tests.realparts.nsd import NsdServer
    zone = ("$TTL 300\n. IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
            ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n"
            '_dmarc.example.com. IN TXT "v=DMARC1; p=none"\nexample.com. IN A 127.0.0.1\n')
    ns = NsdServer({".": zone}, workdir=tmp_path_factory.mktemp("nsd"))
    ns.start()
    yield ns
    ns.stop()


@pytest.mark.parametrize("value,expect", [
    ('"Rt"', 'DMARCVERIFY characters that are no letter of RQNTPFS ignored: "'),
    ("R x", "ignored: space x"),
    ("RT", "DMARCVERIFY has T: a DNS failure bounces mail permanently (t retries)"),
])
def test_dmarcverify_warning_in_log_line(home, dmarc_dns, value, expect):
    r = qdkim.run(home, {"DKIMVERIFY": "", "DMARCVERIFY": value, "DNSCACHEIP": dmarc_dns.dnscacheip,
                         "TCPREMOTEIP": "127.0.0.9"}, message=UNSIGNED)
    log = fields(r.log)
    assert r.rc == 0 and log["action"] == "deliver", r.log
    assert expect in log["warning"], r.log
    assert len(r.stored) == 1          # a warning, never a rejection


@pytest.mark.parametrize("value", ["Rt", "RQt", ""])
def test_good_dmarcverify_no_warning(home, dmarc_dns, value):
    r = qdkim.run(home, {"DKIMVERIFY": "", "DMARCVERIFY": value, "DNSCACHEIP": dmarc_dns.dnscacheip,
                         "TCPREMOTEIP": "127.0.0.9"}, message=UNSIGNED)
    assert r.rc == 0 and "warning" not in fields(r.log), r.log


def test_check_shows_the_dmarcverify_warning(home):
    env = {"PATH": "/usr/bin:/bin", "QMAILHOME": str(home), "DKIMVERIFY": "", "DMARCVERIFY": "RT"}
    p = subprocess.run([CHECK, "joe@example.com"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert "warning: DMARCVERIFY has T: a DNS failure bounces mail permanently" in p.stdout, p.stdout
