"""Bad input to the trainer: wrong checkpoints on --resume, empty data, mismatched keypoints."""

from __future__ import annotations

import json
import shutil

import cv2
import numpy as np
import pytest

from vidpose.cli import main as cli_main
from vidpose.errors import InputError
from vidpose.training.config import load_config
from vidpose.training.trainer import train


@pytest.fixture(scope="module")
def one_epoch_run(tmp_path_factory, synth_root):
    """A finished 1-epoch run (no validation) to damage in the tests below."""
    d = tmp_path_factory.mktemp("run1")
    cfg_path = d / "c.toml"
    cfg_path.write_text(f"""
[model]
width = 0.125
input_size = [64, 64]
deconv_channels = 32
[data]
root = "{synth_root}"
val_subset = ""
[optim]
epochs = 1
batch_size = 8
[run]
out_dir = "{d / 'out'}"
threads = 1
""")
    train(load_config(cfg_path), quiet=True)
    return cfg_path, d / "out"


def _copy(run, tmp_path):
    cfg_path, out = run
    dst = tmp_path / "out"
    shutil.copytree(out, dst)
    return cfg_path, dst


def test_resume_other_architecture(one_epoch_run, tmp_path):
    cfg_path, out = _copy(one_epoch_run, tmp_path)
    cfg = load_config(cfg_path, [f"run.out_dir={out}", "model.width=0.25"])
    with pytest.raises(InputError, match=r"last\.safetensors: checkpoint was trained with a different model: "
                                         r"width=0\.125 \(config: 0\.25\)"):
        train(cfg, resume=True, quiet=True)
    clnet = tmp_path / "clnet.toml"
    clnet.write_text(cfg_path.read_text().replace("[model]\n", '[model]\nmethod = "clnet"\n'))
    other = load_config(clnet, [f"run.out_dir={out}"])
    with pytest.raises(InputError, match=r"last\.safetensors: checkpoint was trained with a different model: "
                                         r"method='simplebaseline' \(config: 'clnet'\)"):
        train(other, resume=True, quiet=True)


