"""Parse a qmail-dkim log line back into fields (the inverse of logline.quote)."""
import re

_TOKEN = re.compile(r'(\w[\w.-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def fields(line):
    out = {}
    for key, val in _TOKEN.findall(line):
        if val.startswith('"'):
            val = re.sub(r"\\(.)", r"\1", val[1:-1])
        out[key] = val
    return out
