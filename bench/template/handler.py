"""Plain Lambda handlers, one per route, written as a user would (boto3, no wsgate)."""

import os

import boto3

_table = None


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


def broadcast(event, context):
    ctx = event["requestContext"]
    endpoint = os.environ.get("WSGATE_ENDPOINT") or f"https://{ctx['domainName']}/{ctx['stage']}"
    client = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    scan = {"ProjectionExpression": "connectionId"}
    while True:
        page = _members().scan(**scan)
        for item in page["Items"]:
            client.post_to_connection(ConnectionId=item["connectionId"], Data=b"news")
        if "LastEvaluatedKey" not in page:
            return {"statusCode": 200}
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
