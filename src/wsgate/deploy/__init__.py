"""Deployment: a complete SAM template generated from the app (``wsgate template APP``).

See :mod:`wsgate.deploy.template` and ``docs/deploy.md``. Nothing here is imported by
``import wsgate``; the table definition comes from the DynamoDB registry itself
(:mod:`wsgate.deploy.table`).
"""

from __future__ import annotations

from wsgate.deploy.table import TableDefinition, table_definition
from wsgate.deploy.template import (
    DYNAMODB_ACTIONS,
    TemplateOptions,
    build_template,
    render_template,
)

__all__ = [
    "DYNAMODB_ACTIONS",
    "TableDefinition",
    "TemplateOptions",
    "build_template",
    "render_template",
    "table_definition",
]
