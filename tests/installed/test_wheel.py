"""wasm-bisect installed from its wheel: templates ship inside it, the nox support works, a real probe builds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def run(venv: Path, *args: str, cwd: Path, env: dict[str, str] | None = None,
        timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, "PATH": path, **(env or {})})


def test_installed_from_a_wheel_not_the_checkout(venv: Path, tmp_path: Path) -> None:
    proc = run(venv, str(venv / "bin" / "python"), "-c", "import wasm_bisect; print(wasm_bisect.__file__)",
               cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert str(venv) in proc.stdout and "/bisect/wasm_bisect/" not in proc.stdout


def test_templates_ship_in_the_wheel(venv: Path, tmp_path: Path) -> None:
    listed = run(venv, "wasm-bisect", "templates", "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    names = {t["name"] for t in json.loads(listed.stdout)}
    assert {"vec-of-structs", "typedarray-view", "smoke"} <= names
    shown = run(venv, "wasm-bisect", "templates", "show", "vec-of-structs", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["name"] == "vec-of-structs" and "src/lib.rs" in data["files"]
    assert str(venv) in data["root"]  # read from the installed package, not from a checkout


def test_docs_ship_in_the_wheel_and_messages_point_there(venv: Path, tmp_path: Path) -> None:
    proc = run(venv, "wasm-bisect", "templates", "init", "smoke", str(tmp_path / "mine"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    page = proc.stdout.split("(how: ", 1)[1].split(")", 1)[0]
    assert page.startswith(str(venv)) and page.endswith("/wasm_bisect/docs/templates.md"), page
    assert "## " in Path(page).read_text()


def test_examples_noxfile_lists_its_cells(venv: Path, tmp_path: Path) -> None:
    work = tmp_path / "examples"
    shutil.copytree(EXAMPLES, work)
    proc = run(venv, "nox", "-l", "--json", cwd=work, timeout=600)
    assert proc.returncode == 0, proc.stderr
    sessions = json.loads(proc.stdout)
    cells = [s["call_spec"]["cell"] for s in sessions if "cell" in s.get("call_spec", {})]
    assert "debian:1.63.0@0.2.92@default" in cells and len(cells) == 2 * 4 * 2
    matrix = run(venv, "wasm-bisect", "nox-matrix", cwd=work, env={}, timeout=120)
    assert matrix.returncode == 2  # no stdin: one line, exit 2 (the real pipe is tested in the unit suite)


def test_real_probe_of_the_smoke_template(venv: Path, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"  # a private store: the verdict must come from a build, not a stored one
    proc = run(venv, "wasm-bisect", "probe", "--template", "smoke", "--rustc", "debian:1.63.0", "--bindgen",
               "0.2.92", "--store", str(store), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = json.loads(proc.stdout)["probe"]
    assert data["outcome"]["verdict"] == "good", data["outcome"]["reason"]
    assert data["from_store"] is False
    assert data["outcome"]["timings"]["cargo-build"] > 0
