"""The scan-burst benchmark's baseline: the cheapest write a signed-in API
caller can make, to compare ``POST /api/v1/scans`` against.

Registered only when ``BENCH_ENDPOINTS`` is set (``webapp.api.register``), so
no normal deployment serves it. Everything but the work itself is the scan
route's: the same blueprint hooks (Bearer token or session + CSRF, token use
recorded), the same per-user and per-IP rate limits, a JSON body in and a JSON
answer out, one commit. The work is one INSERT into ``used_token``: a table
with a random primary key and nothing else pointing at it, so no migration is
needed, the rows can never collide with a real link's nonce (another
purpose, random 128-bit key) and the periodic purge of expired nonces clears
them (they expire at once).
"""

from __future__ import annotations

import secrets

from flask import Blueprint, jsonify, request

from webapp.api.auth import api_user, rate_key, record_token_use, require_auth
from webapp.api.routes import SCANS_PER_IP, SCANS_PER_USER
from webapp.errors import error_response
from webapp.extensions import db, limiter
from webapp.models import UsedToken, utcnow

bp = Blueprint("api_bench", __name__, url_prefix="/api/v1/bench")
bp.before_request(require_auth)
bp.after_request(record_token_use)

PURPOSE = "bench"


@bp.post("/row")
@limiter.limit(SCANS_PER_USER, key_func=rate_key, methods=["POST"])
@limiter.limit(SCANS_PER_IP, methods=["POST"])
def insert_row():
    if not isinstance(request.get_json(silent=True), dict):
        return error_response(422, "validation_error", "Send a JSON object.")
    now = utcnow()
    row = UsedToken(nonce=secrets.token_hex(16), purpose=PURPOSE, used_at=now, expires_at=now)
    db.session.add(row)
    # Shaped before the commit, which expires what the session loaded.
    body = {"row": {"nonce": row.nonce, "user": api_user().id, "at": now.isoformat()}}
    db.session.commit()
    return jsonify(body), 201