def test_resume_truncated_files(one_epoch_run, tmp_path):
    cfg_path, out = _copy(one_epoch_run, tmp_path)
    cfg = load_config(cfg_path, [f"run.out_dir={out}", "optim.epochs=2"])
    state = out / "train_state.pt"
    good_state = state.read_bytes()
    state.write_bytes(good_state[: len(good_state) // 2])
    with pytest.raises(InputError, match=r"train_state\.pt: truncated or corrupt training state"):
        train(cfg, resume=True, quiet=True)
    state.write_bytes(good_state)
    last = out / "last.safetensors"
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"last\.safetensors: .*truncated or corrupt"):
        train(cfg, resume=True, quiet=True)


def test_resume_mismatched_pair_and_missing(one_epoch_run, tmp_path):
    cfg_path, out = _copy(one_epoch_run, tmp_path)
    from vidpose.methods import get
    from vidpose.models import save_checkpoint

    import torch

    cfg = load_config(cfg_path, [f"run.out_dir={out}", "optim.epochs=2"])
    save_checkpoint(out / "last.safetensors", get(cfg.method).build(cfg.model))  # same method, other weights
    # A state without its own copy of the weights (older runs) cannot vouch for them.
    state = torch.load(out / "train_state.pt", weights_only=True)
    del state["model"]
    torch.save(state, out / "train_state.pt")
    with pytest.raises(InputError, match=r"last\.safetensors: does not match .*train_state\.pt"):
        train(cfg, resume=True, quiet=True)
    empty = load_config(cfg_path, [f"run.out_dir={tmp_path / 'nothing'}"])
    with pytest.raises(InputError, match=r"--resume: .*train_state\.pt not found"):
        train(empty, resume=True, quiet=True)


def _coco(tmp_path, keypoints):
    img = np.full((64, 64, 3), 80, np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), img)
    ann = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 64}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 40],
                         "keypoints": keypoints, "num_keypoints": 0, "iscrowd": 0, "area": 1200}],
        "categories": [{"id": 1, "name": "person", "keypoints": [f"k{i}" for i in range(len(keypoints) // 3)]}],
    }
    (tmp_path / "ann_train.json").write_text(json.dumps(ann))


def test_empty_dataset(tmp_path):
    _coco(tmp_path, [0] * 51)  # one person, no labelled keypoint
    cfg = load_config(None, ["data.dataset=coco", f"data.root={tmp_path}", "data.ann_file=ann_{subset}.json",
                             "data.val_subset=", "model.width=0.125", "model.input_size=64,64",
                             f"run.out_dir={tmp_path / 'out'}"])
    with pytest.raises(InputError, match=r"ann_train\.json: dataset 'coco' subset 'train' has no usable person "
                                         r"\(1 frames; .*excluded 1 persons \(1 no labelled keypoints\)"):
        train(cfg, quiet=True)


def test_keypoint_count_mismatch_and_unknown_dataset(tmp_path):
    _coco(tmp_path, [20, 20, 2] * 5)
    base = [f"data.root={tmp_path}", "data.ann_file=ann_{subset}.json", "data.val_subset=",
            "model.width=0.125", "model.input_size=64,64", f"run.out_dir={tmp_path / 'out'}"]
    with pytest.raises(InputError, match=r"model\.num_keypoints is 17 but dataset 'coco' \(.*ann_train\.json\) has 5"):
        train(load_config(None, ["data.dataset=coco", *base]), quiet=True)
    with pytest.raises(InputError, match=r"data\.dataset 'cocoa' is unknown; known: synth-single"):
        train(load_config(None, ["data.dataset=cocoa", *base]), quiet=True)


def test_cli_reports_bad_config(tmp_path, capsys):
    p = tmp_path / "bad.toml"
    p.write_text("[optim]\nlearning_rate = 0.1\n")
    assert cli_main(["train", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("vidpose: error: ") and "bad.toml: unknown key optim.learning_rate" in err
    assert cli_main(["train", str(tmp_path / "missing.toml")]) == 1
    assert "missing.toml: config file not found" in capsys.readouterr().err


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_folder(tmp_path, synth_root, write_config, capsys):
    """A data fault found mid-way (an undecodable frame) fails naming the file, and the fresh --out folder
    (its config.toml) is removed; a config fault from the CLI names the config file."""
    data = tmp_path / "data"
    shutil.copytree(synth_root, data)
    bad = sorted((data / "train").glob("*/frames/*.jpg"))[3]
    bad.write_bytes(b"not a jpeg")
    cfg = write_config("c.toml", out_dir=tmp_path / "run", epochs=1)
    assert cli_main(["train", str(cfg), "--set", f"data.root={data}", "--quiet"]) == 1
    assert f"{bad}: cannot decode image" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
    assert cli_main(["train", str(cfg), "--set", "model.num_keypoints=33", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert f"{cfg}: model.num_keypoints is 33" in err and "config:" not in err
    assert not (tmp_path / "run").exists()


def test_python_api_misuse_is_named(tmp_path):
    with pytest.raises(InputError, match="train: expected a TrainConfig .* got str"):
        train("configs/clnet_synth_single.toml")
    with pytest.raises(InputError, match="load_config: path must be a TOML file's path"):
        load_config({"model": {}})
    with pytest.raises(InputError, match="load_config: overrides must be a list of 'section.key=value' strings"):
        load_config(None, "data.root=/x")


def test_init_from_a_shipped_file_by_its_source_tree_path_works_from_any_folder(tmp_path, monkeypatch):
    """configs/dgnet_synth3_pairs.toml names src/vidpose/weights/dgnet_synth3.safetensors: run from another
    folder (or a pip install, which has no src/), the installed copy is taken."""
    from vidpose.methods import build_from, config_of, weights_dir
    from vidpose.models.checkpoint import read_checkpoint
    from vidpose.training.trainer import _init_from

    ck = read_checkpoint(weights_dir() / "dgnet_synth3.safetensors", weights=False)
    model = build_from(config_of(ck))
    monkeypatch.chdir(tmp_path)
    assert "initialised" in _init_from(model, "src/vidpose/weights/dgnet_synth3.safetensors")
    with pytest.raises(InputError, match="nothere.safetensors: checkpoint not found"):
        _init_from(model, "src/vidpose/weights/nothere.safetensors")
