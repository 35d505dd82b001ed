"""An AsyncAPI 3.0 document for a :class:`~wsgate.router.WebSocketApp`.

:func:`build_document` describes, from the app alone:

* the server: the stage URL (``wss://{apiId}.execute-api.{region}.amazonaws.com`` with the
  stage as the channel address, or the URL given), with the authorizer's identity sources as
  security schemes (``httpApiKey`` in a header or the query string);
* one channel, the WebSocket connection, whose ``ws`` binding carries the ``$connect`` query
  and header schemas (from ``@app.connect(query=..., headers=...)`` and the identity sources);
* every message route as a ``receive`` operation (the app receives what clients send), its
  message payload the route's body schema plus the routing field (``action: {const: key}``),
  with the reply of a two-way route (from the handler's return annotation);
* every server message the app declares (:meth:`~wsgate.routes.Router.server_message`) as a
  ``send`` operation, and the invalid-body frame when a route has a typed body.

The route selection expression is in the description and in ``x-wsgate-route-selection``.
``wsgate asyncapi APP`` writes it; ``wsgate serve`` serves it at ``/_wsgate/asyncapi``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from wsgate.schemas import SchemaSet

__all__ = ["ASYNCAPI_VERSION", "build_document", "render"]

ASYNCAPI_VERSION = "3.0.0"
CHANNEL = "connection"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_INVALID_FRAME = {
    "type": "object",
    "title": "InvalidBody",
    "properties": {
        "type": {"const": "wsgate.invalid"},
        "route": {"type": "string"},
        "message": {"type": "string"},
        "errors": {
            "type": "array",
            "maxItems": 10,
            "items": {
                "type": "object",
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
                "required": ["path", "message"],
            },
        },
        "total": {"type": "integer"},
        "requestId": {"type": "string"},
    },
    "required": ["type", "route", "message", "errors", "total"],
}


def _id(text: str, taken: set[str]) -> str:
    base = _SAFE.sub("_", text.lstrip("$")) or "route"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def _summary(func: Any) -> str | None:
    doc = (getattr(func, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else None


def _server(url: str | None, stage: str) -> tuple[dict[str, Any], str]:
    """The server object and the channel address (the stage path)."""
    if url is None:
        server = {
            "host": "{apiId}.execute-api.{region}.amazonaws.com",
            "protocol": "wss",
            "description": "The API Gateway WebSocket API's stage URL.",
            "variables": {
                "apiId": {"description": "The API id (from the deployment's outputs)."},
                "region": {"default": "us-east-1", "description": "The AWS region."},
            },
        }
        return server, f"/{stage}"
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(f"the server URL must be ws:// or wss://, got {url!r}")
    return {"host": parts.netloc, "protocol": parts.scheme}, parts.path or "/"


def build_document(
    app: Any,
    *,
    url: str | None = None,
    stage: str = "prod",
    title: str | None = None,
    version: str = "1.0.0",
    description: str | None = None,
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of ``app`` (a dict, ready for ``json.dumps``).

    Args:
        app: A ``WebSocketApp`` (or a ``Router``).
        url: The stage URL (``wss://abc.execute-api.eu-west-1.amazonaws.com/prod`` or the
            emulator's ``ws://127.0.0.1:3001/local``); default: the ``execute-api`` form.
        stage: The stage, when ``url`` is not given.
        title, version, description: The ``info`` fields.

    Raises:
        ValueError: ``url`` is not a ws:// or wss:// URL.
        TypeError: a declared model has a field type with no JSON Schema.
    """
    from wsgate.signatures import return_annotation

    schemas = SchemaSet()
    server, address = _server(url, stage)
    expression = getattr(app, "route_selection_expression", "$request.body.action")
    routing = _routing_field(expression)
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    channel_messages: dict[str, Any] = {}
    taken: set[str] = set()
    channel_ref = {"$ref": f"#/channels/{CHANNEL}"}
    typed = False

    def add_message(key: str, message: dict[str, Any]) -> dict[str, Any]:
        messages[key] = message
        channel_messages[key] = {"$ref": f"#/components/messages/{key}"}
        return {"$ref": f"#/channels/{CHANNEL}/messages/{key}"}

    for route_key, route in app.routes.items():
        if route_key in ("$connect", "$disconnect"):
            continue
        key = _id(route_key, taken)
        binding = route.body
        model = binding.model("body") if binding is not None else None
        typed = typed or model is not None
        payload = schemas.object_schema(model) if model is not None else {}
        if routing and route_key != "$default":
            payload = dict(payload) if payload else {"type": "object"}
            properties = dict(payload.get("properties", {}))
            properties.setdefault(routing, {"const": route_key})
            payload["properties"] = properties
            payload["required"] = sorted({*payload.get("required", ()), routing})
        message: dict[str, Any] = {
            "name": route_key,
            "title": route_key,
            "contentType": "application/json" if model is not None or routing else "text/plain",
            "payload": payload,
        }
        summary = _summary(route.handler)
        if summary:
            message["summary"] = summary
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": channel_ref,
            "messages": [add_message(key, message)],
            "summary": f"The client sends {route_key!r}"
            + (" (two-way: the handler's return value is the reply)" if route.two_way else ""),
        }
        if route.two_way:
            returned = return_annotation(route.handler)
            reply_schema = schemas.schema(returned) if returned is not None else {}
            reply_key = _id(f"{route_key}.reply", taken)
            reply = {"name": f"{route_key} reply", "payload": reply_schema}
            operation["reply"] = {
                "channel": channel_ref,
                "messages": [add_message(reply_key, reply)],
            }
        operations[_id(f"receive_{route_key}", taken)] = operation

    for name, (model, text) in getattr(app, "server_messages", {}).items():
        key = _id(name, taken)
        message = {"name": name, "title": name, "contentType": "application/json"}
        message["payload"] = schemas.object_schema(model) if model is not None else {}
        if text:
            message["description"] = text
        operations[_id(f"send_{name}", taken)] = {
            "action": "send",
            "channel": channel_ref,
            "messages": [add_message(key, message)],
        }
    if typed:
        key = _id("wsgate.invalid", taken)
        invalid = {
            "name": "wsgate.invalid",
            "title": "Invalid body",
            "summary": "Sent instead of running a handler when a message body does not match.",
            "contentType": "application/json",
            "payload": _INVALID_FRAME,
        }
        operations[_id("send_invalid_body", taken)] = {
            "action": "send",
            "channel": channel_ref,
            "messages": [add_message(key, invalid)],
        }

    channel: dict[str, Any] = {
        "address": address,
        "title": "WebSocket connection",
        "description": (
            "One WebSocket connection. The route of each client message is chosen by the "
            f"route selection expression {expression}."
        ),
        "messages": channel_messages,
    }
    binding_ws = _connect_binding(app, schemas)
    if binding_ws:
        channel["bindings"] = {"ws": {**binding_ws, "bindingVersion": "0.1.0"}}
    components: dict[str, Any] = {"messages": messages}
    security = _security(app)
    if security:
        components["securitySchemes"] = security
        server["security"] = [{"$ref": f"#/components/securitySchemes/{k}"} for k in security]
    if schemas.definitions:
        components["schemas"] = schemas.definitions
    info: dict[str, Any] = {
        "title": title or getattr(app, "name", None) or "WebSocket API",
        "version": version,
        "description": description
        or (
            "An API Gateway WebSocket API served by wsgate. Route selection expression: "
            f"`{expression}`."
        ),
    }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": info,
        "defaultContentType": "application/json",
        "servers": {"production" if url is None else "default": server},
        "channels": {CHANNEL: channel},
        "operations": operations,
        "components": components,
        "x-wsgate-route-selection": expression,
    }


