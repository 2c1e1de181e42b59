"""Where is the key? The % rule (contract section 3, "Which key, which domain").

Every % in the template is replaced by the domain. If that file does not
exist, the parent domains are tried (a.b.example.com -> b.example.com ->
example.com, never a single label; d= becomes that parent), then the path
with every % removed (d= stays the From domain). A template without % that
does not exist is exit 35 -- the historic contract.

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


def resolve(template, domain, exists=file_exists):
    if "%" not in template:
        if exists(template):
            return Resolution(template, domain, [template])
        return Resolution(None, domain, [template], missing_fixed=True)
    tried = []
    for dom in [domain] + parents(domain):
        path = template.replace("%", dom)
        tried.append(path)
        if exists(path):
            return Resolution(path, dom, tried)
    path = template.replace("%", "")
    tried.append(path)
    if exists(path):
        return Resolution(path, domain, tried)
    return Resolution(None, domain, tried)
