"""Reading one uploaded file from a multipart request, the same way in every service: 413 with
the limit when it is too large, 415 when the request is not multipart, 422 when the ``file``
field is missing. The type of the content is judged by ``fundguard_shared.filetypes``."""
from __future__ import annotations

from flask import request
from werkzeug.datastructures import FileStorage, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from .errors import ApiError


def too_large(limit: int) -> ApiError:
    return ApiError(413, "file_too_large", f"文件超过大小上限（{limit} 字节）",
                    f"the file exceeds the limit of {limit} bytes", max_bytes=limit)


def multipart_file(limit: int, field: str = "file") -> tuple[FileStorage, ImmutableMultiDict]:
    """The uploaded file and the other form fields of the current request."""
    try:
        upload = request.files.get(field)
        form = request.form
    except RequestEntityTooLarge:
        raise too_large(limit) from None
    if not request.mimetype.startswith("multipart/"):
        raise ApiError(415, "multipart_required", "请以 multipart/form-data 上传文件",
                       "upload the file as multipart/form-data")
    if upload is None:
        raise ApiError(422, "file_required", f"缺少文件字段 {field}", f"the form field '{field}' is missing")
    return upload, form
