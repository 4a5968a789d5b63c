"""budget.pdf: the HTML document printed by Chromium or WeasyPrint (`Settings.pdf_engine`).

WeasyPrint is the optional extra `pdf`; Chromium, when the machine has it, is about six times
faster (render/chromium.py). Either engine fetches nothing but data: URIs and the product's own
template files; metadata (dates, identifier) is fixed from the plan, so the same input gives the
same bytes.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from generator.errors import UsageError
from generator.model import Plan

if TYPE_CHECKING:
    from generator.settings import Settings


def _own_asset(url: str) -> bool:
    """A file: URL inside the shipped templates folder."""
    from pathlib import Path

    from generator.render.document import shipped_templates

    parsed = urlparse(url)
    if parsed.scheme != "file":
        return False
    root = Path(str(shipped_templates())).resolve()
    path = Path(unquote(parsed.path)).resolve()
    return path.is_file() and path.is_relative_to(root)


def allowed(url: str) -> bool:
    return url.startswith("data:") or _own_asset(url)


def fetcher() -> Any:
    """A WeasyPrint URL fetcher that refuses everything but data: URIs and our own assets."""
    import weasyprint

    base = getattr(getattr(weasyprint, "urls", None), "URLFetcher", None)
    if base is not None:

        class SafeFetcher(base):  # type: ignore[misc, valid-type]
            def fetch(self, url: str, headers: Any = None) -> Any:
                if not allowed(url):
                    raise ValueError(f"refused to fetch {url!r}: only embedded assets are allowed")
                return super().fetch(url, headers)

        return SafeFetcher(timeout=1, allow_redirects=False)

    def fetch(url: str, *args: Any, **kwargs: Any) -> Any:  # WeasyPrint < 70
        if not allowed(url):
            raise ValueError(f"refused to fetch {url!r}: only embedded assets are allowed")
        return weasyprint.default_url_fetcher(url, *args, **kwargs)

    return fetch


def html_to_pdf(html: str, identifier: bytes) -> bytes:
    try:
        import weasyprint
    except ImportError:
        raise UsageError("PDF needs the optional engine: pip install 'clinic-budget[pdf]'") from None
    except OSError as exc:  # WeasyPrint is there but the Pango library it loads is not
        raise UsageError(f"PDF needs the Pango library (Debian: apt-get install libpango-1.0-0 "
                         f"libpangoft2-1.0-0): {exc}") from None
    document = weasyprint.HTML(string=html, base_url=None, url_fetcher=fetcher())
    data = document.write_pdf(pdf_identifier=identifier)
    return bytes(data)


@cache
def weasyprint_available() -> bool:
    """WeasyPrint imports, with the Pango library it loads (found only by trying)."""
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError):
        return False
    return True


def engine_label(engine: str) -> str:
    """The engine and its version ("weasyprint 70.0", "chromium 156.0.8078.108"): a new version
    may lay pages out differently, so the batch manifest counts it."""
    if engine == "chromium":
        from generator.render import chromium

        found = chromium.find()
        return found.label if found is not None else "chromium (missing)"
    try:
        import weasyprint
    except (ImportError, OSError):
        return "weasyprint (missing)"
    return f"weasyprint {weasyprint.__version__}"


def render(plan: Plan, settings: Settings, html: str | None = None) -> bytes:
    """The PDF for `plan`; pass the HTML when it is already rendered (writers.render_all does)."""
    if html is None:
        from generator.render import document as documents

        html = documents.client_html(plan, settings)
    if settings.pdf_engine == "chromium":
        from generator.render import chromium

        return chromium.html_to_pdf(html, chromium.require(), plan.generated.strftime("%Y%m%d000000"))
    identifier = hashlib.sha256(html.encode("utf-8")).hexdigest()[:32].encode("ascii")
    return html_to_pdf(html, identifier)
