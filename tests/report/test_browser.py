"""The HTML reports in a real headless browser: no console errors, no failed or external requests.

Every kind of page pmlmrs writes (the cohort report ``group/report.html``, the patient timeline
``sub-*/sub-*_timeline.html``, the per-exam report and the per-spectrum fit ``report.html``) is
rendered in headless Chromium; the test listens on the DevTools protocol for console errors and
warnings, uncaught exceptions, browser log entries and failed network requests, and checks that
every plotly figure was drawn and that the page does not overflow sideways.

Skipped cleanly when no Chromium/Chrome binary is on PATH (``.ci/chromium`` installs one on
Debian/Ubuntu). The DevTools client below uses only the standard library (a minimal WebSocket
client), so no extra test dependency is needed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import struct
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")


def find_browser() -> str | None:
    """The first Chromium-family browser on PATH (``$PMLMRS_CHROMIUM`` wins when set)."""
    env = os.environ.get("PMLMRS_CHROMIUM")
    if env and shutil.which(env):
        return shutil.which(env)
    for name in _BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


# ------------------------------------------------------------------------------------------------
# A minimal DevTools-protocol client (WebSocket over a plain socket, RFC 6455 client side).


class _WebSocket:
    def __init__(self, url: str, timeout: float = 30.0) -> None:
        assert url.startswith("ws://"), url
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.partition(":")
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        req = (f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(req.encode("ascii"))
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        status, _, rest = head.partition(b"\r\n\r\n")
        if b" 101 " not in status.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake failed: {status[:200]!r}")
        self._buf = rest

    def _recv_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self._buf)))
            if not chunk:
                raise ConnectionError("DevTools connection closed")
            self._buf += chunk
        out, self._buf = self._buf[:n], self._buf[n:]
        return out

    def send(self, text: str) -> None:
        payload = text.encode("utf-8")
        n = len(payload)
        header = bytes([0x81])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv(self) -> str:
        parts: list[bytes] = []
        while True:
            b0, b1 = self._recv_exact(2)
            fin, opcode = b0 & 0x80, b0 & 0x0F
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            mask = self._recv_exact(4) if b1 & 0x80 else None
            data = self._recv_exact(n)
            if mask:
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode == 0x9:  # ping -> pong
                self.sock.sendall(bytes([0x8A, 0x80 | len(data)]) + b"\0\0\0\0" + data)
                continue
            if opcode in (0x1, 0x2, 0x0):
                parts.append(data)
                if fin:
                    return b"".join(parts).decode("utf-8")

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Browser:
    """Headless Chromium driven over the DevTools protocol (one page target)."""

    FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--disable-default-apps", "--mute-audio", "--hide-scrollbars",
             "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0")

    def __init__(self, binary: str, *, width: int = 1400, height: int = 1000, timeout: float = 30.0) -> None:
        self.profile = tempfile.mkdtemp(prefix="pmlmrs-chromium-")
        self.proc = subprocess.Popen(
            [binary, *self.FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.width, self.height = width, height
        self.ws: _WebSocket | None = None
        self._id = 0
        self.events: list[dict[str, Any]] = []
        try:
            port = self._port(timeout)
            targets = self._targets(port, timeout)
            page = next(t for t in targets if t.get("type") == "page")
            self.ws = _WebSocket(page["webSocketDebuggerUrl"], timeout=timeout)
            for domain in ("Runtime", "Log", "Network", "Page"):
                self.call(f"{domain}.enable")
            self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1,
                      mobile=False)
        except BaseException:
            self.close()
            raise

    def _port(self, timeout: float) -> int:
        f = Path(self.profile) / "DevToolsActivePort"
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"browser exited with status {self.proc.returncode}")
            if f.exists():
                lines = f.read_text().split()
                if lines:
                    return int(lines[0])
            time.sleep(0.05)
        raise TimeoutError("browser did not open its DevTools port")

    @staticmethod
    def _targets(port: int, timeout: float) -> list[dict[str, Any]]:
        t0 = time.monotonic()
        while True:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=timeout) as r:  # noqa: S310
                targets = json.loads(r.read())
            if any(t.get("type") == "page" for t in targets) or time.monotonic() - t0 > timeout:
                return targets
            time.sleep(0.05)

    def call(self, method: str, timeout: float = 60.0, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its reply (events meanwhile are stored in ``events``)."""
        assert self.ws is not None
        self._id += 1
        my_id = self._id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 60.0) -> dict[str, Any]:
        assert self.ws is not None
        for e in self.events:
            if e["method"] == method:
                return e
        self.ws.sock.settimeout(timeout)
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(method)

    def drain(self, seconds: float) -> None:
        """Collect events for *seconds* (lets late scripts and resizes run)."""
        assert self.ws is not None
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self.ws.sock.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except (TimeoutError, socket.timeout):
                break
            if "method" in msg:
                self.events.append(msg)
        self.ws.sock.settimeout(60.0)

    def evaluate(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"evaluate failed: {r['exceptionDetails']}")
        return r["result"].get("value")

    def load(self, url: str, settle: float = 1.0) -> PageLoad:
        """Navigate, wait for the load event and *settle* seconds more; report what happened."""
        self.events.clear()
        r = self.call("Page.navigate", url=url)
        if r.get("errorText"):
            raise RuntimeError(f"navigation to {url} failed: {r['errorText']}")
        self.wait_event("Page.loadEventFired")
        self.drain(settle)
        return PageLoad(url, list(self.events), self)

    def screenshot(self, path: str | os.PathLike, *, full_page: bool = True, max_height: int = 16000) -> Path:
        """PNG of the page (the whole scroll height, up to *max_height* px)."""
        height = self.height
        if full_page:
            height = int(min(max_height, self.evaluate("document.documentElement.scrollHeight")))
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=height, deviceScaleFactor=1,
                      mobile=False)
            self.drain(0.5)
        data = self.call("Page.captureScreenshot", format="png", fromSurface=True)["data"]
        if full_page:
            self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                      deviceScaleFactor=1, mobile=False)
        p = Path(path)
        p.write_bytes(base64.b64decode(data))
        return p

    def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.send(json.dumps({"id": 10**6, "method": "Browser.close", "params": {}}))
            self.ws.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# Page checks run in the browser after load: plotly figures drawn, no sideways overflow,
