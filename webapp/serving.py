"""Serving helpers: an access logger that never writes tokens to the log."""

from __future__ import annotations

from gunicorn.glogging import Logger

from webapp.redaction import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "q", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = redact(atoms[key])
        return atoms
