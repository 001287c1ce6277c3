"""Extension singletons. Bound to an app in ``create_app``; nothing else here."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from webapp.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# Per-IP limits stay generous (a venue shares one address); the tight limits
# are keyed on the account or email address in the views that need them.
limiter = Limiter(key_func=get_remote_address, default_limits=[])