# nothing obviously empty.
_PAGE_CHECKS = r"""
(() => {
  const plots = Array.from(document.querySelectorAll('.js-plotly-plot'));
  const undrawn = Array.from(document.querySelectorAll('.plotly-graph-div'))
      .filter(d => !d.querySelector('.main-svg')).map(d => d.id);
  const tiny = plots.filter(d => d.getBoundingClientRect().width < 200 || d.getBoundingClientRect().height < 150)
      .map(d => d.id);
  const doc = document.documentElement;
  const wide = [];
  const scrolls = el => {  // inside a box that scrolls sideways by itself (wide tables on narrow screens)
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll') return true;
    }
    return false;
  };
  for (const el of document.querySelectorAll('main table, main .figure, main .js-plotly-plot, main pre, main img')) {
    if (scrolls(el)) continue;
    const r = el.getBoundingClientRect();
    if (r.right > doc.clientWidth + 1) wide.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
        ' ' + Math.round(r.right) + 'px');
  }
  const svgs = Array.from(document.querySelectorAll('.figure svg, img.figure'))
      .filter(s => s.getBoundingClientRect().height < 50).length;
  const emptyTables = Array.from(document.querySelectorAll('main table'))
      .filter(t => t.querySelectorAll('tbody tr').length === 0).length;
  return {n_plots: plots.length, undrawn: undrawn, tiny: tiny, overflow_x: doc.scrollWidth > doc.clientWidth + 1,
          too_wide: wide.slice(0, 10), collapsed_figures: svgs, empty_tables: emptyTables,
          n_static_figures: document.querySelectorAll('.figure svg, img.figure').length,
          text: document.body.innerText};
})()
"""


