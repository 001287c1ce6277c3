"""Keep secrets out of logs: tokens travel in URL paths and query strings."""

from __future__ import annotations

import re

# /login/link/<token>, /verify/<token>, /reset/<token>, /account/email/<token>, /b/<badge token>, ...
_TOKEN_PATH = re.compile(r"(/(?:login/link|verify|reset|account/email|b|invite|not-me)/)[^/?\s\"]+")
_QUERY_TOKEN = re.compile(r"((?:token|t)=)[^&\s\"]+")


def redact(text: str) -> str:
    """``text`` with every token-bearing path segment or query value replaced."""
    return _QUERY_TOKEN.sub(r"\1[redacted]", _TOKEN_PATH.sub(r"\1[redacted]", text))
