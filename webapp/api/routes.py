"""The JSON API, ``/api/v1``: thin views over the same services as the pages.

Each view parses JSON (serializers), calls one service, commits and answers
JSON. Rules live in the services; their ``DomainError``s become the API's
error shape here, by code. ``openapi.py`` describes every route in this file.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from webapp.api import openapi, serializers
from webapp.api.auth import api_user, public, rate_key, record_token_use, require_auth
from webapp.database import reads_first
from webapp.errors import error_response
from webapp.extensions import db, limiter
from webapp.services import DomainError, NotFound, PermissionDenied, connections, contact_sync, contacts

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(require_auth)
bp.after_request(record_token_use)

# A phone at a busy event scans every few seconds, and an offline queue
# uploads in bursts: well above what the design promises (120 a minute).
SCANS_PER_USER = "300/minute"
# Hundreds of phones at a venue share one address.
SCANS_PER_IP = "3000/minute"

STATUS_BY_CODE = {
    "not_found": 404,
    "unknown_badge": 404,
    "forbidden": 403,
    "not_attendee": 403,
    "not_allowed": 403,
    "client_id_conflict": 409,
    "validation_error": 422,
    "self_scan": 422,
    "event_cancelled": 422,
}


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    db.session.rollback()
    status = STATUS_BY_CODE.get(error.code)
    if status is None:
        status = 404 if isinstance(error, NotFound) else 403 if isinstance(error, PermissionDenied) else 422
    return error_response(status, error.code, error.message)


@bp.get("/openapi.json")
@public
def openapi_document():
    return jsonify(openapi.document())


@bp.get("/me")
def me():
    return jsonify(serializers.me(api_user()))


@bp.post("/scans")
@reads_first  # on SQLite the write lock waits for the writes
@limiter.limit(SCANS_PER_USER, key_func=rate_key, methods=["POST"])
@limiter.limit(SCANS_PER_IP, methods=["POST"])
def create_scan():
    data = serializers.scan_request(request.get_json(silent=True))
    result = connections.record_scan(
        api_user(), data.badge, data.client_id,
        scanned_at=data.scanned_at, note=data.note, tags=data.tags, event_ref=data.event,
    )
    # Shaped before the commit, from what the session holds: after it, every
    # object is expired and reading them back would take another transaction.
    body = serializers.scan_result(result)
    db.session.commit()
    return jsonify(body), 201 if result.created else 200


@bp.get("/me/contacts")
def list_contacts():
    query = serializers.contacts_query(request.args)
    page = contact_sync.changes(api_user(), since=query.since, after=query.after, limit=query.limit)
    next_cursor = serializers.encode_cursor(page.contacts[-1]) if page.more else None
    return jsonify(serializers.contacts_page(page.contacts, next_cursor))


# One rule for both methods: two rules on one path let werkzeug answer 405
# instead of 404 for an id past the converter's maximum.
@bp.route(f"/me/contacts/<int(max={serializers.MAX_ID}):contact_id>", methods=["PATCH", "DELETE"])
def contact(contact_id: int):
    user = api_user()
    entry = contacts.owned(user, contact_id)
    if request.method == "DELETE":
        connections.remove_contact(user, entry)
        db.session.commit()
        return "", 204
    change = serializers.contact_update(request.get_json(silent=True))
    contacts.update(entry, note=change.note, add_tags=change.add_tags)
    db.session.commit()
    return jsonify(serializers.contact(entry))
