"""A small end-to-end load run (docs/LOAD.md; the full one is
``python -m tests.load.run --messages 10000 --clients 20``).

60 messages from 10 concurrent SMTP clients through tcpserver + mailfront +
qmail-dkim + the qmail-queue double, NSD serving the keys: signing, the parent-domain
key, no key, a corrupt key (451), verify good / unsigned / tampered (554) / selector
missing (554) / SERVFAIL (451), a missing fixed key (554) and a queue that exits 71
(451).  Nothing accepted may be lost, altered or duplicated, nothing rejected may be
queued, and every signature must verify under Perl Mail::DKIM.
"""
from __future__ import annotations

from tests.load.harness import CATEGORIES, run_load

MESSAGES = 60
CLIENTS = 10


def _check(res, messages):
    """What every load run must show; returns the table."""
    table = res.table()
    print(table)
    assert res.ok, table
    c = res.counts
    assert (c["lost"], c["altered"], c["duplicated"], c["wrong"], c["errors"],
            c["rejected_spooled"], c["unknown"], c["sig_failed"]) == (0,) * 8, table
    assert c["accepted"] + c["rej4"] + c["rej5"] == messages, table
    # every category was exercised, with the code it must get
    for cat in CATEGORIES:
        st = res.per_cat[cat.name]
        assert st["sent"] > 0 and st["codes"] == {cat.code: st["sent"]}, (cat.name, table)
    assert c["sig_checked"] > 0
    return table


def test_load_small(require_tool, tmp_path):
    require_tool("nsd", "tcpserver", "tcprules", "mailfront", "perl-mail-dkim")
    res = run_load(MESSAGES, CLIENTS, workdir=tmp_path / "load", say=lambda s: None)
    table = _check(res, MESSAGES)
    # the clients really were concurrent
    assert res.max_concurrent >= CLIENTS // 2, table


SERVED_MESSAGES = 60


def test_load_small_with_server(require_tool):
    """The same mix with qmail-dkimd (DKIMSOCKET on every rule): nothing lost,
    altered or doubled, and the server neither leaks fds or memory nor
    leaves zombies (qmail-dkimd(8); the 10,000-message run is in docs/LOAD.md)."""
    require_tool("nsd", "tcpserver", "tcprules", "mailfront", "perl-mail-dkim")
    # workdir=None: outside pytest's 0700 tmp_path, which the server's account
    # (nobody, when the tests run as root) could not enter
    res = run_load(SERVED_MESSAGES, CLIENTS, workdir=None, say=lambda s: None, daemon=True)
    table = _check(res, SERVED_MESSAGES)
    d = res.dkimd
    assert d["connections"] > SERVED_MESSAGES // 2, table       # the server really served
    assert d["fds"][1] <= d["fds"][0] and d["zombies_end"] == 0, table