def _routing_field(expression: str) -> str | None:
    """The top-level body field of a ``$request.body.<field>`` expression, else ``None``."""
    from wsgate.selection import compile_expression

    paths = compile_expression(expression).paths
    if len(paths) == 1 and len(paths[0]) == 1 and isinstance(paths[0][0], str):
        return paths[0][0]
    return None


def _connect_binding(app: Any, schemas: SchemaSet) -> dict[str, Any]:
    """The ``ws`` channel binding: ``$connect`` query and headers schemas."""
    route = app.routes.get("$connect")
    binding = getattr(route, "body", None)
    out: dict[str, Any] = {"method": "GET"}
    for source in ("query", "headers"):
        model = binding.model(source) if binding is not None else None
        if model is not None:
            out[source] = schemas.object_schema(model)
    authorizer = getattr(app, "authorizer_config", None)
    for identity in getattr(authorizer, "identity_sources", ()) or ():
        part = {"querystring": "query", "header": "headers"}.get(identity.kind)
        if part is None:
            continue
        name = identity.name.lower() if part == "headers" else identity.name
        schema = dict(out.get(part) or {"type": "object"})
        schema["properties"] = {**schema.get("properties", {}), name: {"type": "string"}}
        schema["required"] = sorted({*schema.get("required", ()), name})
        out[part] = schema
    return out


def _security(app: Any) -> dict[str, Any]:
    authorizer = getattr(app, "authorizer_config", None)
    schemes: dict[str, Any] = {}
    for identity in getattr(authorizer, "identity_sources", ()) or ():
        where = {"querystring": "query", "header": "header"}.get(identity.kind)
        if where is None:
            continue
        key = _SAFE.sub("_", f"{where}_{identity.name}")
        schemes[key] = {
            "type": "httpApiKey",
            "name": identity.name,
            "in": where,
            "description": (
                f"Identity source {identity.expression} of the $connect REQUEST authorizer "
                "(every identity source must be present)."
            ),
        }
    return schemes


def render(document: dict[str, Any]) -> str:
    """The document as indented JSON text."""
    return json.dumps(document, indent=2, sort_keys=False) + "\n"
