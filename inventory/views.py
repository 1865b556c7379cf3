"""Private files of the lot, each served only to the people allowed to see the record it is on."""

import mimetypes
import posixpath
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse, Http404, HttpResponse
from django.views.decorators.http import require_safe

from inventory.lot import StockUnitCost

# Which record names a private file, and the permission needed to see it. Higher apps add
# theirs with register_private_file() from their AppConfig.ready() (inventory imports none).
PRIVATE_FILES = [
    (StockUnitCost, "receipt", "inventory.view_stockunitcost"),
]


def register_private_file(model, field_name, permission):
    """Serve `model.field_name` files of the private storage to whoever has `permission`."""
    entry = (model, field_name, permission)
    if entry not in PRIVATE_FILES:
        PRIVATE_FILES.append(entry)


def _owner_of(name):
    """(record, field name, permission) of the record whose private file is `name`."""
    for model, field_name, permission in PRIVATE_FILES:
        record = model._default_manager.filter(**{field_name: name}).only("pk", field_name).first()
        if record is not None:
            return record, field_name, permission
    raise Http404("No such file.")


@require_safe
@login_required
def private_file(request, name):
    """A private upload, to a person whose role may see the record that names it (403 otherwise;
    404 for a name no record has)."""
    record, field_name, permission = _owner_of(name)
    if not request.user.has_perm(permission):
        raise PermissionDenied
    return send_private_file(getattr(record, field_name))


def send_private_file(stored):
    """The response that sends a private stored file (after the caller's permission check):
    through nginx's internal location when configured, else streamed by Django."""
    name = stored.name
    filename = posixpath.basename(name)
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    accel = settings.PRIVATE_MEDIA_X_ACCEL_REDIRECT
    # nginx can send only files of the media folder; a bucket's objects Django streams itself.
    if accel and isinstance(stored.storage, FileSystemStorage):
        # nginx sends the file from its `internal` location (deploy/nginx/carapp.conf).
        response = HttpResponse(content_type=content_type)
        response["X-Accel-Redirect"] = accel.rstrip("/") + "/" + quote(name)
    else:
        try:
            response = FileResponse(stored.open("rb"), content_type=content_type)
        except FileNotFoundError:
            raise Http404("The file is missing from storage.") from None
    response["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
