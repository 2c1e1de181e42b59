"""Which rule of a tcprules source file (e.g. /etc/tcp.smtp) applies to an IP.

tcpserver looks the client up in the compiled cdb: first the exact address,
then the address cut back octet by octet ("1.2.3.", "1.2.", "1."), then the
empty key (a rule ":allow"). tcprules stores the first line for each key, and
expands a last-octet range "1.2.3.10-20". Hostname rules ("=host") and
"info@ip" rules need tcpserver's -h / -r and are not evaluated here.
Used by qmail-dkim-check to show the environment a connection would get.
"""
import re

_ASSIGN = re.compile(r"""\s*([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|'[^']*'|[^,]*)\s*(?:,|$)""")


class RulesError(ValueError):
    pass


def parse_line(line):
    """(address key or range, 'allow'|'deny', {VAR: value}) or None."""
    line = line.strip()
    if not line or line.startswith("#"):
        return None
    addr, sep, rest = line.partition(":")
    if not sep:
        raise RulesError("no ':' in rule %r" % line)
    action, _, assigns = rest.partition(",")
    env = {}
    pos = 0
    while pos < len(assigns):
        m = _ASSIGN.match(assigns, pos)
        if not m:
            raise RulesError("cannot parse %r" % assigns[pos:])
        val = m.group(2)
        if val[:1] in ("'", '"'):
            val = val[1:-1]
        env[m.group(1)] = val
        pos = m.end()
    return addr.strip(), action.strip(), env


def _keys_for(ip):
    keys = [ip]
    parts = ip.split(".")
    for n in range(len(parts) - 1, 0, -1):
        keys.append(".".join(parts[:n]) + ".")
    keys.append("")
    return keys


def _matches(addr, key, ip):
    if addr == key:
        return True
    m = re.match(r"^(\d+\.\d+\.\d+\.)(\d+)-(\d+)$", addr)
    if m and key == ip and ip.startswith(m.group(1)):
        last = int(ip.rsplit(".", 1)[1])
        return int(m.group(2)) <= last <= int(m.group(3))
    return False


def rule_for(text, ip):
    """The (line number, addr, action, env) tcpserver would apply to `ip`."""
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        r = parse_line(line)
        if r:
            rules.append((n,) + r)
    for key in _keys_for(ip):
        for n, addr, action, env in rules:
            if _matches(addr, key, ip):
                return n, addr, action, env
    return None
