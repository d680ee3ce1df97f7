"""python-files.py - run by host-tests-in-vm.sh with Debian's /usr/bin/python3 -I:
prints, one a line, the files and directories the test VM needs for that
interpreter to run `python3 -m pytest [-n N]` on a small project that imports
prometheus_client, and tests/validate-report.py (jsonschema).  Each is shipped
with run-vm.sh --file (copied at the same path, a directory whole, a program or
a .so with the libraries ldd reports).

  - the interpreter: sys.executable (/usr/bin/python3, copied dereferenced);
  - the standard library (sysconfig's stdlib), with its __pycache__, less the
    parts no test uses: tests, IDLE/Tk, 2to3, ensurepip, distutils, venv,
    curses/dbm/sqlite3 and the static libpython (config-3.11-*): 22 of the
    54 MB of Debian 12's /usr/lib/python3.11 (any stdlib module a test
    project imports is there; the pycs stay valid: run-vm.sh keeps mtimes);
  - lib-dynload: every extension module but those of the parts left out, the
    CPython test modules and readline (each listed: run-vm.sh ldd's it);
  - from dist-packages, the distributions in ROOTS, what they require
    (Requires-Dist whose marker holds here, extras left out) and what they
    import (Debian's may import more: every module of their packages is
    imported here to see): each one's metadata directory (pytest finds xdist
    through its entry points there) and its top-level packages/modules, whole,
    with their __pycache__ files.  No *.pth file: site.py adds nothing else.

In the VM the interpreter is /usr/bin/python3 only (a copy, no python3.11 name);
the initrd grows by ~38 MB (83 -> 121 MB), the boot by ~1-2 s.

exit status: 0; 1 (with the reason on stderr) if a distribution is missing.
"""
import glob
import importlib
import importlib.metadata as md
import os
import pkgutil
import sys
import sysconfig

ROOTS = ["pytest", "pytest-xdist", "prometheus-client", "jsonschema"]
STDLIB_SKIP = {"test", "idlelib", "tkinter", "turtledemo", "turtle.py", "lib2to3", "ensurepip",
               "pydoc_data", "distutils", "venv", "curses", "dbm", "sqlite3", "site-packages",
               "dist-packages", "lib-dynload", "LICENSE.txt"}
DYNLOAD_SKIP_PREFIXES = ("_test", "_ctypes_test", "xx", "_xx", "_curses", "readline", "_dbm",
                         "_gdbm", "_sqlite3", "nis.", "ossaudiodev", "_tkinter")


def fail(msg):
    print(f"python-files.py: {msg}", file=sys.stderr)
    sys.exit(1)


# The interpreter, as invoked (a symlink is copied as the file it points to).
print(sys.executable)

stdlib = sysconfig.get_paths()["stdlib"]
for name in sorted(os.listdir(stdlib)):
    if name in STDLIB_SKIP or name.startswith("config-"):
        continue
    print(os.path.join(stdlib, name))
dynload = os.path.join(stdlib, "lib-dynload")
for name in sorted(os.listdir(dynload)):
    if name.endswith(".so") and not name.startswith(DYNLOAD_SKIP_PREFIXES):
        print(os.path.join(dynload, name))

# Distributions: ROOTS and what they require, transitively (Requires-Dist).
try:
    from packaging.requirements import Requirement  # shipped too: pytest requires it
except ImportError as e:
    fail(f"{e} (python3-packaging, which python3-pytest depends on)")


def key(name):
    return name.lower().replace("_", "-")


top_names = {}  # distribution -> its top-level modules/packages
dists_of = {}   # top-level module/package -> its distributions
for top, dists in md.packages_distributions().items():
    for d in dists:
        top_names.setdefault(key(d), set()).add(top)
        dists_of.setdefault(top, set()).add(key(d))
dists = {}      # distribution -> its metadata
todo = list(ROOTS)
while todo:
    name = todo.pop()
    if key(name) in dists:
        continue
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        fail(f"the Python distribution '{name}' is not installed for {sys.executable}")
    dists[key(name)] = dist
    for req in dist.requires or []:
        r = Requirement(req)
        if r.marker is None or r.marker.evaluate({"extra": ""}):
            todo.append(r.name)

# What they import: Debian's packages may import more than their metadata says
# (prometheus_client imports decorator).  The roots' packages are imported with
# every submodule (pytest and xdist load their plugins lazily, in the workers
# too); each new module from outside the standard library names a top-level
# module/package to ship, with its distribution.
before = set(sys.modules)
for root in ROOTS:
    for top in sorted(top_names.get(key(root)) or {key(root).replace("-", "_")}):
        try:
            mod = importlib.import_module(top)
        except Exception as e:  # noqa: BLE001  (any failure means a broken install)
            fail(f"{sys.executable} cannot import {top} (of '{root}'): {e}")
        if hasattr(mod, "__path__"):
            for info in pkgutil.walk_packages(mod.__path__, top + ".", onerror=lambda _: None):
                # A package's __main__ is its command line (jsonschema's parses this script's
                # arguments and exits): shipped with its package, never imported here.
                if info.name.rsplit(".", 1)[-1] == "__main__":
                    continue
                try:
                    importlib.import_module(info.name)
                except Exception:  # noqa: BLE001  (an optional extra, e.g. prometheus_client.twisted)
                    pass
tops = set()    # (site directory, top-level name)
for name in set(sys.modules) - before:
    path = getattr(sys.modules[name], "__file__", None) or ""
    if not path.startswith(stdlib + os.sep) and os.path.isabs(path):
        site = next((p for p in sys.path if p and path.startswith(p + os.sep)), None)
        if site is not None:
            top = path[len(site) + 1:].split(os.sep)[0]
            top = top[:-3] if top.endswith(".py") else top.split(".")[0]
            tops.add((site, top))
            for d in dists_of.get(top, ()):
                if d not in dists:
                    dists[d] = md.distribution(d)

for name, dist in sorted(dists.items()):
    meta = str(dist._path)  # the .dist-info or .egg-info directory
    print(meta)
    for top in top_names.get(name) or {name.replace("-", "_")}:
        tops.add((os.path.dirname(meta), top))
for site, top in sorted(tops):
    paths = [p for p in (os.path.join(site, top), os.path.join(site, top + ".py"),
                         os.path.join(site, "__pycache__", f"{top}.{sys.implementation.cache_tag}.pyc"))
             if os.path.exists(p)]
    paths += sorted(glob.glob(os.path.join(glob.escape(site), glob.escape(top) + ".*.so")))
    if not [p for p in paths if not p.endswith(".pyc")]:
        fail(f"'{top}' is neither {site}/{top}/ nor {top}.py nor {top}.*.so")
    print(*paths, sep="\n")
