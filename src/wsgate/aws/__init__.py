"""What every AWS call wsgate makes shares: credentials, SigV4, retries and the HTTP client.

The sender (API Gateway's Management API) and the DynamoDB client sign with one SigV4
implementation (:mod:`wsgate.aws.sigv4`), read one set of credentials
(:mod:`wsgate.aws.credentials`), retry by one policy (:mod:`wsgate.aws.retry`) and talk
through one stdlib HTTP/1.1 client and its keep-alive pool (:mod:`wsgate.aws.http`,
:mod:`wsgate.aws.response`). Nothing here imports asyncio, typing, logging or boto3.
"""
