"""The JSON API (``/api/v1``) and the page where people manage their API tokens."""

from __future__ import annotations

from flask import Flask


def register(app: Flask) -> None:
    """Register both blueprints. The API checks CSRF itself (``api.auth``):
    Flask-WTF's form check would refuse Bearer requests and answer in HTML."""
    from webapp.api.routes import bp as api_bp
    from webapp.api.tokens_routes import bp as tokens_bp
    from webapp.extensions import csrf

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)
    app.register_blueprint(tokens_bp)
    if app.config.get("BENCH_ENDPOINTS"):
        from webapp.api.bench import bp as bench_bp

        csrf.exempt(bench_bp)
        app.register_blueprint(bench_bp)
