"""MeetLoop: meet people at events, follow up, keep in touch.

``create_app`` only wires things together: it never touches the database, runs
migrations or prompts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from webapp import config as settings
from webapp.config import PROJECT_ROOT


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder="static",
    )
    app.config.from_mapping(settings.load())
    if overrides:
        app.config.from_mapping(overrides)
    app.instance_path = app.config["INSTANCE_DIR"]
    register_proxy(app)
    register_logging(app)
    register_extensions(app)
    register_url_converters(app)
    register_blueprints(app)
    register_errors(app)
    register_templates(app)
    register_hooks(app)
    register_commands(app)
    return app


def register_proxy(app: Flask) -> None:
    """Behind TRUSTED_PROXIES reverse proxies, take the client address and
    scheme from their X-Forwarded-* headers (per-IP rate limits need it)."""
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def register_logging(app: Flask) -> None:
    # Libraries speak at WARNING; our own modules at INFO. Never secrets: tokens
    # and passwords are not logged anywhere in webapp/.
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("webapp").setLevel(logging.INFO)


def register_extensions(app: Flask) -> None:
    from webapp import database
    from webapp.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True,
                     compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    database.register(app)

    from webapp.auth import session

    login_manager.user_loader(session.load_user)


class BoundedInt(IntegerConverter):
    """``<int:...>`` up to the largest database integer: a longer number in a
    URL is a 404, not an overflow error from the database."""

    def __init__(self, url_map, *args, **kwargs) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def register_url_converters(app: Flask) -> None:
    app.url_map.converters["int"] = BoundedInt


def register_blueprints(app: Flask) -> None:
    from webapp.admin.routes import bp as admin_bp
    from webapp.auth.routes import bp as auth_bp
    from webapp.badges.routes import bp as badges_bp
    from webapp.contacts import bp as contacts_bp
    from webapp.events import bp as events_bp
    from webapp.followups.routes import bp as followups_bp
    from webapp.main.routes import bp as main_bp
    from webapp.organize import bp as organize_bp
    from webapp.preferences.routes import bp as preferences_bp
    from webapp.profile.routes import bp as profile_bp
    from webapp.scan.routes import bp as scan_bp

    for bp in (main_bp, auth_bp, profile_bp, admin_bp, badges_bp, scan_bp, contacts_bp, events_bp, organize_bp,
               followups_bp, preferences_bp):
        app.register_blueprint(bp)

    from webapp.api import register as register_api

    register_api(app)


def register_errors(app: Flask) -> None:
    from webapp import errors

    errors.register(app)


def register_templates(app: Flask) -> None:
    from webapp import formatting

    formatting.register(app)


def register_hooks(app: Flask) -> None:
    from webapp import hooks

    hooks.register(app)


def register_commands(app: Flask) -> None:
    from webapp import cli

    cli.register(app)
