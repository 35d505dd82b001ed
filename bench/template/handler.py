"""Plain Lambda handlers, one per route, written as a user would (boto3, no wsgate)."""

import os

import boto3

_table = None
_clients = {}


def _members():
    global _table
    if _table is None:
        _table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])
    return _table


def connect(event, context):
    return {"statusCode": 200}


def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}


def join(event, context):
    _members().put_item(Item={"connectionId": event["requestContext"]["connectionId"]})
    return {"statusCode": 200, "body": "joined"}


def _management(event):
    # serverless-offline is told its plain-HTTP endpoint; wsgate's in-process baseline uses
    # WSGATE_ENDPOINT; a template function builds it as most apps do, from the event.
    ctx = event["requestContext"]
    endpoint = (
        os.environ.get("MANAGEMENT_ENDPOINT")
        or os.environ.get("WSGATE_ENDPOINT")
        or f"https://{ctx['domainName']}/{ctx['stage']}"
    )
    if endpoint not in _clients:
        _clients[endpoint] = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    return _clients[endpoint]


def post(event, context):
    """The reply most apps send: post_to_connection back to the sender (one-way route)."""
    connection = event["requestContext"]["connectionId"]
    _management(event).post_to_connection(ConnectionId=connection, Data=event["body"].encode())
    return {"statusCode": 200}


def broadcast(event, context):
    client = _management(event)
    scan = {"ProjectionExpression": "connectionId"}
    while True:
        page = _members().scan(**scan)
        for item in page["Items"]:
            client.post_to_connection(ConnectionId=item["connectionId"], Data=b"news")
        if "LastEvaluatedKey" not in page:
            return {"statusCode": 200}
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
