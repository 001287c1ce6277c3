"""Taking your contacts with you: vCard 4.0 and CSV downloads, and "download
all my data" (a zip). The contents are decided in webapp.services.contact_export."""

from __future__ import annotations

from flask import Response, stream_with_context
from flask_login import current_user, login_required

from webapp.auth.session import per_user
from webapp.contacts import bp
from webapp.models import utcnow
from webapp.services import audit
from webapp.services import contact_export as service


def _download(body, content_type: str, filename: str) -> Response:
    return Response(body, content_type=content_type, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",  # names, emails and private notes: keep them out of shared caches
    })


@bp.get("/contacts.vcf")
@login_required
@per_user("30/hour")  # every contact, every time: generous for people, a wall for scripts
def export_vcf():
    audit.record_download(current_user, "contacts.export", detail="vCard")
    return _download(service.vcards(current_user), "text/vcard; charset=utf-8", "meetloop-contacts.vcf")


@bp.get("/contacts.csv")
@login_required
@per_user("30/hour")
def export_csv():
    audit.record_download(current_user, "contacts.export", detail="CSV")
    return _download(stream_with_context(service.csv_chunks(current_user)), "text/csv; charset=utf-8",
                     "meetloop-contacts.csv")


@bp.get("/account/data.zip")
@login_required
@per_user("10/hour")
def export_all():
    audit.record_download(current_user, "contacts.export", detail="all my data (zip)")
    now = utcnow()
    return _download(service.data_zip(current_user, now), "application/zip",
                     f"meetloop-data-{now:%Y-%m-%d}.zip")
