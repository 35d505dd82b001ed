"""$connect: remember the connection (and the name from ?name=...)."""

import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    connection_id = event["requestContext"]["connectionId"]
    name = (event.get("queryStringParameters") or {}).get("name", "anonymous")
    table.put_item(Item={"connectionId": connection_id, "name": name})
    return {"statusCode": 200}
