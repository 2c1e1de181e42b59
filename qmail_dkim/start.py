"""Where a qmail-dkim run starts: bin/qmail-dkim loads this file and calls run().

bin/qmail-dkim is only a loader because a script's code is compiled on every
run (the whole program used to be there: ~2 ms of a ~13 ms start on a
2-core machine) while a module's comes from __pycache__. Under -S (README
step 1) the loader finds this file by its path, before sys.path is set up,
so nothing here may import more than the interpreter's built-in modules
before it is needed (qmail-dkimd(8), SPEED):

- with DKIMSOCKET, the hand-over to qmail-dkimd uses only posix, sys and
  _socket (daemon/client.py, loaded by its path next to this file);
- otherwise, or when nothing was handed over: no site module (the venv's
  site-packages and the plain lines of its .pth files are added here; site
  runs only when there is more to it), no garbage collection (a short run;
  reference counting frees what it uses), and no interpreter teardown once
  the exit status is known.
"""
import posix
import sys


def run():
    """One run of qmail-dkim. Never returns: exits with main()'s code."""
    tty = posix.isatty(0)
    if tty:                          # run by hand: say what it waits for
        sys.stderr.write("qmail-dkim: reading a message on fd 0 (standard input), as qmail-queue does "
                         "(qmail-smtpd runs qmail-dkim as QMAILQUEUE). End it with Ctrl-D (the "
                         "envelope is then read from fd 1), or stop with Ctrl-C: nothing is queued. "
                         "See qmail-dkim --help.\n")
        sys.stderr.flush()
    sock = posix.environ.get(b"DKIMSOCKET")
    if sock:                         # qmail-dkimd(8): hand the message to the resident worker
        client = _client()
        if client is not None:
            code = client.delegate(sock)
            if code is not None:
                posix._exit(code)
            sock = None              # nothing handed over: in-process below
    import gc
    import os
    gc.disable()
    set_path()
    if sock:                         # the client could not be loaded by its path (no -S)
        try:
            from qmail_dkim.daemon.client import delegate
        except ImportError:
            delegate = None
        code = delegate(sock) if delegate else None
        if code is not None:
            os._exit(code)
    try:
        from qmail_dkim.main import main
    except BaseException as e:  # cannot even load the program: temporary failure (81), never lost mail
        cannot_load(e)
    if tty:
        try:
            code = main()
        except KeyboardInterrupt:
            sys.stderr.write("qmail-dkim: interrupted, nothing queued\n")
            code = 130
    else:
        code = main()
    if sys.getprofile() or sys.gettrace():
        sys.exit(code)              # a profiler or tracer is watching: let it write its results
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except Exception:               # noqa: BLE001 - the status is what matters now
        pass
    os._exit(code)


def cannot_load(e):
    """The log line and the temporary exit (81) when the program cannot be loaded."""
    sys.stderr.write('qmail-dkim: mode=unknown result=error reason="cannot load qmail-dkim: %s: %s" exit=81\n'
                     % (type(e).__name__, str(e).replace('"', "'")[:200]))
    sys.stderr.flush()
    posix._exit(81)


def _client():
    """qmail_dkim.daemon.client. Under -S, loaded by its path next to this
    file, without os, site or a scan of sys.path. None: load it as usual."""
    if sys.flags.no_site and "__file__" in globals():
        try:
            import _frozen_importlib as boot
            import _frozen_importlib_external as ext
            spec = ext.spec_from_file_location("qmail_dkim.daemon.client",
                                               __file__.rpartition("/")[0] + "/daemon/client.py")
            mod = boot.module_from_spec(spec)
            spec.loader.exec_module(mod)
            return mod
        except Exception:            # noqa: BLE001 - then the usual way
            pass
    return None


def set_path():
    """Under -S: sys.path as a venv's site would make it, without site when
    that needs no code; else site itself. Without -S site has run already."""
    if sys.flags.no_site and not _venv_paths():
        import site
        site.main()


def _venv_paths():
    """sys.path entries a venv's site would add, if reading them needs no
    code: site-packages and the plain lines of its .pth files. False when
    anything else is there (an import line, system site-packages)."""
    import os
    venv = os.path.dirname(os.path.dirname(sys.executable))
    try:
        with open(os.path.join(venv, "pyvenv.cfg")) as f:
            if "include-system-site-packages = true" in f.read().lower():
                return False
        sp = os.path.join(venv, "lib", "python%d.%d" % sys.version_info[:2], "site-packages")
        add = [sp]
        for name in sorted(os.listdir(sp)):
            if not name.endswith(".pth") or name == "distutils-precedence.pth":
                continue        # that one only steers `import distutils`
            with open(os.path.join(sp, name)) as f:
                for line in f:
                    line = line.strip()
                    if line.startswith(("import ", "import\t")):
                        return False
                    if line and not line.startswith("#"):
                        add.append(os.path.join(sp, line))
    except OSError:
        return False
    sys.path.extend(p for p in add if os.path.isdir(p) and p not in sys.path)
    return True
