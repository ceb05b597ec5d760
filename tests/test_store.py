"""Model store: verification and the messages a user sees when a file cannot be had."""

import pytest

from vidpose import store
from vidpose.errors import ModelStoreError


def test_catalog_is_pinned():
    for e in store.CATALOG.values():
        assert len(e.sha256) == 64 and e.size > 0 and e.version and e.member
        assert e.registry in ("pypi", "npm")


def test_offline_message_says_which_file_to_put_where(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    monkeypatch.setenv("VIDPOSE_OFFLINE", "1")
    with pytest.raises(ModelStoreError) as e:
        store.fetch("blazepose-detector")
    msg = str(e.value)
    assert str(tmp_path / "pose_detection.tflite") in msg
    assert "mediapipe==0.10.14" in msg and store.CATALOG["blazepose-detector"].sha256 in msg


def test_hash_mismatch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    (tmp_path / "pose_detection.tflite").write_bytes(b"not a model")
    with pytest.raises(ModelStoreError, match="corrupt or a different version"):
        store.path("blazepose-detector")


def test_unknown_model():
    with pytest.raises(ModelStoreError, match="unknown model"):
        store.entry("no-such-model")


def test_home_default_and_override(monkeypatch, tmp_path):
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path / "x"))
    assert store.home() == tmp_path / "x"
    monkeypatch.delenv("VIDPOSE_HOME")
    assert store.home().name == "vidpose"


@pytest.mark.slow
def test_fetch_downloads_and_verifies(tmp_path, monkeypatch):
    """A real fetch of the sample clip's package into an empty cache."""
    monkeypatch.setenv("VIDPOSE_HOME", str(tmp_path))
    p = store.fetch("sample-sports2d", quiet=True)
    assert p.is_file() and store.sha256_file(p) == store.CATALOG["sample-sports2d"].sha256
    assert store.is_cached("sample-sports2d")