class PageLoad:
    """Console messages, exceptions, log entries and requests of one page load."""

    def __init__(self, url: str, events: list[dict[str, Any]], browser: Browser) -> None:
        self.url = url
        self.events = events
        self.checks = browser.evaluate(_PAGE_CHECKS)

    def console(self, levels: tuple[str, ...] = ("error", "warning", "assert")) -> list[str]:
        out = []
        for e in self.events:
            m, p = e["method"], e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in levels:
                args = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                out.append(f"console.{p['type']}: {args[:300]}")
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                desc = (d.get("exception") or {}).get("description") or d.get("text", "")
                out.append(f"exception: {desc[:300]}")
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") in levels:
                en = p["entry"]
                out.append(f"log.{en['level']} ({en.get('source')}): {en.get('text', '')[:300]} {en.get('url', '')}")
        return out

    def failed_requests(self) -> list[str]:
        out = []
        for e in self.events:
            if e["method"] == "Network.loadingFailed":
                p = e["params"]
                if not p.get("canceled"):
                    out.append(f"{p.get('errorText')} ({p.get('type')})")
            elif e["method"] == "Network.responseReceived":
                r = e["params"]["response"]
                if int(r.get("status", 0)) >= 400:
                    out.append(f"HTTP {r['status']}: {r['url'][:200]}")
        return out

    def external_requests(self) -> list[str]:
        """Requests to anything but the page itself, data: and blob: URLs (pages must be self-contained)."""
        out = []
        for e in self.events:
            if e["method"] == "Network.requestWillBeSent":
                url = e["params"]["request"]["url"]
                if url != self.url and not url.startswith(("data:", "blob:", "about:")):
                    out.append(url[:200])
        return out

    def problems(self) -> list[str]:
        c = self.checks
        out = self.console() + self.failed_requests() + [f"external request: {u}" for u in self.external_requests()]
        if c["undrawn"]:
            out.append(f"plotly figures not drawn: {c['undrawn']}")
        if c["tiny"]:
            out.append(f"plotly figures collapsed: {c['tiny']}")
        if c["overflow_x"] or c["too_wide"]:
            out.append(f"page overflows sideways: {c['too_wide']}")
        if c["collapsed_figures"]:
            out.append(f"{c['collapsed_figures']} static figure(s) collapsed")
        if c["empty_tables"]:
            out.append(f"{c['empty_tables']} empty table(s)")
        return out


# ------------------------------------------------------------------------------------------------
# Fixtures: one small cohort run through the study pipeline, one single-spectrum fit report.


@pytest.fixture(scope="module")
def browser_binary() -> str:
    b = find_browser()
    if b is None:
        pytest.skip("no Chromium/Chrome binary on PATH (install with .ci/chromium); browser checks skipped")
    return b


@pytest.fixture(scope="module")
def browser(browser_binary: str):
    try:
        br = Browser(browser_binary)
    except (OSError, RuntimeError, TimeoutError, ConnectionError) as exc:
        pytest.skip(f"headless {browser_binary} could not be driven: {exc}")
    with br:
        yield br


@pytest.fixture(scope="module")
def small_study(tmp_path_factory: pytest.TempPathFactory, browser_binary: str) -> Path:
    """A 5-patient demo cohort (no raw multi-transient files: faster) through the whole pipeline (exam reports, timelines, cohort report)."""
    from pmlmrs.demo import make_demo_cohort
    from pmlmrs.study.pipeline import run_study

    root = tmp_path_factory.mktemp("browser_study")
    make_demo_cohort(root / "bids", n_patients=5, seed=7, raw_every=0)
    run_study(root / "bids", root / "derivatives", level="all", workers=1)
    return root / "derivatives"


def _assert_clean(load: PageLoad) -> None:
    problems = load.problems()
    assert not problems, f"{load.url}:\n  " + "\n  ".join(problems)


def _assert_no_identifiers(text: str) -> None:
    low = text.lower()
    for word in ("date of birth", "birth date", "birthdate", "patient name", "patientname"):
        assert word not in low, f"page shows '{word}'"


