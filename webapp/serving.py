"""Serving helpers: an access logger that never writes tokens to the log."""

from __future__ import annotations

import re

from gunicorn.glogging import Logger

# /login/link/<token>, /verify/<token>, /reset/<token>, /account/email/<token>, /b/<token>, ...
_TOKEN_PATH = re.compile(r"(/(?:login/link|verify|reset|account/email|b|invite|a)/)[^/?\s\"]+")
_QUERY_TOKEN = re.compile(r"((?:token|t)=)[^&\s\"]+")


def redact(text: str) -> str:
    return _QUERY_TOKEN.sub(r"\1[redacted]", _TOKEN_PATH.sub(r"\1[redacted]", text))


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
