"""The OpenAPI 3.1 description of ``/api/v1``, served at ``/api/v1/openapi.json``.

Built from the same constants the code checks against (serializers, services),
and kept in step with ``routes.py`` by the test suite: every route is here and
every path here is a route, and schemathesis checks the answers against it.
"""

from __future__ import annotations

from typing import Any

from flask import current_app

from webapp.api import serializers as s
from webapp.models.contact import SOURCES, STATES
from webapp.services.connections import MAX_NOTE
from webapp.services.contact_sync import MAX_PAGE
from webapp.services.tags import MAX_LENGTH as MAX_TAG_LENGTH
from webapp.services.tags import MAX_TAGS

VERSION = "1.0.0"
NO_NUL = "^[^\\u0000]*$"  # PostgreSQL text can't hold NUL characters


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _text(max_length: int, min_length: int = 0, **extra: Any) -> dict:
    return {"type": "string", "minLength": min_length, "maxLength": max_length, "pattern": NO_NUL, **extra}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    words = {
        401: "unauthenticated: no valid token or session",
        403: "csrf_failed (cookie without X-CSRFToken), not_attendee, not_allowed",
        404: "unknown_badge, not_found",
        409: "client_id_conflict: this client_id was used for a different badge",
        413: "too_large",
        422: "validation_error, self_scan, event_cancelled",
        429: "rate_limited",
    }
    return {str(status): _json(_ref("Error"), words[status]) for status in statuses}


DATE_TIME = {"type": "string", "format": "date-time"}
NULLABLE_DATE_TIME = {"anyOf": [DATE_TIME, {"type": "null"}]}

SCHEMAS: dict[str, dict] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "additionalProperties": False,
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "additionalProperties": False,
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            }
        },
    },
    "EventRef": {
        "type": "object",
        "required": ["id", "slug", "name"],
        "additionalProperties": False,
        "properties": {"id": {"type": "integer"}, "slug": {"type": "string"}, "name": {"type": "string"}},
    },
    "Contact": {
        "type": "object",
        "description": "Someone in your address book, as they share themselves now. email, phone and "
        "linkedin_url are present only when that person shares them (or you imported them).",
        "required": ["id", "user_id", "name", "headline", "company", "looking_for", "note", "tags", "state",
                     "source", "scanned_me", "event", "met_at", "last_touched_at", "updated_at", "deleted"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "user_id": {"type": ["integer", "null"], "description": "Their MeetLoop account, if they have one."},
            "name": {"type": "string"},
            "headline": {"type": "string"},
            "company": {"type": "string"},
            "looking_for": {"type": "string"},
            "email": {"type": "string"},
            "phone": {"type": "string"},
            "linkedin_url": {"type": "string"},
            "photo_url": {"type": "string", "description": "Their current photo, if they have one."},
            "note": {"type": "string", "description": "Your private note."},
            "tags": {"type": "array", "items": {"type": "string"}},
            "state": {"enum": list(STATES)},
            "source": {"enum": list(SOURCES)},
            "scanned_me": {"type": "boolean", "description": "They scanned your badge (rather than you theirs)."},
            "event": {"oneOf": [_ref("EventRef"), {"type": "null"}], "description": "Where you first met."},
            "met_at": NULLABLE_DATE_TIME,
            "last_touched_at": NULLABLE_DATE_TIME,
            "updated_at": DATE_TIME,
            "deleted": {"const": False},
        },
    },
    "ContactUpdate": {
        "type": "object",
        "properties": {
            "note": {**_text(s.MAX_NOTE), "description": "Replaces your private note."},
            "add_tags": {"type": "array", "maxItems": s.MAX_TAGS, "items": _text(s.MAX_TAG_LENGTH),
                         "description": "Tags to add (existing ones stay)."},
        },
    },
    "RemovedContact": {
        "type": "object",
        "description": "A contact you removed (or someone blocked): delete your copy.",
        "required": ["id", "deleted"],
        "additionalProperties": False,
        "properties": {"id": {"type": "integer"}, "deleted": {"const": True}},
    },
    "ScanRequest": {
        "type": "object",
        "required": ["badge", "client_id"],
        "properties": {
            "badge": _text(s.MAX_BADGE, 1, description="The badge's token, its URL (BASE_URL/b/<token>) or the "
                                                    "short code printed under the QR code."),
            "client_id": {"type": "string", "pattern": s.CLIENT_ID_PATTERN, "description":
                          "Made by the scanning device (a UUID): uploading it again is the same scan."},
            "scanned_at": {"anyOf": [{**DATE_TIME, "maxLength": s.MAX_DATE_TIME}, {"type": "null"}],
                           "description": "When it was scanned, with an offset. Default: now. Not in the future."},
            "note": _text(MAX_NOTE, description="Your private note; added to your contact for this person."),
            "tags": {"type": "array", "maxItems": MAX_TAGS, "items": _text(MAX_TAG_LENGTH)},
            "event": {"anyOf": [_text(s.MAX_EVENT_REF), {"type": "null"}],
                      "description": "The event's slug or id: needed only when a short code is used at "
                                     "several of your events."},
        },
    },
    "Scan": {
        "type": "object",
        "required": ["id", "client_id", "event", "scanned_user_id", "scanned_at", "created_at", "note"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "integer"},
            "client_id": {"type": "string"},
            "event": _ref("EventRef"),
            "scanned_user_id": {"type": "integer"},
            "scanned_at": DATE_TIME,
            "created_at": DATE_TIME,
            "note": {"type": "string"},
        },
    },
    "ScanResult": {
        "type": "object",
        "required": ["scan", "contact", "already_connected"],
        "additionalProperties": False,
        "properties": {
            "scan": _ref("Scan"),
            "contact": {"oneOf": [_ref("Contact"), {"type": "null"}],
                        "description": "Your contact for the person scanned; null only if you have since "
                                       "removed them (a replay)."},
            "already_connected": {"type": "boolean", "description": "You had met before this scan."},
        },
    },
    "ContactPage": {
        "type": "object",
        "required": ["contacts", "next"],
        "additionalProperties": False,
        "properties": {
            "contacts": {"type": "array", "items": {"oneOf": [_ref("Contact"), _ref("RemovedContact")]}},
            "next": {"type": ["string", "null"], "description": "Pass as ?cursor= for the next page; null at the end."},
        },
    },
    "Me": {
        "type": "object",
        "required": ["id", "name", "email", "headline", "company", "looking_for", "phone", "linkedin_url",
                     "timezone", "role", "sharing"],
        "additionalProperties": False,
        "properties": {
            **{key: {"type": "string"} for key in ("name", "email", "headline", "company", "looking_for", "phone",
                                                   "linkedin_url", "timezone")},
            "id": {"type": "integer"},
            "role": {"enum": ["attendee", "organizer", "admin"]},
            "sharing": {
                "type": "object",
                "required": ["email", "phone", "linkedin"],
                "additionalProperties": False,
                "properties": {key: {"type": "boolean"} for key in ("email", "phone", "linkedin")},
            },
        },
    },
}

