"""Forwarded mail through tcpserver + mailfront with DMARCVERIFY="R", as a new
user would set it up: a message from a p=reject domain, changed and sealed by
a mailing list, is delivered when the list is in control/arcsealers (arc=pass,
the sealer named in the headers), and refused with 554 when the sealer is not
trusted. Zones served by NSD; the sealing is dkimpy's arc_sign (test only)."""
import os

import pytest

from tests import qdkim
from tests.arcseal import seal
from tests.realparts.nsd import NsdServer, txt_rr
from tests.realparts.queue_double import QueueDouble
from tests.realparts.tools import require_tool
from tests.test_arc_sealers import EVIL_KEY, LIST_KEY, list_changed, listed_message
from tests.test_seeds001_smtp import send_from
from tests.verifyhelp import rsa_priv, rsa_record

TCP_SMTP = ':allow,QMAILQUEUE="bin/qmail-dkim",DKIMVERIFY="",DMARCVERIFY="R"\n'


@pytest.fixture
def mx(tmp_path, home, smtp_front_factory):
    require_tool("nsd")
    ns = NsdServer({
        "example.com": "\n".join([txt_rr("sel._domainkey", rsa_record(rsa_priv())),
                                  txt_rr("_dmarc", "v=DMARC1; p=reject"),
                                  txt_rr("@", "v=spf1 -all")]),
        "lists.example.org": txt_rr("arc._domainkey", rsa_record(LIST_KEY)),
        "evil.example": txt_rr("arc._domainkey", rsa_record(EVIL_KEY)),
    }, workdir=tmp_path / "nsd-mx")
    (tmp_path / "nsd-mx").mkdir(exist_ok=True)
    ns.start()
    os.symlink(qdkim.QMAIL_DKIM, home / "bin/qmail-dkim")
    qd = QueueDouble(home / "queue")
    env = dict(qd.env(), QMAILHOME=str(home), TMPDIR=str(home / "tmp"), DKIMQUEUE=str(qd.path),
               DNSCACHEIP=ns.dnscacheip, DKIMDNSTIMEOUT="2", DKIMAUTHSERVID="mx.example.net")
    (home / "control" / "arcsealers").write_text("lists.example.org\n")
    front = smtp_front_factory(TCP_SMTP, env=env)
    yield front, qd
    ns.stop()


def test_trusted_sealer_delivered_untrusted_refused(mx):
    front, qd = mx
    msg = listed_message()
    code, text = send_from("127.0.0.2", front.port, msg)
    assert code == 250, (text, front.log())
    got = qd.last().msg
    assert got.endswith(b"\n" + msg)
    head = got[:len(got) - len(msg)].decode()
    assert "\tdkim=fail" in head and "\tspf=fail" in head
    assert ("dmarc=fail (p=reject sp=reject np=reject dis=none override=trusted_forwarder:"
            " ARC sealer lists.example.org: dmarc=pass header.from=example.com)") in head
    assert "\tarc=pass (sealer lists.example.org) header.oldest-pass=0 smtp.remote-ip=127.0.0.2" in head
    log = [l for l in front.log().splitlines() if "qmail-dkim: mode=verify" in l][-1]
    assert "arc=pass" in log and "override=trusted_forwarder" in log and "exit=0" in log

    n = qd.count()
    evil = seal(list_changed(), EVIL_KEY, b"evil.example", results="dmarc=pass header.from=example.com")
    code, text = send_from("127.0.0.2", front.port, evil)
    assert code == 554, (text, front.log())
    assert qd.count() == n
    log = [l for l in front.log().splitlines() if "qmail-dkim: mode=verify" in l][-1]
    assert "arc=pass" in log and "arc.sealers=evil.example" in log and "override=" not in log
    assert "action=reject-permanent" in log

