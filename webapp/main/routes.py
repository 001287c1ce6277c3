"""The front page and a health check."""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user
from sqlalchemy import text

from webapp.extensions import db
from webapp.services import contacts, events

bp = Blueprint("main", __name__)


@bp.get("/")
def index():
    if current_user.is_authenticated:
        upcoming, _past = events.my_events(current_user)
        return render_template("main/home.html", upcoming=upcoming, recent=contacts.recent(current_user, limit=5))
    return render_template("main/landing.html")


@bp.get("/healthz")
def health():
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok"})
