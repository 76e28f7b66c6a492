"""Where the tool keeps its caches, work directories and result store (never inside user files)."""

from __future__ import annotations

import errno
import os
import tempfile
from importlib import resources
from pathlib import Path

import platformdirs

from wasm_bisect.domain.errors import TemplateError, UsageError

HOME_ENV = "WASM_BISECT_HOME"


def expand(path: str | Path) -> Path:
    """`~` and `~user` expanded (the one expansion of every path the user gives); a user that does not exist,
    or a NUL character, is bad input, not a crash."""
    if "\0" in str(path):
        raise UsageError(f"path {str(path)!r} contains a NUL character")
    try:
        return Path(path).expanduser()
    except RuntimeError:  # pathlib: "Could not determine home directory."
        raise UsageError(f"cannot expand {str(path)!r}: no such user's home directory") from None


def resolve(path: str | Path, what: str = "") -> Path:
    """`Path.resolve()` that turns a symlink loop (RuntimeError on Python 3.11, OSError ELOOP later) into bad
    input: the one resolve of every path the tool follows."""
    try:
        return Path(path).resolve()
    except RuntimeError:
        pass
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    label = f"{what}{'' if what.endswith(':') else ' '}" if what else ""
    raise UsageError(f"cannot use {label}{path}: it runs into a symlink loop",
                     hint="point it at a real file or directory")


def home() -> Path:
    """Root of everything the tool writes; `WASM_BISECT_HOME` overrides the platform cache dir."""
    override = os.environ.get(HOME_ENV)
    root = Path(override) if override else Path(platformdirs.user_cache_dir("wasm-bisect"))
    return resolve(expand(root), HOME_ENV if override else "the tool's home")


def check_home() -> Path:
    """The home must be a directory the tool can write, or one it can create: every command checks this first,
    so a home that is a file or read-only is one line, never a traceback or a silently empty answer."""
    root = home()
    where = f"{HOME_ENV} {root}" if os.environ.get(HOME_ENV) else f"the tool's home {root}"
    ancestor = root
    while not ancestor.exists() and not ancestor.is_symlink() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        blocker = "it" if ancestor == root else str(ancestor)
        raise UsageError(f"cannot use {where}: {blocker} is not a directory",
                         hint=f"point {HOME_ENV} at a directory (or at a path that does not exist yet)")
    try:
        with tempfile.TemporaryFile(dir=ancestor):  # tried for real: root passes os.access on a read-only mount
            pass
    except OSError as exc:
        raise UsageError(f"cannot use {where}: {ancestor} is not writable ({exc.strerror})",
                         hint=f"point {HOME_ENV} at a writable directory") from None
    return root


def toolchains_dir() -> Path:
    return home() / "toolchains"


def tools_dir() -> Path:
    return home() / "tools"


def downloads_dir() -> Path:
    return home() / "downloads"


def work_dir() -> Path:
    """Rendered variant crates, one directory per variant hash."""
    return home() / "work"


def vendor_dir() -> Path:
    """Vendored dependency sets for toolchains whose cargo cannot reach crates.io, keyed by lock hash."""
    return home() / "vendor"


def locks_dir() -> Path:
    return home() / "locks"


def store_path() -> Path:
    return home() / "store.sqlite3"


def builtin_templates_dir() -> Path:
    """The built-in templates: inside the installed package (the wheel ships the repository's top-level
    `templates/` as `wasm_bisect/templates`), else, in an editable install, the checkout's `templates/`."""
    packaged = Path(str(resources.files("wasm_bisect"))) / "templates"
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[3] / "templates"  # util/paths.py -> wasm_bisect -> bisect -> repo
    if checkout.is_dir():
        return checkout
    raise TemplateError("this installation of wasm-bisect has no built-in templates",
                        hint="reinstall it from a wheel or a checkout (the templates ship inside the package)")


DOCS_URL = "https://github.com/wasm-bisect/wasm-bisect/blob/v{version}/docs/{name}"


def doc(name: str) -> str:
    """Where to read the documentation page `name` (e.g. templates.md): the installed copy (the wheel ships the
    repository's docs/ as `wasm_bisect/docs`; an editable install reads the checkout's), else its versioned URL."""
    from wasm_bisect import __version__

    for where in (Path(str(resources.files("wasm_bisect"))) / "docs",
                  Path(__file__).resolve().parents[3] / "docs"):  # util/paths.py -> wasm_bisect -> bisect -> repo
        if (where / name).is_file():
            return str(where / name)
    return DOCS_URL.format(version=__version__, name=name)
