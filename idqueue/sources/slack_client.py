"""A slack-sdk ``WebClient`` that survives answers whose bytes are not all UTF-8.

The SDK decodes every answer strictly, so one stray byte in one message raises
``UnicodeDecodeError`` out of ``api_call`` on every poll, and the whole channel stops syncing.
This client decodes the 200 answers leniently (:func:`~idqueue.sources.decoding.decode_utf8`)
and keeps the byte offsets it replaced, for the source to report.
"""

from __future__ import annotations

import threading
import urllib.request
from typing import Any
from urllib.request import Request

from slack_sdk import WebClient

from idqueue.sources.decoding import decode_utf8


class LenientWebClient(WebClient):
    """``WebClient`` with a lenient decoder; :meth:`take_replacements` hands over what it fixed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._replaced = threading.local()

    def take_replacements(self) -> list[int]:
        """Byte offsets replaced in this thread's last answer (then forgotten)."""
        offsets: list[int] = getattr(self._replaced, "offsets", [])
        self._replaced.offsets = []
        return offsets

    def _perform_urllib_http_request_internal(self, url: str, req: Request) -> dict[str, Any]:
        """As the SDK's, for http(s) URLs, but decoding with replacement (the hook)."""
        if not url.lower().startswith("http"):
            return super()._perform_urllib_http_request_internal(url, req)  # type: ignore[no-any-return]
        if self.proxy is not None:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({"http": self.proxy, "https": self.proxy}),
                urllib.request.HTTPSHandler(context=self.ssl),
            )
            resp = opener.open(req, timeout=self.timeout)
        else:
            resp = urllib.request.urlopen(req, context=self.ssl, timeout=self.timeout)
        raw: bytes = resp.read()
        if resp.headers.get_content_type() == "application/gzip":
            return {"status": resp.code, "headers": resp.headers, "body": raw}
        charset = (resp.headers.get_content_charset() or "utf-8").lower()
        offsets: list[int] = []
        if charset in ("utf-8", "utf8"):
            body, offsets = decode_utf8(raw)
        else:
            body = raw.decode(charset, errors="replace")
        self._replaced.offsets = offsets
        return {"status": resp.code, "headers": resp.headers, "body": body}
