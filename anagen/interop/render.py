"""The API's JSON renderer: django-ninja's, with the common values encoded on a fast path.

A list of appointments or plans holds hundreds of dates and instants; ninja's encoder asks
several `isinstance` questions of each (a pydantic model? a URL? an address? an enum?) before
Django's encoder formats it. Here a value that is exactly a `datetime` or a `date` is formatted
at once, with Django's own rules (ECMA-262: milliseconds, "Z" for UTC), so the bytes are the
same; anything else goes the usual way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja.renderers import JSONRenderer
from ninja.responses import NinjaJSONEncoder


class FastJSONEncoder(NinjaJSONEncoder):
    def default(self, o: Any) -> Any:
        kind = type(o)
        if kind is dt.datetime:
            # DjangoJSONEncoder.default, for a datetime.
            r = o.isoformat()
            if o.microsecond:
                r = r[:23] + r[26:]
            if r.endswith("+00:00"):
                r = r.removesuffix("+00:00") + "Z"
            return r
        if kind is dt.date:
            return o.isoformat()
        return super().default(o)


class FastJSONRenderer(JSONRenderer):
    encoder_class = FastJSONEncoder
