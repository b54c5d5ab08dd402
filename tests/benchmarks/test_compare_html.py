"""The HTML report of ``benchmarks.compare --html``: content checks, then a real headless Chromium.

The browser test drives Debian's ``chromium`` through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: JSON messages on file descriptors 3 and 4, no extra Python package). It
skips, naming the reason, where no Chromium is installed (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import fcntl
import json
import math
import os
import queue
import re
import shutil
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from benchmarks.compare import main
from benchmarks.html_report import ReportPair, per_image_chart, reduce_for_display, render_report
from blurkit.io import write_image
from blurkit.synth import make_dataset

DEBLURRERS = ["identity", "wiener", "unsharp"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A compare run with --html on three small pairs, one without its kernel (wiener skips it)."""
    tmp = tmp_path_factory.mktemp("html")
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(12, 16), (10, 10), (8, 14)]):
        img = np.kron(rng.random((h, w, 3)), np.ones((6, 6, 1))).astype(np.float32)
        write_image(tmp / "src" / f"{i}.png", img)
    pairs = tmp / "pairs"
    make_dataset(tmp / "src", pairs, seed=1, preset="deblurgan", overrides={"length": 9.0}, progress=False)
    (pairs / "kernels" / "2.npy").unlink()
    args = ["--pairs", str(pairs), "--out", str(tmp / "out"), "--html", "--html-side", "64"]
    for d in DEBLURRERS:
        args += ["--deblurrer", d]
    assert main(args) == 0
    return tmp / "out" / "report.html"


def _data_uris(page: str) -> list[str]:
    return re.findall(r'src="(data:[^"]*)"', page)


def test_page_is_self_contained(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # every src/href is inline; nothing names a remote or local file
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith("data:") for r in refs)
    assert "http://" not in page and "https://" not in page


