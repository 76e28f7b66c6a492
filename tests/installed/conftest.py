"""The installed-tool suite: the wheel as users install it (not `-e`), run from another directory.

Runs only when asked for by path, by `nox -s installed`, which builds the wheel, installs it into a fresh venv
and names that venv in WASM_BISECT_INSTALLED_VENV; asked for without it, the suite fails rather than skips.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
VENV_ENV = "WASM_BISECT_INSTALLED_VENV"


def _asked_for(config: pytest.Config) -> bool:
    for arg in config.args:
        target = Path(arg.split("::")[0]).resolve()
        if target == HERE or HERE in target.parents:
            return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.fspath)).resolve().parents]
    if mine and not _asked_for(config):
        config.hook.pytest_deselected(items=mine)
        items[:] = [item for item in items if item not in mine]
        return
    for item in mine:
        item.add_marker(pytest.mark.subprocess)


@pytest.fixture(scope="session")
def venv() -> Path:
    value = os.environ.get(VENV_ENV)
    if not value or not (Path(value) / "bin" / "wasm-bisect").is_file():
        pytest.fail(f"{VENV_ENV} must name a venv with wasm-bisect installed from a wheel (run `nox -s installed`)")
    return Path(value)