READ = [{"bearerToken": []}, {"sessionCookie": []}]
WRITE = [{"bearerToken": []}, {"sessionCookie": [], "csrfHeader": []}]

PATHS: dict[str, dict] = {
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "security": [],
            "responses": {"200": _json({"type": "object"}, "The OpenAPI document")},
        }
    },
    "/api/v1/me": {
        "get": {
            "operationId": "me",
            "summary": "Who you are signed in as, and what you share",
            "security": READ,
            "responses": {"200": _json(_ref("Me"), "Your profile"), **_errors(401)},
        }
    },
    "/api/v1/scans": {
        "post": {
            "operationId": "createScan",
            "summary": "Record that you met the owner of a badge",
            "description": "The scan belongs to the badge's event; only its attendees and organizers (site admins "
            "count as organizers of every event) may scan there. Idempotent per client_id: a repeat "
            "answers 200 with the first answer's body.",
            "security": WRITE,
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ScanRequest")}}},
            "responses": {
                "201": _json(_ref("ScanResult"), "A new scan"),
                "200": _json(_ref("ScanResult"), "A repeat of an earlier upload of this client_id"),
                **_errors(401, 403, 404, 409, 413, 422, 429),
            },
        }
    },
    "/api/v1/me/contacts": {
        "get": {
            "operationId": "listContacts",
            "summary": "Your contacts in order of last change, oldest first (for syncing)",
            "description": "Removed contacts come back as {id, deleted: true}. Page with next, until it is null; "
            "remember the newest updated_at you saw and pass it as since next time.",
            "security": READ,
            "parameters": [
                {"name": "since", "in": "query", "schema": DATE_TIME,
                 "description": "Only contacts changed at or after this time (with an offset)."},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE,
                                                            "default": s.DEFAULT_PAGE}},
                {"name": "cursor", "in": "query",
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": s.MAX_CURSOR},
                 "description": "The next value of the previous page."},
            ],
            "responses": {"200": _json(_ref("ContactPage"), "One page of contacts"), **_errors(401, 422)},
        }
    },
    "/api/v1/me/contacts/{contact_id}": {
        "delete": {
            "operationId": "removeContact",
            "summary": "Remove someone from your contacts (they keep theirs)",
            "security": WRITE,
            "parameters": [{"name": "contact_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": s.MAX_ID}}],
            "responses": {"204": {"description": "Removed"}, **_errors(401, 403, 404)},
        },
        "patch": {
            "operationId": "updateContact",
            "summary": "Add to your private note and tags (the scanner's five-second note, sent after the scan)",
            "security": WRITE,
            "parameters": [{"name": "contact_id", "in": "path", "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": s.MAX_ID}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("ContactUpdate")}}},
            "responses": {"200": _json(_ref("Contact"), "The updated contact"), **_errors(401, 403, 404, 422)},
        },
    },
}


def document() -> dict:
    """The whole OpenAPI document (needs an app context for the cookie name)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "MeetLoop API",
            "version": VERSION,
            "description": "Scan badges and sync your contacts. Timestamps are ISO 8601 with an offset (UTC). "
            'Errors are always {"error": {"code", "message"}}.',
        },
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer",
                                "description": "A personal API token, made on /settings/tokens. No CSRF needed."},
                "sessionCookie": {"type": "apiKey", "in": "cookie",
                                  "name": current_app.config.get("SESSION_COOKIE_NAME", "session")},
                "csrfHeader": {"type": "apiKey", "in": "header", "name": "X-CSRFToken",
                               "description": "With the session cookie, every POST or DELETE carries the page's "
                                              "CSRF token (<meta name=\"csrf-token\">)."},
            },
        },
    }
