"""Where is the key? The % rule (qmail-dkim(8), SIGNING, "The key: the % rule").

Every % in the template is replaced by the domain. If that file does not
exist, the parent domains are tried (a.b.example.com -> b.example.com ->
example.com, never a single label; d= becomes that parent), then the path
with every % removed (d= stays the From domain). A template without % that
does not exist is exit 35, as in the C qmail-dkim.

A relative path is relative to $QMAILHOME (the seeds write
control/domainkeys/%/default); sagredo and indimail write paths relative
to $CONTROLDIR (domainkeys/%/default). With `controldir` given, every
relative candidate that does not exist is also tried under it (unless it
already begins with it), before the next candidate; `tried` lists both.

Pure: existence is asked through the `exists` callable, so qmail-dkim and
qmail-dkim-check run exactly this code.
"""
import os
import stat

from qmail_dkim.dns.names import parents


class Resolution:
    def __init__(self, path, domain, tried, missing_fixed=False):
        self.path = path            # chosen key file, or None
        self.domain = domain        # d= for it
        self.tried = tried          # every path looked at, in order
        self.missing_fixed = missing_fixed  # a %-less path that does not exist (35)

    @property
    def selector(self):
        """s=: the key path's own basename (a symlink's name, not its target)."""
        return os.path.basename(self.path) if self.path else None


def file_exists(path):
    """True if `path` names something that is not a directory.

    Permission trouble counts as existing, so that reading it later reports
    "Permission denied" with the uid/gid instead of a silent "no key".
    """
    try:
        st = os.stat(path)
    except PermissionError:
        return True
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode)


def resolve(template, domain, exists=file_exists, controldir=None):
    def forms(path):
        yield path
        if controldir and not os.path.isabs(path):
            prefix = controldir.rstrip("/") + "/"
            if not path.startswith(prefix):
                yield prefix + path

    tried = []

    def first(path):
        for cand in forms(path):
            tried.append(cand)
            if exists(cand):
                return cand
        return None

    if "%" not in template:
        found = first(template)
        if found:
            return Resolution(found, domain, tried)
        return Resolution(None, domain, tried, missing_fixed=True)
    for dom in [domain] + parents(domain):
        found = first(template.replace("%", dom))
        if found:
            return Resolution(found, dom, tried)
    found = first(template.replace("%", ""))
    if found:
        return Resolution(found, domain, tried)
    return Resolution(None, domain, tried)
