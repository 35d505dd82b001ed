"""Every function in the seed's CORE FUNCTIONS list exists with the seed's signature."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest
from gateway_seed import seed_core_block

import wsgate.gateway as gateway

#: The seed's CORE FUNCTIONS block, written out here as well, so a change to either is seen.
CORE_FUNCTIONS = """\
# Connection management
ws_store_connection(connection_id, user_id=None, metadata=None, ttl=None)
ws_get_connection(connection_id)
ws_delete_connection(connection_id)
ws_update_connection(connection_id, updates)

# Querying connections
ws_get_all_connections()
ws_get_connections_by_user(user_id)
ws_get_active_connections(since_timestamp=None)

# Message sending
ws_send_message(connection_id, data)
ws_send_json(connection_id, json_data)
ws_send_text(connection_id, text)

# Broadcasting
ws_broadcast_message(connection_ids, data)
ws_broadcast_to_all(data)
ws_broadcast_to_users(user_ids, data)

# Error handling
ws_is_connection_alive(connection_id)
ws_cleanup_stale_connections(max_age_seconds=7200)

# Management API
ws_get_management_client()
ws_disconnect_connection(connection_id)
"""

#: Functions the seed's examples and use cases call beyond the CORE FUNCTIONS list.
EXTRA_FUNCTIONS = """\
ws_get_connections_by_room(room_id)
ws_get_connections_by_subscription(topic)
ws_join_room(connection_id, room_id)
ws_leave_room(connection_id, room_id)
ws_subscribe(connection_id, topic)
ws_unsubscribe(connection_id, topic)
ws_broadcast_to_room(room_id, data)
"""


def parse_signatures(block: str) -> dict[str, list[tuple[str, Any]]]:
    """``name(a, b=1)`` lines → {name: [(param, default or inspect.Parameter.empty)]}."""
    result: dict[str, list[tuple[str, Any]]] = {}
    for line in block.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        call = ast.parse(line, mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), line
        params: list[tuple[str, Any]] = []
        for arg in call.args:
            assert isinstance(arg, ast.Name), line
            params.append((arg.id, inspect.Parameter.empty))
        for keyword in call.keywords:
            assert keyword.arg is not None, line
            params.append((keyword.arg, ast.literal_eval(keyword.value)))
        result[call.func.id] = params
    return result


def check_signature(name: str, expected: list[tuple[str, Any]]) -> None:
    function = getattr(gateway, name, None)
    assert callable(function), f"wsgate.gateway.{name} is missing"
    parameters = list(inspect.signature(function).parameters.values())
    actual = [(p.name, p.default) for p in parameters]
    assert actual == expected, f"{name}{inspect.signature(function)} != seed's {expected}"
    for parameter in parameters:
        # Callable positionally and by keyword, as the seed does both (Rule 4: by keyword).
        assert parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (name, parameter)


@pytest.mark.parametrize(("name", "expected"), sorted(parse_signatures(CORE_FUNCTIONS).items()))
def test_core_function_has_the_seed_signature(name: str, expected: list[tuple[str, Any]]) -> None:
    check_signature(name, expected)


@pytest.mark.parametrize(("name", "expected"), sorted(parse_signatures(EXTRA_FUNCTIONS).items()))
def test_extra_function_signature(name: str, expected: list[tuple[str, Any]]) -> None:
    check_signature(name, expected)


def test_the_copy_is_the_seed_list() -> None:
    from_seed = parse_signatures(seed_core_block())
    assert from_seed == parse_signatures(CORE_FUNCTIONS)
    assert len(from_seed) == 17


def test_seed_list_signatures_from_the_seed_itself() -> None:
    for name, expected in parse_signatures(seed_core_block()).items():
        check_signature(name, expected)


def test_logging_helpers_exist() -> None:
    for name in ("log_info", "log_error", "log_warning", "log_debug"):
        assert callable(getattr(gateway, name))


def test_public_names_are_pinned() -> None:
    expected = sorted(
        [
            *parse_signatures(CORE_FUNCTIONS),
            *parse_signatures(EXTRA_FUNCTIONS),
            "log_debug",
            "log_error",
            "log_info",
            "log_warning",
        ]
    )
    assert sorted(gateway.__all__) == expected
    for name in gateway.__all__:
        assert getattr(gateway, name).__doc__, f"{name} has no docstring"
