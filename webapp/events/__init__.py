"""Events: organizing them, joining them, and attending them."""

from flask import Blueprint

bp = Blueprint("events", __name__)

# The route modules attach their views to ``bp``.
from webapp.events import display, joining, organizing, routes  # noqa: E402, F401
