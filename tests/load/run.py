"""Command line for the load harness (docs/LOAD.md).

    python -m tests.load.run --messages 10000 --clients 20
    python tests/load/run.py --messages 300 --clients 10 --keep

Prints a summary table; exit 0 only if nothing was lost, altered, duplicated,
wrongly answered or wrongly spooled, and every signature verified under Mail::DKIM.
Exit 2 when a required tool (nsd, tcpserver, tcprules, mailfront, perl Mail::DKIM)
is missing.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

if not __package__:                       # python tests/load/run.py
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.load.harness import run_load  # noqa: E402
from tests.realparts.tools import missing_tools  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.load.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=10000, help="messages to send (default 10000)")
    ap.add_argument("--clients", type=int, default=20, help="concurrent SMTP clients (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="random seed for the message mix")
    ap.add_argument("--workdir", help="directory for QMAILHOME, spool, logs (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir even when the run passes")
    ap.add_argument("--rev", help="run qmail_dkim/ as of this git revision (git archive), "
                    "instead of a snapshot of the working tree taken at start")
    ap.add_argument("--json", help="also write the figures to this file")
    ap.add_argument("--daemon", action="store_true",
                    help="run qmail-dkimd and give qmail-dkim DKIMSOCKET (qmail-dkimd(8))")
    a = ap.parse_args(argv)
    missing = missing_tools("nsd", "tcpserver", "tcprules", "mailfront", "perl-mail-dkim")
    if missing:
        print("load: missing tools: " + "; ".join(missing), file=sys.stderr)
        return 2
    # SIGTERM / SIGINT (even when started in the background with SIGINT ignored) end the
    # run through the harness's finally blocks, which stop tcpserver and NSD by pid
    def _stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    res = run_load(a.messages, a.clients, workdir=a.workdir, keep=a.keep, seed=a.seed, rev=a.rev,
                   say=lambda s: print(s, flush=True), daemon=a.daemon)
    print()
    print(res.table())
    if a.json:
        n = max(res.messages, 1)
        Path(a.json).write_text(json.dumps({
            "messages": res.messages, "clients": res.clients, "ok": res.ok,
            "counts": dict(res.counts),
            "per_category": {k: {**v, "codes": {str(c): m for c, m in v["codes"].items()}}
                             for k, v in res.per_cat.items()},
            "wall_send_s": res.wall_send, "wall_total_s": res.wall_total,
            "msgs_per_s": res.messages / res.wall_send if res.wall_send else 0,
            "cpu_ms_per_msg": {"server": res.server_cpu / n * 1000, "client": res.client_cpu / n * 1000,
                               "nsd": res.nsd_cpu / n * 1000, "whole_box": res.sys_busy_cpu / n * 1000},
            "ncpu": res.ncpu, "dkimd": res.dkimd, "code": res.code, "max_concurrent": res.max_concurrent, "log_counts": res.log_counts, "problems": res.problems[:200],
        }, indent=1, default=str))
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