@pytest.mark.slow
def test_cohort_report_in_browser(browser: Browser, small_study: Path) -> None:
    load = browser.load((small_study / "group" / "report.html").resolve().as_uri(), settle=1.5)
    _assert_clean(load)
    text = load.checks["text"]
    assert load.checks["n_plots"] >= 3
    assert "p = " in text or "not tested" in text  # p annotations on the stage box plots
    assert "decision support" in text.lower() and "not diagnosis" in text.lower()
    assert "MRSinMRS" in text
    _assert_no_identifiers(text)


@pytest.mark.slow
def test_timeline_and_exam_reports_in_browser(browser: Browser, small_study: Path) -> None:
    timelines = sorted(small_study.glob("sub-*/sub-*_timeline.html"))
    exams = sorted(small_study.glob("sub-*/ses-*/*_report.html"))
    assert timelines and exams
    for page in timelines[:2]:
        load = browser.load(page.resolve().as_uri())
        _assert_clean(load)
        assert load.checks["n_plots"] == 1
        text = load.checks["text"]
        assert "PML onset" in text and "not diagnosis" in text.lower()
        # every panel on one numeric axis (days since PML onset), with the stage bands drawn (regressions: a
        # plotly div id equal to a section id drew into the section; mixed axis types turned bands into NaN paths)
        layout = browser.evaluate(
            "(() => { const d = document.querySelector('.js-plotly-plot'); const l = d._fullLayout;"
            " return {types: Object.keys(l).filter(k => /^xaxis\\d*$/.test(k)).map(k => l[k].type),"
            " bands: d.querySelectorAll('.shapelayer path').length}; })()")
        assert layout["types"] and set(layout["types"]) == {"linear"}, layout
        assert "days since PML onset" in text
        assert layout["bands"] > 0, layout
        _assert_no_identifiers(text)
        # the exam links resolve
        hrefs = browser.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)")
        for h in hrefs:
            if h.startswith("file:"):
                assert Path(urllib.request.url2pathname(h[len("file://"):].split("#")[0])).exists(), h
    for page in exams[:2]:
        load = browser.load(page.resolve().as_uri())
        _assert_clean(load)
        text = load.checks["text"]
        assert load.checks["n_static_figures"] >= 1
        assert "not diagnosis" in text.lower() and "Metabolites" in text
        _assert_no_identifiers(text)


def test_fit_report_in_browser(browser: Browser, tmp_path: Path) -> None:
    import numpy as np

    from pmlmrs.basis import Basis
    from pmlmrs.core import Header, Spectrum
    from pmlmrs.fit import FitOptions, fit_spectrum
    from pmlmrs.report.fit_report import write_fit_report

    rng = np.random.default_rng(3)
    n, dwell, mhz = 1024, 1 / 2000.0, 123.2
    t = np.arange(n) * dwell
    names, shifts = ("NAA", "Cr", "Cho"), (2.01, 3.03, 3.21)
    fids = np.array([np.exp(2j * np.pi * (s - 4.65) * mhz * t) * np.exp(-t / 0.2) for s in shifts])
    basis = Basis(names=names, fids=fids, dwell_time=dwell, spectrometer_frequency=mhz, echo_time=0.03,
                  ppm_reference=4.65, nucleus="1H", source="synthetic", meta={})
    data = (fids.T @ np.array([1.5, 1.0, 0.3])) * np.exp(-t / 0.1)
    data = data + 0.01 * (rng.standard_normal(n) + 1j * rng.standard_normal(n))
    spec = Spectrum(data=data, header=Header(spectrometer_frequency=mhz, dwell_time=dwell, echo_time=0.03),
                    dims=(), source="synthetic.nii.gz")
    result = fit_spectrum(spec, basis, FitOptions())
    page = write_fit_report(result, tmp_path / "report.html", name="synthetic", interactive=True)
    load = browser.load(page.resolve().as_uri())
    _assert_clean(load)
    assert load.checks["n_static_figures"] == 1 and load.checks["n_plots"] == 1
    assert "Metabolites" in load.checks["text"]
