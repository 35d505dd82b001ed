"""pytest plugin for wsgate (registered through the ``pytest11`` entry point).

Kept light: importing it must not import boto3, aiohttp or any optional extra, because pytest
loads it in every project where wsgate is installed.
"""

from __future__ import annotations
