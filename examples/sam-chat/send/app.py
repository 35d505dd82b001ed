"""send: post {"action": "send", "text": ...} to every connection; reply "sent N" (two-way)."""

import json
import os

import boto3

table = boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def handler(event, context):
    context_ = event["requestContext"]
    text = json.loads(event["body"]).get("text", "")
    sender = table.get_item(Key={"connectionId": context_["connectionId"]}).get("Item", {})
    message = json.dumps({"from": sender.get("name", "anonymous"), "text": text})
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{context_['domainName']}/{context_['stage']}",
    )
    sent = 0
    for item in table.scan(ProjectionExpression="connectionId")["Items"]:
        try:
            management.post_to_connection(ConnectionId=item["connectionId"], Data=message)
            sent += 1
        except management.exceptions.GoneException:
            table.delete_item(Key={"connectionId": item["connectionId"]})
    return {"statusCode": 200, "body": f"sent {sent}"}
