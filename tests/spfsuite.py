"""The RFC 7208 test suite (../shared/corpora/spf-rfc7208/rfc7208-tests.yml):
loading, an in-memory DNS built from each scenario's zone data, and the same
data as NSD zone files.

Zone data conventions (those of the suite's own drivers, e.g. pyspf's):
``SPF: text`` records are also TXT records unless the name has a TXT entry
(``TXT: NONE`` means no TXT record at all); type SPF itself is not served
(RFC 7208 dropped it). ``TIMEOUT`` makes a query at the name time out unless a record of the asked
type is listed before it (spftimeout: TXT answered, type SPF timed out).
A list value is one record of several character-strings. Strings are turned
into octets as Latin-1 (the suite writes raw octets as \\xNN escapes).
"""
from __future__ import annotations

from pathlib import Path

from tests.realparts.corpora import corpus_path
from tests.realparts.nsd import quote_string

SUITE_REL = Path("corpora") / "spf-rfc7208" / "rfc7208-tests.yml"


def suite_path() -> Path | None:
    """The suite file, found as tests/realparts/corpora.py says, or None."""
    return corpus_path(*SUITE_REL.parts[1:])


def load(path: Path) -> list[dict]:
    import yaml
    with open(path, "rb") as f:
        return [d for d in yaml.safe_load_all(f) if d]


def cases(scenarios: list[dict]):
    """-> [(scenario index, test name, test dict)]"""
    out = []
    for i, sc in enumerate(scenarios):
        for name, t in sc["tests"].items():
            out.append((i, name, t))
    return out


def _octets(v) -> bytes:
    return v.encode("latin-1") if isinstance(v, str) else bytes(v)


def _strings(v) -> list[bytes]:
    if isinstance(v, (list, tuple)):
        return [_octets(x) for x in v]
    return [_octets(v)]


def records(zonedata: dict) -> dict:
    """-> {name(lowercase): {"TXT": [[bytes,...]], "A": [...], "AAAA": [...],
    "MX": [(pref, name)], "PTR": [...], "CNAME": [...], "TIMEOUT": bool,
    "BEFORE": types listed before TIMEOUT}}"""
    out = {}
    for name, entries in zonedata.items():
        key = name.lower().rstrip(".")
        node = out.setdefault(key, {"TIMEOUT": False, "BEFORE": set()})
        spf = []
        has_txt = False
        for e in entries:
            if e == "TIMEOUT":
                node["TIMEOUT"] = True
                continue
            for t, v in e.items():
                if not node["TIMEOUT"] and v != "NONE" and t != "SPF":
                    node["BEFORE"].add(t)
                if t == "SPF":
                    if v != "NONE":
                        spf.append(_strings(v))
                    continue
                if t == "TXT":
                    has_txt = True
                    if v != "NONE":
                        node.setdefault("TXT", []).append(_strings(v))
                    continue
                if t == "MX":
                    node.setdefault("MX", []).append((int(v[0]), str(v[1]).lower().rstrip(".")))
                elif t in ("PTR", "CNAME"):
                    node.setdefault(t, []).append(str(v).lower().rstrip("."))
                elif t in ("A", "AAAA"):
                    for a in (v if isinstance(v, list) else [v]):
                        node.setdefault(t, []).append(str(a))
                else:
                    raise ValueError("unknown zone data type %r" % t)
        if spf and not has_txt:
            node.setdefault("TXT", []).extend(spf)
    return out


class Answer:
    def __init__(self, status, records=(), error=""):
        self.status = status
        self.records = list(records)
        self.error = error


class MemoryDns:
    """lookup(name, qtype, deadline) over one scenario's zone data."""

    def __init__(self, zonedata: dict):
        self.nodes = records(zonedata)
        self.queries = []

    def __call__(self, name, qtype, deadline=None):
        self.queries.append((name, qtype))
        key = name.lower().rstrip(".")
        if len(key) > 253 or any(not lab or len(lab) > 63 for lab in key.split(".")):
            return Answer("nxdomain", error="invalid name")
        seen = set()
        while True:
            node = self.nodes.get(key)
            if node is None:
                # a name with records below it exists (empty non-terminal)
                if any(k.endswith("." + key) for k in self.nodes):
                    return Answer("nodata")
                return Answer("nxdomain")
            if node["TIMEOUT"] and qtype not in node["BEFORE"]:
                return Answer("temp", error="timeout")
            if qtype in node:
                recs = node[qtype]
                if qtype == "TXT":
                    recs = [b"".join(s) for s in recs]
                return Answer("ok", recs)
            if "CNAME" in node and qtype != "CNAME":
                key = node["CNAME"][0]
                if key in seen or len(seen) > 8:
                    return Answer("temp", error="CNAME loop")
                seen.add(key)
                continue
            return Answer("nodata")


# ---------------------------------------------------------------- NSD zones

def _owner(name: str) -> str:
    # zone file owner names: escape what the master-file syntax gives meaning to
    out = []
    for ch in name:
        if ch in ' ;()"\\@$':
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    return "".join(out) + "."


ROOT_SOA = (". IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
            ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n")


def _zone_file(origin: str, lines: list[str]) -> str:
    if origin == ".":
        head = "$TTL 300\n" + ROOT_SOA
    else:
        o = _owner(origin)
        head = ("$TTL 300\n%s IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
                "%s IN NS ns.nsd.test.\n" % (o, o))
    return head + "\n".join(lines) + "\n"


def nsd_zones(zonedata: dict):
    """The scenario's data as zone files for NSD -> (zones {origin: text},
    servfail origins). Everything is served from the root zone "." (so that
    a name not in the data is NXDOMAIN), except: a TIMEOUT name with no
    record listed before TIMEOUT is an unloadable zone of its own (NSD
    answers SERVFAIL: our client's temp), and a name below such a name is
    a zone of its own (the more specific zone wins). A TIMEOUT name with
    records listed before TIMEOUT is served normally (the suite asks it only
    for those types)."""
    nodes = records(zonedata)
    dead = [n for n, node in nodes.items() if node["TIMEOUT"] and not node["BEFORE"]]
    zones = {".": []}
    for name, node in sorted(nodes.items()):
        if name in dead:
            continue
        origin = name if any(name.endswith("." + d) for d in dead) else "."
        lines = zones.setdefault(origin, [])
        for t in ("A", "AAAA"):
            for a in node.get(t, []):
                lines.append("%s IN %s %s" % (_owner(name), t, a))
        for pref, host in node.get("MX", []):
            lines.append("%s IN MX %d %s" % (_owner(name), pref, _owner(host) if host else "."))
        for target in node.get("PTR", []):
            lines.append("%s IN PTR %s" % (_owner(name), _owner(target)))
        for target in node.get("CNAME", []):
            lines.append("%s IN CNAME %s" % (_owner(name), _owner(target)))
        for strings in node.get("TXT", []):
            chunks = [quote_string(s[i:i + 255]) for s in strings for i in range(0, max(len(s), 1), 255)]
            lines.append("%s IN TXT %s" % (_owner(name), " ".join(chunks) or '""'))
    return {o: _zone_file(o, lines) for o, lines in zones.items()}, dead
