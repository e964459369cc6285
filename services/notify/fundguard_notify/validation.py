"""Input rules the notify API adds to webargs/marshmallow: PostgreSQL refuses text with NUL
characters (a 500 if it got that far), so such input is refused up front."""
from __future__ import annotations

from marshmallow import validate

from fundguard_shared.errors import ApiError

NO_NUL = validate.Regexp(r"^[^\x00]*\Z", error="must not contain NUL characters")


def object_id(value: str) -> str:
    """A path id: one that cannot exist is simply not found."""
    if "\x00" in value or len(value) > 64:
        raise ApiError(404)
    return value
