"""The address book: connections, imported and added contacts, tags, keeping in touch."""

from flask import Blueprint

bp = Blueprint("contacts", __name__)

# The view modules attach their views to ``bp``.
from webapp.contacts import exports, importing, keeping, routes, tag_views, touch_links  # noqa: E402, F401
