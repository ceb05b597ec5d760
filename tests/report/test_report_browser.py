"""report.html in a real headless Chromium (Debian's ``chromium`` package, driven by playwright).

Needs ``playwright`` (the ``dev`` extra) and a Chromium binary: ``/usr/bin/chromium``
(``apt-get install chromium``), or any path in ``VIDPOSE_CHROMIUM``. Skipped, saying
which is missing, without them; ``.ci/run`` installs both so it runs in CI.

With ``VIDPOSE_REPORT_SCREENSHOT=PATH`` the page's screenshot is also written to
PATH (that is how docs/report.png is made).
"""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
import pytest

from vidpose.report import write_report


def _chromium() -> str | None:
    for c in (os.environ.get("VIDPOSE_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if c and (shutil.which(c) or os.path.isfile(c)):
            return shutil.which(c) or c
    return None


@pytest.fixture(scope="module")
def browser():
    pw = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    exe = _chromium()
    if exe is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set VIDPOSE_CHROMIUM to a Chromium binary)")
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def _canvas(page) -> str:
    return page.evaluate("document.getElementById('skeleton3d').toDataURL()")


def test_report_renders_in_chromium(browser, out_folder, tmp_path):
    import av

    # a tiny overlay.mp4 beside the page, so the <video> element has something to load
    with av.open(str(out_folder / "overlay.mp4"), "w") as c:
        s = c.add_stream("libx264", rate=30)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(5):
            for pkt in s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")):
                c.mux(pkt)
        for pkt in s.encode():
            c.mux(pkt)
    page_path = write_report(out_folder)
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.goto(page_path.as_uri())
    page.wait_for_selector("body[data-ready='1']", timeout=10_000)

    # plots: one section per track, each with its three charts and drawn lines
    assert page.locator(".track").count() == 2
    assert page.locator(".track[data-track='1'] .chart").count() == 3
    n_paths = page.locator("svg path.series").count()
    assert n_paths >= 2 * (2 + 6 + 1)
    lengths = page.evaluate("[...document.querySelectorAll('svg path.series')].map(p => p.getAttribute('d').length)")
    assert sum(1 for n in lengths if n > 100) >= 10  # real polylines, not empty paths
    assert page.locator("video[src='overlay.mp4']").count() == 1
    assert "flow-offline" in page.locator("#run").inner_text()

    # the 3D view draws, and the slider moves it
    assert page.locator("#skeleton3d").count() == 1
    before = _canvas(page)
    frame0 = page.get_attribute("#skeleton3d", "data-frame")
    page.locator("#time-slider").fill("30")
    page.wait_for_function("document.getElementById('skeleton3d').getAttribute('data-frame') === '30'")
    after = _canvas(page)
    assert frame0 == "0" and after != before
    assert "t = 1 s (frame 30)" in page.locator("#time-label").inner_text()
    page.locator("#yaw-slider").fill("-90")
    assert _canvas(page) != after  # turning changes the view too

    # screenshot of the canvas is not blank; the page's is not either
    png = page.locator("#skeleton3d").screenshot()
    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert (img < 128).mean() > 0.002 and img.std() > 5
    page.locator("#yaw-slider").fill("30")
    page.locator("#time-slider").fill("45")
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    full = cv2.imread(str(shot))
    assert full.std() > 10
    if os.environ.get("VIDPOSE_REPORT_SCREENSHOT"):  # the docs' picture: the top of the page to the 3D view
        bottom = page.evaluate("(() => { const r = document.getElementById('view3d-section')"
                               ".getBoundingClientRect(); return r.bottom + window.scrollY; })()")
        top = full[: int(bottom) + 10]
        scale = 640 / top.shape[1]
        small = cv2.resize(top, (640, round(top.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", small, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        assert ok
        with open(os.environ["VIDPOSE_REPORT_SCREENSHOT"], "wb") as f:
            f.write(buf.tobytes())
    page.close()
    assert not problems, problems
