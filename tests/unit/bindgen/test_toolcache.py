"""Tool cache against a fake `cargo` on PATH: one build per version, atomic entries, clear errors."""

import subprocess
import sys
from pathlib import Path

import pytest

from unit.bindgen.conftest import FAKE_CARGO
from wasm_bisect.bindgen import toolcache
from wasm_bisect.domain.errors import ProvisionError, UsageError
from wasm_bisect.util import paths

pytestmark = pytest.mark.subprocess


def test_builds_once_and_reuses(fake_cargo: Path) -> None:
    tool = toolcache.bindgen_cli("0.2.92")
    assert tool.version == "0.2.92" and tool.binary.is_file()
    again = toolcache.bindgen_cli("=0.2.92")
    assert again.bin_dir == tool.bin_dir
    assert len(fake_cargo.read_text().splitlines()) == 1
    assert "--locked" in fake_cargo.read_text()
    assert [t.ident for t in toolcache.installed()] == ["0.2.92"]


def test_concurrent_installs_build_once(fake_cargo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_CARGO_SLEEP", "2")
    code = "from wasm_bisect.bindgen import toolcache; print(toolcache.bindgen_cli('0.2.93').binary)"
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert len(set(outs)) == 1
    assert len(fake_cargo.read_text().splitlines()) == 1
    assert subprocess.run([outs[0]], capture_output=True, text=True, check=True).stdout.split()[1] == "0.2.93"


def test_unknown_version_is_a_usage_error_and_leaves_nothing(fake_cargo: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        toolcache.bindgen_cli("0.2.999")
    with pytest.raises(ProvisionError):
        toolcache.bindgen_cli("0.2.998")
    base = paths.tools_dir() / "wasm-bindgen"
    assert sorted(p.name for p in base.iterdir()) == []


@pytest.mark.parametrize("bad", ["latest", "0.2", "0.2.x", "--force"])
def test_version_must_be_exact(bad: str) -> None:
    with pytest.raises(UsageError):
        toolcache.bindgen_cli(bad)


def test_broken_entry_is_rebuilt(fake_cargo: Path) -> None:
    tool = toolcache.bindgen_cli("0.2.95")
    (tool.bin_dir.parent / "tool.json").write_text("{not json")
    rebuilt = toolcache.bindgen_cli("0.2.95")
    assert rebuilt.binary.is_file()
    assert len(fake_cargo.read_text().splitlines()) == 2


def test_test_runner_comes_with_the_wasm_bindgen_of_the_same_install(fake_cargo: Path) -> None:
    runner = toolcache.bindgen_test_runner("0.2.95")
    assert runner.name == "wasm-bindgen-test-runner" and runner.version == "0.2.95"
    assert runner.binary.is_file() and (runner.bin_dir / "wasm-bindgen").is_file()
    assert "--bin wasm-bindgen --bin wasm-bindgen-test-runner" in fake_cargo.read_text()
    assert toolcache.bindgen_test_runner("0.2.95").bin_dir == runner.bin_dir
    assert len(fake_cargo.read_text().splitlines()) == 1
    assert ("wasm-bindgen-test-runner", "0.2.95") in {(t.name, t.ident) for t in toolcache.installed()}
    (runner.bin_dir / "wasm-bindgen").unlink()  # half an entry is no entry: built again
    assert (toolcache.bindgen_test_runner("0.2.95").bin_dir / "wasm-bindgen").is_file()


def test_geckodriver_is_built_once_into_the_tool_cache(fake_cargo: Path) -> None:
    """Firefox's WebDriver (not packaged by Debian): `cargo install --locked geckodriver --version =X`, staged,
    verified by its --version, listed, never built twice."""
    tool = toolcache.geckodriver()
    assert tool.name == "geckodriver" and tool.version == toolcache.GECKODRIVER_VERSION and tool.binary.is_file()
    assert toolcache.geckodriver().bin_dir == tool.bin_dir
    calls = fake_cargo.read_text().splitlines()
    assert len(calls) == 1
    assert "--locked" in calls[0] and f"geckodriver --version ={toolcache.GECKODRIVER_VERSION}" in calls[0]
    assert ("geckodriver", toolcache.GECKODRIVER_VERSION) in {(t.name, t.ident) for t in toolcache.installed()}


def test_builds_at_once_take_separate_target_slots_nearest_first(fake_cargo: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """cargo locks a target dir per build: two builds at once need two; a build reuses the nearest release's."""
    import threading

    targets = tmp_path / "targets.log"
    monkeypatch.setenv("FAKE_CARGO_TARGETS", str(targets))
    monkeypatch.setenv("FAKE_CARGO_SLEEP", "1")
    threads = [threading.Thread(target=toolcache.bindgen_cli, args=(v,)) for v in ("0.2.80", "0.2.99")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    first = dict(line.split() for line in targets.read_text().splitlines())
    assert len(set(first.values())) == 2  # at the same time: two slots
    monkeypatch.setenv("FAKE_CARGO_SLEEP", "0")
    toolcache.bindgen_cli("0.2.98")  # next to 0.2.99: its slot
    toolcache.bindgen_cli("0.2.81")  # next to 0.2.80
    built = dict(line.split() for line in targets.read_text().splitlines())
    assert built["0.2.98"] == built["0.2.99"] and built["0.2.81"] == built["0.2.80"]
    assert sorted(p.name for p in paths.tools_dir().glob("cargo-target*")) == ["cargo-target", "cargo-target-1"]


def test_an_older_host_toolchain_builds_and_is_recorded(fake_cargo: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI built by another host toolchain (asked only when it is built): its cargo first on PATH, its own
    variables, its own target dirs; tool.json, `installed` and the JSON say which toolchain built it."""
    from wasm_bisect.bindgen.hosts import HostToolchain

    old = tmp_path / "old-host" / "bin"
    old.mkdir(parents=True)
    (old / "cargo").write_text(FAKE_CARGO.replace("{python}", sys.executable).replace(
        'log.write(" ".join(args)', 'log.write("OLD " + os.environ.get("OLD_HOST_VAR", "") + " " + " ".join(args)'))
    (old / "cargo").chmod(0o755)
    targets = tmp_path / "targets.log"
    monkeypatch.setenv("FAKE_CARGO_TARGETS", str(targets))
    asked: list[str] = []

    def host() -> HostToolchain:
        asked.append("0.2.84")
        return HostToolchain(name="debian:1.85.0", rustc="1.85.0", bin_dir=old, env={"OLD_HOST_VAR": "set"})

    tool = toolcache.bindgen_cli("0.2.84", host=host)
    assert fake_cargo.read_text().startswith("OLD set install --locked")
    assert (tool.host, tool.host_rustc, tool.built_with) == ("debian:1.85.0", "1.85.0", "debian:1.85.0 (rustc 1.85.0)")
    assert targets.read_text().split()[1].endswith("cargo-target@debian-1.85.0")
    assert toolcache.bindgen_cli("0.2.84", host=host).bin_dir == tool.bin_dir and asked == ["0.2.84"]
    listed = {t.ident: t for t in toolcache.installed()}
    assert listed["0.2.84"].to_json()["host"] == "debian:1.85.0"
    # The default host's slots are not the old host's, and an entry from before the record reads as default.
    toolcache.bindgen_cli("0.2.99")
    assert sorted(p.name for p in paths.tools_dir().glob("cargo-target*")) == [
        "cargo-target", "cargo-target@debian-1.85.0"]
    entry = paths.tools_dir() / "wasm-bindgen" / "0.2.99" / "tool.json"
    entry.write_text('{"version": "0.2.99", "build_seconds": 1.0}')
    assert {t.ident: t.built_with for t in toolcache.installed()}["0.2.99"] == "default"
