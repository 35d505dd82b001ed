"""The cold-start function: imports boto3 at module level, as most Python functions do."""

import boto3  # noqa: F401


def handler(event, context):
    return {"statusCode": 200}
