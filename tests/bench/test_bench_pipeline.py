"""`vidpose bench pipeline`: the rows, the interleaving, the statistics, MediaPipe's availability.

The orchestration is tested with a fake measurement (no models, no timing
asserted); the workers that do the real measuring are run on a few frames in
the slow tests. Speed itself is measured by the benchmark, never asserted here.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from vidpose.bench import pipeline


def fake_measure(log: list, fail: str | None = None):
    fps = {}

    def measure(spec, clip):
        log.append(spec["name"])
        if spec["name"] == fail:
            return {"error": "boom"}
        k = fps.setdefault(spec["name"], 0)
        fps[spec["name"]] = k + 1
        rate = (20.0 if spec["side"] == "mediapipe" else 40.0) + [0, 10, -5][k % 3]
        row = {"frames": 100, "seconds": 100 / rate, "load_seconds": 0.5, "frames_with_person": 99,
               "people_per_frame": float(spec.get("people", 1)), "peak_rss_mb": 300.0 + k}
        if spec["side"] == "vidpose" and spec["kind"] != "run":
            row.update({"detector_invoke_ms": 5.0, "landmark_invoke_ms": 6.0, "models_ms_per_frame": 7.0,
                        "detector_calls": 3, "landmark_calls": 100})
        if spec["side"] == "mediapipe":
            row["version"] = "0.10.14"
        return row

    return measure


def test_rows_are_unique_and_quick_has_the_same_rows():
    full, quick = pipeline.plan(False), pipeline.plan(True)
    names = [r["name"] for r in full]
    assert len(names) == len(set(names))
    assert names == [r["name"] for r in quick]
    # decode included on both sides, and the same pre-decoded frames on both sides
    for a in ("vidpose-full-1p-decode", "vidpose-full-1p-decode-refine-default", "mediapipe-full-decode",
              "vidpose-full-1p-frames", "mediapipe-full-frames", "vidpose-heavy-1p-frames",
              "vidpose-heavy-1p-decode", "mediapipe-heavy-decode", "vidpose-run-default-overlay",
              "vidpose-run-default-no-overlay", "vidpose-full-1p-decode-short"):
        assert a in names
    assert [f"vidpose-full-crowd-{k}p-frames" for k in (1, 2, 4, 8)] == [n for n in names if "crowd" in n]
    # the per-frame rows lift per frame (--lift blazepose); the default row takes the default stages
    by_f = {r["name"]: r for r in full}
    assert all(by_f[n].get("lift", "blazepose") == "blazepose" for n in ("vidpose-full-1p-decode", "vidpose-heavy-1p-decode"))
    assert by_f["vidpose-full-1p-decode-refine-default"]["lift"] == "auto"
    # the quick run does less work per row
    by_q = {r["name"]: r for r in quick}
    assert all((by_q[r["name"]]["frames"] or 10**9) <= (r["frames"] or 10**9) for r in full)


def test_repeats_are_interleaved_with_median_and_spread():
    log: list = []
    res = pipeline.run(quick=False, measure=fake_measure(log), have_mediapipe=True)
    specs = [s["name"] for s in pipeline.plan(False)]
    assert res["repeats"] == 3
    # every row once per repeat, alternate repeats in reverse order
    assert log == specs + specs[::-1] + specs
    row = next(r for r in res["rows"] if r["name"] == "vidpose-full-1p-decode")
    assert row["repeats"] == 3
    assert row["fps"] == pytest.approx(40.0) and row["fps_min"] == pytest.approx(35.0)
    assert row["fps_max"] == pytest.approx(50.0)
    assert row["peak_rss_mb"] == 302.0  # the largest of the repeats
    s = res["summary"]["vidpose_full_vs_mediapipe_full_decode"]
    assert s["median"] == pytest.approx(2.0) and len(s["per_repeat"]) == 3
    assert res["summary"]["estimator_vs_models"]["models_ms"] == pytest.approx(5.0 / 5 + 6.0)
    assert "cost_per_extra_person_ms" in res["summary"]
    assert "peak_rss_growth_mb" in res["summary"]
    assert res["mediapipe"]["version"] == "0.10.14"
    assert res["cpu_count"] and "num_threads=" in res["threads"]["vidpose"]
    # the first pipeline issue's names: the headline pair under its row names and ratio key
    names = [r["name"] for r in res["rows"]]
    assert len(names) == len(set(names))
    by = {r["name"]: r for r in res["rows"]}
    assert by["vidpose-2d"] == {"name": "vidpose-2d", "same_as": "vidpose-full-1p-decode", "fps": row["fps"],
                                "peak_rss_mb": row["peak_rss_mb"]}
    assert by["mediapipe-legacy"]["fps"] == by["mediapipe-full-decode"]["fps"]
    assert res["ratio_vs_mediapipe"] == s["median"]
    json.dumps(res)  # what --json writes


def test_quick_is_one_repeat_of_the_same_rows():
    log: list = []
    res = pipeline.run(quick=True, measure=fake_measure(log), have_mediapipe=True)
    assert res["repeats"] == 1 and log == [s["name"] for s in pipeline.plan(True)]


def test_a_mediapipe_failure_fails_the_bench():
    with pytest.raises(RuntimeError, match="mediapipe-full-decode.*boom"):
        pipeline.run(quick=True, measure=fake_measure([], fail="mediapipe-full-decode"), have_mediapipe=True)


def test_without_mediapipe_its_rows_say_not_installed():
    log: list = []
    res = pipeline.run(quick=True, measure=fake_measure(log), have_mediapipe=False)
    assert not [n for n in log if n.startswith("mediapipe")]
    mp_rows = [r for r in res["rows"] if r["name"].startswith("mediapipe")]
    assert mp_rows and all(r["status"].startswith("not installed") for r in mp_rows)
    assert "vidpose_full_vs_mediapipe_full_decode" not in res["summary"]
    assert res["ratio_vs_mediapipe"] is None and "mediapipe-legacy" not in [r["name"] for r in res["rows"]]
    assert res["summary"]["run_overlay_vs_no_overlay"]["median"] == pytest.approx(1.0)


def test_the_mediapipe_worker_imports_nothing_from_vidpose():
    src = (pipeline.Path(pipeline.__file__).with_name("mediapipe_worker.py")).read_text()
    assert "vidpose" not in "".join(line for line in src.splitlines() if line.startswith(("import", "from")))


@pytest.mark.slow
@pytest.mark.parametrize("spec", [
    {"kind": "stream", "model": "full", "people": 1, "frames": 12},
    {"kind": "frames", "model": "full", "people": 1, "frames": 12},
    {"kind": "crowd", "model": "full", "people": 2, "frames": 6},
    {"kind": "run", "overlay": True, "frames": 12},
])
def test_the_vidpose_worker_measures_a_few_frames(spec):
    p = subprocess.run([sys.executable, "-m", "vidpose.bench.pipeline", "--worker", json.dumps(spec)],
                       capture_output=True, text=True, timeout=300)
    line = next(x for x in p.stdout.splitlines() if x.startswith("BENCHROW "))
    row = json.loads(line[len("BENCHROW "):])
    assert "error" not in row, row
    assert row["frames"] == spec["frames"] and row["seconds"] > 0 and row["load_seconds"] > 0
    if spec["kind"] == "crowd":
        assert row["people_per_frame"] == 2.0  # exactly the composited people, every frame
    if spec["kind"] in ("stream", "frames", "crowd"):
        assert row["landmark_calls"] >= row["frames"] * (row["people_per_frame"] or 0)
    if spec["kind"] == "run":
        assert "overlay" in row["stage_ms"]


@pytest.mark.slow
def test_the_mediapipe_worker_when_mediapipe_is_installed():
    python = pipeline._reference_python()
    if not pipeline.mediapipe_installed(python):
        pytest.skip("mediapipe (the reference extra) is not installed")
    from vidpose import store

    args = {"kind": "decode", "clip": str(store.path("sample-sports2d", quiet=True)), "complexity": 1,
            "frames": 8, "warmup": 2}
    row = pipeline._subprocess_row([python, str(pipeline.Path(pipeline.__file__).with_name("mediapipe_worker.py")),
                                    json.dumps(args)])
    assert "error" not in row, row
    assert row["frames"] == 8 and row["frames_with_person"] >= 1
