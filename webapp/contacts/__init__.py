"""The address book: connections, imported and added contacts, tags, keeping in touch."""

from flask import Blueprint

bp = Blueprint("contacts", __name__)

# The view modules attach their views to ``bp``.
from webapp.contacts import routes  # noqa: E402, F401
