"""The package's layout: the layers of qmail_dkim/__init__.py hold, the
module map there names every module, and the environment is read only at
the top (issue 8). Static checks on the source (ast), no imports."""
import ast
import os
import re

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "qmail_dkim")

# Layer of each top-level module / subpackage; a module may import from its
# own layer or lower ones. A new subpackage counts as PROTOCOL (mechanics:
# dkim/ and dns/ below it, no configuration, files or exit codes) and a new
# top-level module as SHELL, unless it is listed here.
BASE, PROTOCOL, SHARED, POLICY, SHELL, TOOLS = 1, 2, 3, 4, 5, 6
LAYER = {
    "dkim": BASE, "dns": BASE,
    "spf": PROTOCOL, "dmarc": PROTOCOL, "arc": PROTOCOL,
    "config": SHARED, "spool": SHARED, "envelope": SHARED, "exits": SHARED, "outcome": SHARED,
    "sign": POLICY, "verify": POLICY,
    "main": SHELL, "mode": SHELL, "child": SHELL, "logline": SHELL, "daemon": SHELL,
    "tools": TOOLS,
}
# Packages that import nothing from qmail_dkim outside themselves.
SEALED = ("dkim", "dns")


def _modules():
    """{'qmail_dkim.sign.run': path, ...} for every .py under qmail_dkim/."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for fn in filenames:
            if fn.endswith(".py"):
                rel = os.path.relpath(os.path.join(dirpath, fn), os.path.dirname(ROOT))
                name = rel[:-3].replace(os.sep, ".")
                if name.endswith(".__init__"):
                    name = name[:-len(".__init__")]
                out[name] = os.path.join(dirpath, fn)
    return out


MODULES = _modules()


def _tree(name):
    with open(MODULES[name], "rb") as f:
        return ast.parse(f.read(), MODULES[name])


def _imports(name):
    """qmail_dkim modules `name` imports anywhere in its source (also inside
    functions: lazy imports run on some path too), as [(module, line)]."""
    pkg = name if os.path.basename(MODULES[name]) == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names if a.name.startswith("qmail_dkim")]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            if not base.startswith("qmail_dkim"):
                continue
            for a in node.names:
                sub = base + "." + a.name
                out.append((sub if sub in MODULES else base, node.lineno))
    return out


def _unit(module):
    """'qmail_dkim.sign.run' -> 'sign'; 'qmail_dkim.config' -> 'config'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module):
    unit = _unit(module)
    if unit in LAYER:
        return LAYER[unit]
    if unit == "":
        return SHARED                     # the package itself (__version__)
    is_pkg = os.path.isdir(os.path.join(ROOT, unit))
    return PROTOCOL if is_pkg else SHELL


def test_layering():
    bad = []
    for name in sorted(MODULES):
        for target, line in _imports(name):
            where = "%s:%d imports %s" % (MODULES[name], line, target)
            if _unit(name) in SEALED and _unit(target) != _unit(name):
                bad.append(where + " (%s/ imports nothing outside itself)" % _unit(name))
            elif _layer(target) > _layer(name):
                bad.append(where + " (a lower layer imports a higher one; the layers are"
                           " LAYER in tests/test_layout.py and the map in qmail_dkim/__init__.py)")
    assert not bad, "\n".join(bad)


# Where a message's run starts: bin/qmail-dkim loads start, which imports
# main, or, with DKIMSOCKET, daemon.client (qmail-dkimd's worker then runs main).
PER_MESSAGE_ROOTS = ["qmail_dkim.start", "qmail_dkim.main", "qmail_dkim.daemon.client"]


def test_per_message_path_never_imports_tools():
    seen = set()
    todo = [r for r in PER_MESSAGE_ROOTS if r in MODULES]
    while todo:
        name = todo.pop()
        if name in seen or name not in MODULES:
            continue
        seen.add(name)
        todo += [t for t, _ in _imports(name)]
        # a submodule import runs its packages' __init__ too
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
    assert "qmail_dkim.sign.run" in seen and "qmail_dkim.verify.run" in seen
    assert "qmail_dkim.dkim.signer" in seen and "qmail_dkim.dkim.verifier" in seen
    tools = sorted(m for m in seen if _unit(m) == "tools")
    assert not tools, "on the per-message path: %s" % tools


def test_checks_see_a_violation(tmp_path, monkeypatch):
    """The two checks above can fail: a dkim/ module importing dns/, and
    main reaching tools/ through a lazy import."""
    monkeypatch.setitem(MODULES, "qmail_dkim.dkim.zz", str(tmp_path / "zz.py"))
    (tmp_path / "zz.py").write_text("def f():\n    from qmail_dkim.dns import txt\n")
    with pytest.raises(AssertionError, match="dkim/ imports nothing outside itself"):
        test_layering()
    main = tmp_path / "main.py"
    with open(MODULES["qmail_dkim.main"]) as f:
        main.write_text(f.read() + "\n\ndef f():\n    from qmail_dkim.tools import check\n")
    monkeypatch.setitem(MODULES, "qmail_dkim.main", str(main))
    monkeypatch.setitem(MODULES, "qmail_dkim.dkim.zz", str(tmp_path / "zz2.py"))
    (tmp_path / "zz2.py").write_text("")
    with pytest.raises(AssertionError, match="qmail_dkim.tools.check"):
        test_per_message_path_never_imports_tools()


# ------------------------------------------------------------- environment

ENV_FREE = (BASE, PROTOCOL, SHARED, POLICY)


def test_environment_read_only_at_the_top():
    """Below the shell nothing touches os.environ and no function takes a raw
    environment mapping (a parameter named env): config.py reads it into
    settings objects, and values are passed down. config.py is the reader."""
    bad = []
    for name in sorted(MODULES):
        if _layer(name) not in ENV_FREE or name == "qmail_dkim.config":
            continue
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
                bad.append("%s:%d uses os.%s" % (MODULES[name], node.lineno, node.attr))
            elif isinstance(node, ast.Name) and node.id in ("environ", "getenv"):
                bad.append("%s:%d uses %s" % (MODULES[name], node.lineno, node.id))
            elif isinstance(node, (ast.FunctionDef, ast.Lambda)):
                for arg in node.args.args + node.args.kwonlyargs:
                    if arg.arg == "env":
                        bad.append("%s:%d takes a raw env" % (MODULES[name], node.lineno))
    assert not bad, "\n".join(bad)


# ------------------------------------------------------------- module map

def _map_names():
    doc = ast.get_docstring(_tree("qmail_dkim"))
    return {"qmail_dkim." + m.group(1)
            for m in re.finditer(r"^  ([a-z_][a-z0-9_]*(?:\.[a-z_][a-z0-9_]*)?)\s", doc, re.M)}


def test_module_map_names_every_module():
    mapped = _map_names()
    files = {m for m in MODULES if m != "qmail_dkim" and not os.path.basename(
        MODULES[m]) == "__init__.py"}
    assert files - mapped == set(), "modules missing from the map in qmail_dkim/__init__.py"
    assert mapped - files == set(), "the map in qmail_dkim/__init__.py names modules that do not exist"
    assert len(mapped) > 30
