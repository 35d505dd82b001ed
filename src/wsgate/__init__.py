"""wsgate: real-time WebSocket apps on AWS API Gateway + Lambda + DynamoDB.

Importing this package loads only the sans-I/O core: no boto3, no asyncio.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

__all__ = ["__version__"]
