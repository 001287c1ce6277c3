"""gzip for text answers, so a phone on venue wifi downloads a third as much.

Static files (styles, scripts, the scanner's decoder) are compressed once per
file version and kept in memory; pages and JSON are compressed on the way out.
Left as they are: streamed answers (the CSV export), small ones, partial ones
(ranges), anything already encoded or marked ``no-transform``, and clients
that don't ask for gzip. A compressed answer's ETag becomes weak: the bytes
differ from the file's, and weak comparison (what If-None-Match uses) still
answers a revalidation with 304.
"""

from __future__ import annotations

import gzip
import threading

from flask import Flask, Response, request

COMPRESSIBLE = frozenset({
    "text/html", "text/css", "text/javascript", "application/javascript", "application/json",
    "application/manifest+json", "application/problem+json", "image/svg+xml", "text/plain", "text/csv",
    "text/calendar", "text/vcard", "application/xml", "application/wasm",
})
SMALLEST = 512  # bytes: below this the gzip header and a round of CPU aren't worth it
LEVEL, STATIC_LEVEL = 6, 9  # static files are compressed once, so as hard as it goes
KEPT_FILES = 64  # distinct static file versions kept compressed

_kept: dict[tuple[str, str], bytes] = {}
_lock = threading.Lock()


def _compress(data: bytes, level: int) -> bytes:
    return gzip.compress(data, compresslevel=level, mtime=0)  # mtime=0: the same bytes every time


def _static_body(response: Response) -> bytes | None:
    """The compressed body of a file answer (None: too small to bother), from
    the kept copy when this version of the file was compressed before. Reads
    and closes the file; a small one is put back as a plain body."""
    etag, _weak = response.get_etag()
    key = (request.path, etag or "")
    body = _kept.get(key) if etag else None
    iterable, response.direct_passthrough = response.response, False
    try:
        if body is None:
            data = b"".join(iterable)
            if len(data) < SMALLEST:
                response.set_data(data)
                return None
            body = _compress(data, STATIC_LEVEL)
            if etag:
                with _lock:
                    if len(_kept) >= KEPT_FILES:
                        _kept.pop(next(iter(_kept)))
                    _kept[key] = body
    finally:
        if hasattr(iterable, "close"):
            iterable.close()
    return body


def _wants_gzip(response: Response) -> bool:
    if request.method != "GET" or response.status_code != 200 or response.mimetype not in COMPRESSIBLE:
        return False
    response.vary.add("Accept-Encoding")  # caches keep the plain and the gzip answer apart
    return (
        request.accept_encodings["gzip"] > 0
        and "Content-Encoding" not in response.headers
        and "no-transform" not in (response.headers.get("Cache-Control") or "")
    )


def compress(response: Response) -> Response:
    if not _wants_gzip(response):
        return response
    if response.direct_passthrough:  # send_file: a static file
        body = _static_body(response)
        if body is None:
            return response
    elif response.is_streamed:
        return response
    else:
        data = response.get_data()
        if len(data) < SMALLEST:
            return response
        body = _compress(data, LEVEL)
    etag, _weak = response.get_etag()
    response.set_data(body)
    response.headers["Content-Encoding"] = "gzip"
    response.headers.pop("Accept-Ranges", None)  # ranges would be of the plain file, not of these bytes
    if etag:
        response.set_etag(etag, weak=True)
    return response


def register(app: Flask) -> None:
    app.after_request(compress)
