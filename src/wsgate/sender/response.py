"""Former home of the HTTP/1.1 response parser, now :mod:`wsgate.aws.response`; its
``Response`` is :class:`~wsgate.aws.response.HttpResponse` (distinct from
:class:`wsgate.Response`, a handler's return value). Kept so that old imports keep working."""

from __future__ import annotations

from wsgate.aws.response import HTTPProtocolError, HttpResponse, ResponseParser

Response = HttpResponse

__all__ = ["HTTPProtocolError", "HttpResponse", "Response", "ResponseParser"]
