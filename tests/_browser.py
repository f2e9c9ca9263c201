"""A headless Chromium driven over the DevTools protocol, for tests of the HTML report.

The protocol runs over a pair of pipes (``--remote-debugging-pipe``: commands
on the browser's fd 3, replies and events on its fd 4, each message JSON ended
by a NUL byte), so no port is opened and no websocket client is needed.

``Browser().open(path)`` loads a file and returns a :class:`Page` that has
recorded every console message, uncaught exception and network request of the
load; ``page.screenshot()`` returns PNG bytes.  Tests skip when no Chromium is
installed (``CHROMIUM`` names another binary).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

#: Flags for a quiet, offline, root-compatible headless browser.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio",
         "--hide-scrollbars", "--remote-debugging-pipe"]


def chromium_path() -> str | None:
    """The Chromium binary: ``$CHROMIUM``, else ``chromium``/``chromium-browser`` on PATH."""
    named = os.environ.get("CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(RuntimeError):
    """The browser answered a command with an error, or did not answer in time."""


class Browser:
    """One headless Chromium process; use as a context manager."""

    def __init__(self, binary: str | None = None, timeout: float = 60.0):
        binary = binary or chromium_path()
        if binary is None:
            raise FileNotFoundError("no Chromium found (install chromium or set CHROMIUM)")
        self.timeout = timeout
        self._profile = tempfile.mkdtemp(prefix="fastmlops-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def child_fds() -> None:  # runs in the child, before exec
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self._proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            pass_fds=(3, 4), preexec_fn=child_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._next_id = 0
        self._replies: dict[int, dict] = {}
        self._events: queue.Queue = queue.Queue()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # -------------------------------------------------------------- protocol
    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._from_browser, 1 << 20)
            except OSError:
                chunk = b""
            if not chunk:
                with self._cond:
                    self._replies[-1] = {"error": {"message": "browser exited"}}
                    self._cond.notify_all()
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                message = json.loads(raw)
                if "id" in message:
                    with self._cond:
                        self._replies[message["id"]] = message
                        self._cond.notify_all()
                else:
                    self._events.put(message)

    def send(self, method: str, params: dict | None = None,
             session: str | None = None) -> dict:
        """Send one command and wait for its result."""
        self._next_id += 1
        ident = self._next_id
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while ident not in self._replies and -1 not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrowserError(f"{method}: no answer in {self.timeout} s")
                self._cond.wait(left)
            reply = self._replies.pop(ident, None) or self._replies[-1]
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    def events(self) -> list[dict]:
        """The events received since the last call."""
        out = []
        while True:
            try:
                out.append(self._events.get_nowait())
            except queue.Empty:
                return out

    # ------------------------------------------------------------------ pages
    def open(self, path: str | os.PathLike, width: int = 1280, height: int = 900,
             ready: str | None = None) -> "Page":
        """Load a local file in a new tab and wait for its load event (and for
        the JavaScript expression ``ready`` to be true, when given)."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget",
                            {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                  session=session)
        self.events()  # drop about:blank's
        page = Page(self, session, Path(path).resolve().as_uri())
        started = time.perf_counter()
        self.send("Page.navigate", {"url": page.url}, session=session)
        page.wait_for_event("Page.loadEventFired")
        if ready is not None:
            page.wait_until(ready)
        page.wall_seconds = time.perf_counter() - started
        return page

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (BrowserError, OSError):
            pass
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class Page:
    """A loaded tab: what it logged and requested, and commands on it."""

    def __init__(self, browser: Browser, session: str, url: str):
        self.browser, self.session, self.url = browser, session, url
        self.console: list[tuple[str, str]] = []  # (level, text)
        self.exceptions: list[str] = []
        self.requests: list[str] = []  # URLs requested, the page itself included
        self.wall_seconds = float("nan")

    def _collect(self) -> list[dict]:
        mine = []
        for event in self.browser.events():
            if event.get("sessionId") != self.session:
                continue
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", "")))
                                for a in params.get("args", []))
                self.console.append((params.get("type", ""), text))
            elif method == "Log.entryAdded":
                entry = params["entry"]
                self.console.append((entry.get("level", ""), entry.get("text", "")))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                self.exceptions.append(details.get("exception", {}).get("description")
                                       or details.get("text", ""))
            elif method == "Network.requestWillBeSent":
                self.requests.append(params["request"]["url"])
            mine.append(event)
        return mine

    def wait_for_event(self, method: str) -> dict:
        deadline = time.monotonic() + self.browser.timeout
        while time.monotonic() < deadline:
            for event in self._collect():
                if event["method"] == method:
                    return event
            time.sleep(0.02)
        raise BrowserError(f"no {method} in {self.browser.timeout} s")

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (JSON-serialisable)."""
        result = self.browser.send("Runtime.evaluate",
                                   {"expression": expression, "returnByValue": True,
                                    "awaitPromise": True}, session=self.session)
        self._collect()
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_until(self, expression: str) -> None:
        deadline = time.monotonic() + self.browser.timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                raise BrowserError(f"{expression} still false after {self.browser.timeout} s")
            time.sleep(0.02)

    def settle(self, seconds: float = 0.3) -> None:
        """Let late events (console messages, requests) arrive, then collect them."""
        time.sleep(seconds)
        self.evaluate("1")

    def errors(self) -> list[str]:
        """Console errors and uncaught exceptions so far."""
        self._collect()
        return [text for level, text in self.console if level in ("error", "assert")] \
            + self.exceptions

    def external_requests(self) -> list[str]:
        """Requested URLs other than the page itself."""
        self._collect()
        return [u for u in self.requests if u != self.url]

    def screenshot(self, clip: dict | None = None) -> bytes:
        """PNG bytes of the viewport, or of ``clip`` ({x, y, width, height} in CSS
        pixels of the page)."""
        import base64

        params: dict[str, Any] = {"format": "png"}
        if clip is not None:
            params["clip"] = dict(clip, scale=1)
            params["captureBeyondViewport"] = True
        data = self.browser.send("Page.captureScreenshot", params, session=self.session)
        return base64.b64decode(data["data"])
