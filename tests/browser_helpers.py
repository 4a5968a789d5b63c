"""A headless Chromium that opens web pages the way a person would: the project's DevTools-pipe
browser (generator.render.chromium.Browser), without its print-only lock-down (it refuses every
request and runs no script), so that it can load the pages `clinic-budget serve` sends."""

from __future__ import annotations

import base64
import time
from typing import Any

from generator.render import chromium

PAGE_TIMEOUT = 180.0  # an upload waits for its documents (PDF included) on a busy machine


class PageBrowser(chromium.Browser):
    def __init__(self, found: chromium.Found) -> None:
        saved = chromium.FLAGS  # the printer maps every host name to nothing: this browser must reach 127.0.0.1
        chromium.FLAGS = tuple(f for f in saved if not f.startswith("--host-resolver-rules"))
        try:
            super().__init__(found)
        finally:
            chromium.FLAGS = saved

    def _open_page(self, deadline: float) -> None:
        target = self.call("Target.createTarget", {"url": "about:blank"}, deadline=deadline)["targetId"]
        self._session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                  deadline=deadline)["sessionId"]
        self.call("Page.enable", deadline=deadline)
        self.call("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1,
                                                          "mobile": False}, deadline=deadline)

    def _deadline(self) -> float:
        return time.monotonic() + PAGE_TIMEOUT

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, deadline=self._deadline(), until="Page.loadEventFired")

    def _node(self, selector: str) -> int:
        root = self.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = int(self.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"])
        if not node:
            raise AssertionError(f"no {selector} on the page")
        return node

    def set_file(self, selector: str, path: str) -> None:
        self.call("DOM.setFileInputFiles", {"files": [path], "nodeId": self._node(selector)})

    def _middle(self, selector: str) -> tuple[float, float]:
        node = self._node(selector)
        self.call("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
        quad = self.call("DOM.getBoxModel", {"nodeId": node})["model"]["content"]
        return sum(quad[0::2]) / 4, sum(quad[1::2]) / 4

    def drop_file(self, selector: str, path: str) -> None:
        """Drag the file `path` from outside the browser and drop it on the element."""
        x, y = self._middle(selector)
        data = {"items": [], "files": [path], "dragOperationsMask": 1}
        for kind in ("dragEnter", "dragOver", "drop"):
            self.call("Input.dispatchDragEvent", {"type": kind, "x": x, "y": y, "data": data})

    def click(self, selector: str, wait_for_load: bool = True) -> None:
        """A left click in the middle of the element, as a mouse does it."""
        x, y = self._middle(selector)
        event: dict[str, Any] = {"x": x, "y": y, "button": "left", "clickCount": 1}
        self.call("Input.dispatchMouseEvent", {"type": "mousePressed", **event})
        self.call("Input.dispatchMouseEvent", {"type": "mouseReleased", **event}, deadline=self._deadline(),
                  until="Page.loadEventFired" if wait_for_load else None)

    def html(self) -> str:
        root = self.call("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        return str(self.call("DOM.getOuterHTML", {"nodeId": root})["outerHTML"])

    def url(self) -> str:
        history = self.call("Page.getNavigationHistory")
        return str(history["entries"][history["currentIndex"]]["url"])

    def screenshot(self, path: str) -> None:
        """The whole page as a PNG."""
        data = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True})["data"]
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(data))
