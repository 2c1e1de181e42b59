"""control/dkimkeys: per-domain key choice (contract section 3). Pure parser.

    # comment
    example.com:control/domainkeys/example.com/2024:DKIMSIGNOPTIONS=-z 4
    *.example.org:control/domainkeys/%/default
    *:control/domainkeys/fallback

First matching line wins. "*.example.org" matches subdomains only, "*" all.
The optional third part sets variables (VAR=value, comma-separated; a value
cannot contain ','). Skipped entirely when NODKIMKEYS is set.
"""
import re

_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class DkimKeysError(ValueError):
    pass


def parse(text, name="control/dkimkeys"):
    """[(pattern, keypath, {VAR: value})]; raises DkimKeysError."""
    rules = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) < 2 or not parts[0] or not parts[1]:
            raise DkimKeysError("%s line %d: expected domain:keypath[:VAR=value,...]" % (name, n))
        variables = {}
        if len(parts) == 3 and parts[2]:
            for item in parts[2].split(","):
                var, eq, val = item.partition("=")
                var = var.strip()
                if not eq or not _VAR.match(var):
                    raise DkimKeysError("%s line %d: bad variable setting %r" % (name, n, item))
                variables[var] = val
        rules.append((parts[0].strip().lower(), parts[1].strip(), variables))
    return rules


def match(rules, domain):
    """First rule matching `domain`: (keypath, variables) or None."""
    domain = domain.lower()
    for pattern, keypath, variables in rules:
        if pattern == "*" or pattern == domain:
            return keypath, variables
        if pattern.startswith("*.") and domain.endswith(pattern[1:]) and domain != pattern[2:]:
            return keypath, variables
    return None
