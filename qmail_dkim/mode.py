"""Which mode a run takes (qmail-dkim(8), MODES). Pure: env in, decision out.

"Set" means present in the environment, even when empty.
  1. DKIMSIGN or DKIMKEY set (DKIMSIGN wins): sign with that key template
     (an empty value means the default template below);
  2. else DKIMVERIFY set, unless RELAYCLIENT_NODKIMVERIFY is set together
     with RELAYCLIENT or AUTHINFO: verify with those letters;
  3. else RELAYCLIENT or AUTHINFO set: sign with DEFAULT_KEY;
  4. else verify with no letters (headers only, never rejects).
"""
DEFAULT_KEY = "control/domainkeys/%/default"


def select(env):
    """Return ("sign", key_template) or ("verify", letters)."""
    for var in ("DKIMSIGN", "DKIMKEY"):
        if var in env:
            return "sign", env[var] or DEFAULT_KEY
    relay = "RELAYCLIENT" in env or "AUTHINFO" in env
    if "DKIMVERIFY" in env and not (relay and "RELAYCLIENT_NODKIMVERIFY" in env):
        return "verify", env["DKIMVERIFY"]
    if relay:
        return "sign", DEFAULT_KEY
    return "verify", ""
