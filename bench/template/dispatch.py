"""The baseline: the same handlers in-process behind one hand-written dispatcher."""

import handler

ROUTES = {
    "$connect": handler.connect,
    "echo": handler.echo,
    "post": handler.post,
    "join": handler.join,
    "broadcast": handler.broadcast,
}


def dispatch(event, context):
    return ROUTES[event["requestContext"]["routeKey"]](event, context)