def test_images_decode_and_match_the_pairs(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    uris = _data_uris(page)
    # 3 pairs × (blurred + sharp) + outputs: identity and unsharp on 3, wiener on 2
    assert len(uris) == 3 * 2 + 3 + 3 + 2
    shapes = []
    for u in uris:
        assert u.startswith("data:image/jpeg;base64,")  # the default format
        img = cv2.imdecode(np.frombuffer(base64.b64decode(u.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)
        assert img is not None
        shapes.append(img.shape)
    assert max(max(s[:2]) for s in shapes) <= 64  # reduced to --html-side
    assert (48, 64, 3) in shapes and (60, 60, 3) in shapes  # 72×96 reduced to 64 px; 60×60 kept


def test_table_and_chart_hold_the_scores(report: Path) -> None:
    page = report.read_text(encoding="utf-8")
    summary = json.loads((report.parent / "summary.json").read_text())["summary"]
    for s in summary:
        assert f"{s['psnr']:.2f}" in page
    best = max(summary, key=lambda s: s["psnr"])
    assert f"<td class=best>{best['psnr']:.2f}</td>" in page
    # one point per (pair, deblurrer) that ran
    assert page.count("<circle") == 8
    assert page.count('<figure class="cmp"') == 3
    # the pair without a kernel offers no wiener output
    fig2 = page[page.index('data-pair="2"') :]
    fig2 = fig2[: fig2.index("</figure>")]
    assert 'value="wiener"' not in fig2 and 'value="identity"' in fig2


def test_html_needs_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--pairs", str(tmp_path), "--html"]) == 2
    assert "--html needs --out" in capsys.readouterr().err


def test_chart_handles_infinite_and_missing_scores() -> None:
    rows = [
        {"pair": "a", "deblurrer": "x", "psnr": math.inf},
        {"pair": "a", "deblurrer": "y", "psnr": 20.0},
        {"pair": "b", "deblurrer": "y", "psnr": 25.0},
        {"pair": "b", "deblurrer": "x", "psnr": math.nan},
    ]
    svg = per_image_chart(rows, ["x", "y"])
    assert svg.count("<circle") == 3 and 'fill="none"' in svg
    assert "No scores" in per_image_chart([], ["x"])


def test_png_images_are_lossless() -> None:
    img = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    pair = ReportPair("a", img, img, {"m": img[::-1].copy()})
    summary = [{"deblurrer": "m", "pairs": 1, "psnr": 10.0, "ssim_skimage": 0.1, "seconds_per_image": 0.1}]
    page = render_report(summary, [{"pair": "a", "deblurrer": "m", "psnr": 10.0}], [pair], image_format="png")
    decoded = [
        cv2.imdecode(np.frombuffer(base64.b64decode(u.split(",", 1)[1]), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
        for u in _data_uris(page)
    ]
    assert all(u.startswith("data:image/png;base64,") for u in _data_uris(page))
    assert len(decoded) == 3
    assert sum(np.array_equal(d, img) for d in decoded) == 2 and any(np.array_equal(d, img[::-1]) for d in decoded)
    with pytest.raises(ValueError, match="image_format"):
        render_report(summary, [], [pair], image_format="gif")


def test_render_escapes_names() -> None:
    img = np.zeros((8, 8, 3), np.uint8)
    pair = ReportPair("<b>&x", img, img, {"m<1>": img})
    summary = [{"deblurrer": "m<1>", "pairs": 1, "psnr": 30.0, "ssim_skimage": 0.9, "seconds_per_image": 0.1}]
    rows = [{"pair": "<b>&x", "deblurrer": "m<1>", "psnr": 30.0}]
    page = render_report(summary, rows, [pair], title="t<script>")
    assert "<b>&x" not in page and "&lt;b&gt;&amp;x" in page
    assert "t<script>" not in page
    assert reduce_for_display(np.zeros((10, 300, 3), np.uint8), 100).shape == (3, 100, 3)


# --------------------------------------------------------------------------- headless Chromium


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _above_nine(fd: int) -> int:
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class DevTools:
    """A minimal DevTools-protocol client over Chromium's ``--remote-debugging-pipe``."""

    def __init__(self, exe: str, profile: str, timeout: float = 60.0) -> None:
        self.timeout = timeout
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the child's ends move above 9, so that placing them on 3 and 4 cannot overwrite one another
        to_browser_r, from_browser_w = _above_nine(to_browser_r), _above_nine(from_browser_w)
        flags = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "--window-size=1200,1600",
            "about:blank",
        ]
        # the browser reads commands on fd 3 and writes replies on fd 4 (set up by posix_spawn, no shell)
        devnull = os.devnull
        self.pid = os.posix_spawn(
            exe,
            [exe, *flags],
            dict(os.environ),
            file_actions=[
                (os.POSIX_SPAWN_OPEN, 0, devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_OPEN, 1, devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_OPEN, 2, devnull, os.O_WRONLY, 0),
                (os.POSIX_SPAWN_DUP2, to_browser_r, 3),
                (os.POSIX_SPAWN_DUP2, from_browser_w, 4),
            ],
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._messages: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        buf = b""
        while True:
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                self._messages.put(None)
                return
            buf += chunk
            *done, buf = buf.split(b"\0")
            for m in done:
                self._messages.put(json.loads(m))

    def _next(self, deadline: float) -> dict[str, Any]:
        try:
            msg = self._messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError("Chromium did not answer in time") from None
        if msg is None:
            raise RuntimeError("Chromium closed the DevTools pipe")
        return msg

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._next(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_event(self, method: str, session: str | None = None, after: int = 0) -> dict[str, Any]:
        """The first ``method`` event of ``session`` among the events from index ``after`` on."""
        for e in self.events[after:]:
            if e.get("method") == method and e.get("sessionId") == session:
                return e
        deadline = time.monotonic() + self.timeout
        while True:
            e = self._next(deadline)
            self.events.append(e)
            if e.get("method") == method and e.get("sessionId") == session:
                return e

    def evaluate(self, session: str, expression: str) -> Any:
        r = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session
        )
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        deadline = time.monotonic() + 20
        while os.waitpid(self.pid, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
                break
            time.sleep(0.1)
        os.close(self._to_browser)


@pytest.fixture
def browser() -> Any:
    exe = _chromium()
    if exe is None:
        pytest.skip("headless Chromium is not installed (Debian: apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="blurkit-chromium-") as profile:
        dt = DevTools(exe, profile)
        try:
            yield dt
        finally:
            dt.close()


def _pointer(dt: DevTools, session: str, kind: str, x: float, y: float) -> None:
    dt.send(
        "Input.dispatchMouseEvent",
        {"type": kind, "x": x, "y": y, "button": "left", "buttons": 0 if kind == "mouseReleased" else 1, "clickCount": 1},
        session,
    )


def test_report_in_headless_chromium(report: Path, browser: DevTools) -> None:
    dt = browser
    target = dt.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = dt.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for domain in ("Runtime", "Log", "Page", "Network"):
        dt.send(f"{domain}.enable", {}, session)
    url = report.resolve().as_uri()
    start = len(dt.events)
    dt.send("Page.navigate", {"url": url}, session)
    dt.wait_event("Page.loadEventFired", session, after=start)
    deadline = time.monotonic() + 30
    while True:  # a late load event of about:blank must not pass for the report's
        try:
            if dt.evaluate(session, "[location.href, document.readyState]") == [url, "complete"]:
                break
        except RuntimeError:  # the context went away mid-navigation
            pass
        assert time.monotonic() < deadline, "the report did not finish loading"
        time.sleep(0.05)

    # every image decodes (hidden outputs too)
    sizes = dt.evaluate(
        session,
        "Promise.all([...document.images].map(i => i.decode().then("
        "() => [i.naturalWidth, i.naturalHeight], () => 'failed: ' + i.alt)))",
    )
    assert len(sizes) == 14
    assert all(isinstance(s, list) and s[0] > 0 and s[1] > 0 for s in sizes), sizes

    # the chart and table rendered
    assert dt.evaluate(session, "document.querySelectorAll('svg.chart circle').length") == 8
    assert dt.evaluate(session, "document.querySelectorAll('table.scores tbody tr').length") == 3

    # dragging across the first image moves the slider, the handle and the clip of the blurred layer
    box = dt.evaluate(
        session,
        "(() => { const r = document.querySelector('#pair-0 .stage').getBoundingClientRect();"
        " return [r.left, r.top, r.width, r.height]; })()",
    )
    left, top, width, height = box
    assert width > 100 and height > 50
    state = "(() => { const f = document.querySelector('#pair-0'); return [Number(f.dataset.position), \
        Number(f.querySelector('input.slider').value), f.querySelector('.handle').style.left, \
        getComputedStyle(f.querySelector('.before')).clipPath]; })()"
    before = dt.evaluate(session, state)
    assert before[0] == 50
    y = top + height / 2
    _pointer(dt, session, "mousePressed", left + 0.3 * width, y)
    _pointer(dt, session, "mouseMoved", left + 0.6 * width, y)
    _pointer(dt, session, "mouseMoved", left + 0.8 * width, y)
    _pointer(dt, session, "mouseReleased", left + 0.8 * width, y)
    after = dt.evaluate(session, state)
    assert after[0] == pytest.approx(80, abs=1.5) and after[1] == pytest.approx(80, abs=1.5)
    assert after[2] != before[2] and after[3] != before[3]
    assert re.fullmatch(r"inset\(0px 2\d(\.\d+)?% 0px 0px\)", after[3]), after[3]

    # the keyboard moves it too (the range input)
    dt.evaluate(session, "document.querySelector('#pair-0 input.slider').focus()")
    for kind in ("rawKeyDown", "keyUp"):
        dt.send(
            "Input.dispatchKeyEvent",
            {"type": kind, "key": "ArrowLeft", "code": "ArrowLeft", "windowsVirtualKeyCode": 37},
            session,
        )
    assert dt.evaluate(session, state)[0] < after[0]

    # choosing another deblurrer shows its output
    shown = dt.evaluate(
        session,
        "(() => { const f = document.querySelector('#pair-0');"
        " f.querySelector('input[value=unsharp]').click();"
        " return [...f.querySelectorAll('img.after')].filter(i => i.offsetParent !== null)"
        ".map(i => i.dataset.name); })()",
    )
    assert shown == ["unsharp"]

    # no console errors, no exceptions, nothing fetched but the page itself
    errors = [
        e["params"]
        for e in dt.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"].get("type") in ("error", "assert"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"].get("level") == "error")
    ]
    assert errors == []
    requested = [
        e["params"]["request"]["url"] for e in dt.events if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested and all(u == url or u.startswith("data:") for u in requested), requested
