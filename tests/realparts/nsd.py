"""NsdServer: a real authoritative DNS server (NSD 4) on 127.0.0.1:<high port>.

    with NsdServer({"example.com": txt_rr("sel._domainkey", key.dns_record())}) as ns:
        ns.port            # UDP+TCP port on 127.0.0.1
        ns.dnscacheip      # "127.0.0.1:<port>" (djbdns DNSCACHEIP convention)
        ns.set_zone("example.org", zone_text("example.org", [...]))   # add/replace + restart
        ns.set_zone("broken.test", None)   # configured but unloadable zone -> SERVFAIL
        ns.remove_zone("example.org")      # names under it -> REFUSED
        ns.query("sel._domainkey.example.com", "TXT")   # dns.message.Message

Zone text: either a full zone file (it has an SOA record) or bare records (then
``zone_text`` wraps them with $ORIGIN, $TTL, SOA and NS).  Names outside every served
zone are answered REFUSED; a zone listed in ``servfail_zones`` (or set to None) is
configured with a zone file that does not parse, and NSD answers SERVFAIL for it.
``dead_udp_port()`` gives a port nobody listens on; ``Blackhole`` holds a UDP port
open and never answers (a pure timeout).

Runs as the current user (``username: ""``), no chroot, no /etc/nsd, remote
control disabled, every file (pid, log, zone list, xfrd state) in a private temp
dir.  Started with ``nsd -d`` (foreground) in its own process group; stopped with
SIGTERM to that pid, then SIGKILL to its process group if it lingers.
"""
from __future__ import annotations

import os
import re
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Iterable, Mapping

from .tools import find_tool
from .procs import Lifecycle, stop_group

BROKEN_ZONE_TEXT = "this is not a zone file !!!\n"


# ---------------------------------------------------------------- zone text

def quote_string(chunk: bytes) -> str:
    """One character-string (at most 255 octets) in zone file syntax."""
    out = []
    for b in chunk:
        if b in (0x22, 0x5C):          # " and backslash
            out.append("\\" + chr(b))
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append("\\%03d" % b)
    return '"' + "".join(out) + '"'


def txt_strings(value: str | bytes) -> str:
    """A TXT RDATA as quoted character-strings of at most 255 octets each."""
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not data:
        return '""'
    return " ".join(quote_string(data[i:i + 255]) for i in range(0, len(data), 255))


def txt_rr(name: str, value: str | bytes, ttl: int | None = None) -> str:
    """One TXT resource record line. ``name`` relative to the zone origin
    (``sel._domainkey``), ``@`` or absolute with a trailing dot."""
    ttl_s = f" {ttl}" if ttl is not None else ""
    return f"{name}{ttl_s} IN TXT {txt_strings(value)}"


def zone_text(origin: str, records: Iterable[str] = (), *, serial: int = 1, ttl: int = 300) -> str:
    """A complete zone file for ``origin``: $ORIGIN, $TTL, SOA, NS plus ``records``."""
    origin = origin.rstrip(".") + "."
    lines = [
        f"$ORIGIN {origin}",
        f"$TTL {ttl}",
        f"@ IN SOA ns.{origin} hostmaster.{origin} {serial} 3600 600 86400 {ttl}",
        f"@ IN NS ns.{origin}",
        "ns IN A 127.0.0.1",
    ]
    lines.extend(records)
    return "\n".join(lines) + "\n"


def _has_soa(text: str) -> bool:
    unquoted = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return re.search(r"(^|\s)SOA\s", unquoted, re.I | re.M) is not None


# ---------------------------------------------------------------- ports

def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port that was free on 127.0.0.1 for both UDP and TCP a moment ago."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        other = socket.SOCK_STREAM if kind == socket.SOCK_DGRAM else socket.SOCK_DGRAM
        try:
            with socket.socket(socket.AF_INET, other) as s2:
                s2.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port found")


def dead_udp_port() -> int:
    """A UDP (and TCP) port on 127.0.0.1 that was bound and closed: nobody answers.
    (Linux answers with ICMP port unreachable; an unconnected UDP resolver socket
    such as dnspython's ignores that and times out, a connected one may see
    ECONNREFUSED. Use Blackhole for a guaranteed silent timeout.)"""
    return free_port(socket.SOCK_DGRAM)


