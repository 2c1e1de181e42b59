"""FakeDNS: a small in-process DNS server on 127.0.0.1 (UDP and TCP, one
port) whose answers a test builds with dnspython, so the hand-written
decoders of dns/ are checked against an independent encoder; for what NSD
cannot do: silence, truncation, malformed or slow answers. The `fake`
fixture of conftest.py starts them and closes them after the test."""
import socket
import struct
import threading

import dns.exception
import dns.flags
import dns.message

from qmail_dkim.dns import txt as dnstxt


class FakeDNS:
    """UDP+TCP on 127.0.0.1, random port. `handler(query) -> response|None`
    (None: stay silent)."""

    def __init__(self, handler):
        self.handler = handler
        for _ in range(50):     # the UDP port's TCP twin may be in use: pick another
            self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.udp.bind(("127.0.0.1", 0))
            self.port = self.udp.getsockname()[1]
            self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                self.tcp.bind(("127.0.0.1", self.port))
                break
            except OSError:
                self.tcp.close()
                self.udp.close()
        else:
            raise RuntimeError("no free UDP+TCP port pair")
        self.tcp.listen(5)
        self.queries = []
        self.stop = False
        for target in (self._udp_loop, self._tcp_loop):
            threading.Thread(target=target, daemon=True).start()

    def _answer(self, wire, tcp):
        q = dns.message.from_wire(wire)
        self.queries.append((q, tcp))
        r = self.handler(q, tcp)
        if r is None:
            return None
        if isinstance(r, bytes):
            return r
        return r.to_wire(max_size=65535 if tcp else 512) if not tcp else r.to_wire()

    def _udp_loop(self):
        while not self.stop:
            try:
                wire, addr = self.udp.recvfrom(65535)
            except OSError:
                return
            try:
                out = self._answer(wire, False)
            except dns.exception.TooBig:
                r = dns.message.make_response(dns.message.from_wire(wire))
                r.flags |= dns.flags.TC
                out = r.to_wire()
            if out is not None:
                self.udp.sendto(out, addr)

    def _tcp_loop(self):
        while not self.stop:
            try:
                c, _ = self.tcp.accept()
            except OSError:
                return
            with c:
                n = struct.unpack("!H", c.recv(2))[0]
                wire = b""
                while len(wire) < n:
                    wire += c.recv(n - len(wire))
                out = self._answer(wire, True)
                if out is not None:
                    c.sendall(struct.pack("!H", len(out)) + out)

    def close(self):
        self.stop = True
        self.udp.close()
        self.tcp.close()

    @property
    def dns(self):
        return dnstxt.DnsSettings("127.0.0.1:%d" % self.port)

