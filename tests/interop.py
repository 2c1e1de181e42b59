"""The DKIM interoperability corpus (../shared/corpora/dkim-interop): signed
messages from eight independent projects with their key records and the
expected class of each (pass / fail / invalid / temperror / none).

    corpus = load()              # None when ../shared is absent
    corpus.cases                 # [Case], in manifest order, 155 of them
    corpus.rounds                # [[(project, view)]]: record sets that can be
                                 # served together (no name with two values)
    corpus.zones(round)          # -> ({zone: text}, [servfail zones]) for NsdServer
    our_class(word)              # an Authentication-Results dkim= word -> class

Manifest format (one manifest.json per project): "views" maps a view name to
{"records": {name: TXT value or null (NXDOMAIN)}, "servfail": [zones]};
"messages" lists {"file", "expected" (a class or a list of acceptable ones),
"view" (default "default"), "sigs" (per-signature classes, null = not
asserted), "dns": "timeout" (a DNS server that never answers),
"strip_mbox_from" (drop a first "From " line)}.

Every record is served from one root zone ("."), so that a name absent from
it is NXDOMAIN, as the manifests mean it; a "servfail" name is a zone of its
own that NSD cannot load (SERVFAIL). Read in place, never copied.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from tests.realparts.corpora import corpus_path, skip_reason
from tests.realparts.nsd import txt_rr
from tests.realparts.tools import REPO

CORPUS = ("dkim-interop",)
REPO_MAN = REPO / "man" / "qmail-dkim.8"
PROJECTS = ("mail-dkim", "dkimpy", "mailauth", "go-msgauth", "jdkim", "authheaders",
            "opendkim", "rspamd")
ROOT_HEAD = ("$TTL 300\n. IN SOA ns.nsd.test. hostmaster.nsd.test. 1 3600 600 86400 300\n"
             ". IN NS ns.nsd.test.\nns.nsd.test. IN A 127.0.0.1\n")
CLASSES = ("pass", "fail", "invalid", "temperror", "none")

# RFC 8601 dkim= words as qmail-dkim writes them (verify/status.py RESULTS)
# -> the corpus classes. neutral (H W O: the signature cannot be evaluated),
# policy (K X Y: expired, From unsigned, bad identity) and permerror (L M N
# Q R V: key record) are all RFC 6376 PERMFAIL: "invalid".
WORD_CLASS = {"pass": "pass", "fail": "fail", "temperror": "temperror", "none": "none",
              "neutral": "invalid", "policy": "invalid", "permerror": "invalid"}


def our_class(word):
    return WORD_CLASS[word]


def message_class(sig_classes):
    """The class of a message from its signatures' classes: none when
    unsigned, pass when any signature passes (RFC 6376 section 6.1: any valid
    signature), else the first signature's class (as the message letter,
    dkim/verifier.py message_letter)."""
    if not sig_classes:
        return "none"
    if "pass" in sig_classes:
        return "pass"
    return sig_classes[0]


@dataclass
class Case:
    project: str
    file: str
    view: str
    expected: tuple            # acceptable classes
    sigs: list | None          # per-signature classes (None entries: not asserted)
    timeout: bool
    strip_mbox_from: bool
    why: str
    upstream: str
    message: bytes = field(repr=False)

    @property
    def name(self):
        return "%s/%s%s" % (self.project, self.file.rsplit("/", 1)[-1],
                            " (mbox line stripped)" if self.strip_mbox_from else "")


class Corpus:
    def __init__(self, root):
        self.root = root
        self.cases: list[Case] = []
        self.views: dict[tuple, dict] = {}
        for project in PROJECTS:
            with open(root / project / "manifest.json", "rb") as f:
                manifest = json.load(f)
            for vname, view in manifest["views"].items():
                self.views[(project, vname)] = view
            for m in manifest["messages"]:
                data = (root / project / m["file"]).read_bytes()
                if m.get("strip_mbox_from"):
                    assert data.startswith(b"From "), m["file"]
                    data = data[data.index(b"\n") + 1:]
                # qmail stores what qmail-smtpd received with LF line ends
                data = data.replace(b"\r\n", b"\n")
                exp = m["expected"]
                self.cases.append(Case(
                    project=project, file=m["file"], view=m.get("view", "default"),
                    expected=tuple(exp) if isinstance(exp, list) else (exp,),
                    sigs=m.get("sigs"), timeout=m.get("dns") == "timeout",
                    strip_mbox_from=bool(m.get("strip_mbox_from")),
                    why=m.get("why", ""), upstream=m.get("upstream", ""), message=data))
        self.rounds = self._rounds()

    def _rounds(self):
        """Group the views so that no name has two different values in a round."""
        rounds: list[tuple[list, dict]] = []
        for key, view in self.views.items():
            recs = {n.lower().rstrip("."): v for n, v in view.get("records", {}).items()}
            for members, merged in rounds:
                if all(merged.get(n, v) == v for n, v in recs.items()):
                    members.append(key)
                    merged.update(recs)
                    break
            else:
                rounds.append(([key], dict(recs)))
        return [members for members, _ in rounds]

    def zones(self, members):
        """({zone: text}, servfail zones) serving the views `members` together."""
        rrs, servfail = [], []
        for key in members:
            view = self.views[key]
            for name, value in sorted(view.get("records", {}).items()):
                if value is not None:       # None: the name does not exist (NXDOMAIN)
                    rrs.append(txt_rr(name.rstrip(".") + ".", value))
            servfail += view.get("servfail", [])
        return {".": ROOT_HEAD + "\n".join(rrs) + "\n"}, servfail


def load():
    root = corpus_path(*CORPUS)
    return Corpus(root) if root is not None else None


def skip_message():
    return skip_reason(*CORPUS)