class Blackhole:
    """A UDP socket bound on 127.0.0.1 that never reads or answers: queries time out."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1"

    @property
    def dnscacheip(self) -> str:
        return f"127.0.0.1:{self.port}"

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> "Blackhole":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ---------------------------------------------------------------- server

class NsdError(RuntimeError):
    pass


class NsdServer(Lifecycle):
    address = "127.0.0.1"

    def __init__(self, zones: Mapping[str, str | None] | None = None, *,
                 servfail_zones: Iterable[str] = (), port: int | None = None,
                 workdir: str | os.PathLike | None = None, start_timeout: float = 10.0) -> None:
        self.nsd = find_tool("nsd")
        if not self.nsd:
            raise NsdError("nsd not found (apt-get install nsd)")
        self._zones: dict[str, str | None] = {}
        for name, text in (zones or {}).items():
            self._zones[self._norm(name)] = text
        for name in servfail_zones:
            self._zones[self._norm(name)] = None
        self._fixed_port = port
        self.port: int = port or 0
        self._own_dir = workdir is None
        self.dir = Path(workdir or tempfile.mkdtemp(prefix="nsd-"))
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None

    # -- helpers
    @staticmethod
    def _norm(name: str) -> str:
        return name.strip().rstrip(".").lower() or "."      # "." is the root zone

    @staticmethod
    def _fname(zone: str) -> str:
        if zone == ".":
            return "root.zone"
        return re.sub(r"[^a-z0-9.-]", "_", zone) + ".zone"

    @property
    def dnscacheip(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.dir / "nsd.log"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _write_files(self) -> Path:
        d = self.dir
        conf = [
            "server:",
            f"    ip-address: {self.address}",
            f"    port: {self.port}",
            '    username: ""',
            '    chroot: ""',
            f'    zonesdir: "{d}"',
            '    database: ""',
            f'    zonelistfile: "{d}/zone.list"',
            f'    xfrdfile: "{d}/xfrd.state"',
            f'    xfrdir: "{d}"',
            f'    pidfile: "{d}/nsd.pid"',
            f'    logfile: "{d}/nsd.log"',
            "    server-count: 1",
            "    tcp-count: 16",
            "    do-ip6: no",
            "    do-ip4: yes",
            "    reuseport: no",
            "    hide-version: yes",
            "    hide-identity: yes",
            "    verbosity: 1",
            "    zonefiles-check: yes",
            "remote-control:",
            "    control-enable: no",
        ]
        for zone, text in sorted(self._zones.items()):
            fname = self._fname(zone)
            if text is None:
                body = BROKEN_ZONE_TEXT
            elif _has_soa(text):
                body = text if text.endswith("\n") else text + "\n"
            else:
                body = zone_text(zone, [text])
            (d / fname).write_text(body)
            conf += ["zone:", f'    name: "{zone}"', f'    zonefile: "{fname}"']
        path = d / "nsd.conf"
        path.write_text("\n".join(conf) + "\n")
        return path

    def _probe(self, timeout: float = 0.3) -> bool:
        """True if something answers a DNS query on our port (any rcode)."""
        qid = os.getpid() & 0xFFFF
        # query id, flags RD=0, 1 question, "version.bind" would be CH; use ". IN SOA"
        pkt = qid.to_bytes(2, "big") + b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00" + b"\x00\x00\x06\x00\x01"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            try:
                s.sendto(pkt, (self.address, self.port))
                data, _ = s.recvfrom(4096)
            except OSError:
                return False
        return len(data) >= 12 and data[:2] == pkt[:2]

    # -- lifecycle
    def start(self) -> "NsdServer":
        if self.proc is not None:
            return self
        last = ""
        for attempt in range(5):
            if not self._fixed_port:
                self.port = free_port()
            conf = self._write_files()
            try:
                self.log_path.unlink()
            except FileNotFoundError:
                pass
            with open(self.dir / "nsd.stderr", "wb") as out:
                self.proc = subprocess.Popen([self.nsd, "-d", "-c", str(conf)],
                                             stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                             start_new_session=True, cwd=str(self.dir))
            exited = False
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    exited = True
                    break
                if self._probe():
                    return self
                time.sleep(0.02)
            last = self.log() + (self.dir / "nsd.stderr").read_text(errors="replace")
            self._kill()
            if self._fixed_port or not exited:
                break       # retry only a start that died (e.g. port taken meanwhile)
        raise NsdError(f"nsd did not start on {self.dnscacheip}:\n{last[-3000:]}")

    def _kill(self) -> None:
        stop_group(self.proc, timeout=5)
        self.proc = None

    def stop(self) -> None:
        self._kill()

    def restart(self) -> None:
        """Rewrite config and zone files and restart on the same port."""
        self._kill()
        fixed = self._fixed_port
        self._fixed_port = self.port or fixed
        try:
            self.start()
        finally:
            self._fixed_port = fixed


    # -- zones
    @property
    def zones(self) -> dict[str, str | None]:
        return dict(self._zones)

    def set_zone(self, name: str, text: str | None, *, restart: bool = True) -> None:
        """Add or replace a zone (None: configured but broken -> SERVFAIL)."""
        self._zones[self._norm(name)] = text
        if restart and self.proc is not None:
            self.restart()

    def set_zones(self, zones: Mapping[str, str | None]) -> None:
        for name, text in zones.items():
            self.set_zone(name, text, restart=False)
        if self.proc is not None:
            self.restart()

    def replace_zones(self, zones: Mapping[str, str | None],
                      servfail_zones: Iterable[str] = ()) -> None:
        """Serve exactly these zones from now on (one restart)."""
        self._zones = {}
        for name, text in zones.items():
            self._zones[self._norm(name)] = text
        for name in servfail_zones:
            self._zones[self._norm(name)] = None
        if self.proc is not None:
            self.restart()

    def remove_zone(self, name: str) -> None:
        self._zones.pop(self._norm(name), None)
        if self.proc is not None:
            self.restart()

    def query(self, name: str, rdtype: str = "TXT", timeout: float = 2.0, tcp: bool = False):
        """Ask our server (dnspython). Returns the dns.message.Message."""
        import dns.message
        import dns.query
        import dns.flags
        q = dns.message.make_query(name, rdtype)
        if not tcp:
            r = dns.query.udp(q, self.address, port=self.port, timeout=timeout)
            if not r.flags & dns.flags.TC:
                return r
        # a TXT record over 512 octets (e.g. a 4096-bit RSA key) is truncated
        # over UDP without EDNS: retry over TCP, as a resolver must
        return dns.query.tcp(q, self.address, port=self.port, timeout=timeout)
