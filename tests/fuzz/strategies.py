"""Hypothesis strategies for hostile input: JSON-ish garbage and near-valid API Gateway events.

Every fuzz test runs with a fixed seed (``derandomize=True``), no example database and a fixed
example budget, so CI runs the same examples every time.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

#: Shared settings: deterministic, no database written, no per-example deadline.
FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.binary(max_size=20),
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
)

#: What ``json.loads`` can produce from a Lambda payload (NaN and Infinity included: Python's
#: decoder accepts them). Events are fuzzed with these; bytes cannot arrive in an event.
decoded_scalars = st.one_of(json_scalars, st.floats(allow_nan=True, allow_infinity=True))
decoded = st.recursive(
    decoded_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

#: Arbitrary Python values of the kinds a JSON decoder (or a careless caller) produces.
anything = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=12), st.integers()), children, max_size=4),
    ),
    max_leaves=20,
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

CONNECT: dict[str, Any] = {
    "headers": {"Host": "abc.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
    "multiValueHeaders": {
        "Host": ["abc.execute-api.us-east-1.amazonaws.com"],
        "Sec-WebSocket-Version": ["13"],
    },
    "queryStringParameters": {"token": "abc"},
    "multiValueQueryStringParameters": {"token": ["abc"]},
    "requestContext": {
        "routeKey": "$connect",
        "eventType": "CONNECT",
        "extendedRequestId": "K5trbG04joEFzdg=",
        "requestId": "K5trbG04joEFzdg=",
        "requestTime": "25/Dec/2021:10:45:28 +0000",
        "requestTimeEpoch": 1640429128939,
        "messageDirection": "IN",
        "stage": "production",
        "connectedAt": 1640429128939,
        "identity": {"sourceIp": "85.76.48.82", "userAgent": "Mozilla/5.0"},
        "domainName": "abc.execute-api.us-east-1.amazonaws.com",
        "connectionId": "K5trbcorjoECIfA=",
        "apiId": "abc",
        "authorizer": {"principalId": "user-1", "integrationLatency": 3, "n": "1"},
    },
    "isBase64Encoded": False,
}

MESSAGE: dict[str, Any] = {
    "requestContext": {
        "routeKey": "$default",
        "messageId": "R1knPc2ntjMCFIA=",
        "eventType": "MESSAGE",
        "extendedRequestId": "R1knPH17NjMFftw=",
        "requestId": "R1knPH17NjMFftw=",
        "requestTime": "20/Jan/2024:11:55:00 +0000",
        "requestTimeEpoch": 1705751700453,
        "messageDirection": "IN",
        "stage": "prod",
        "connectedAt": 1705751697419,
        "identity": {"sourceIp": "49.105.91.154"},
        "domainName": "dl7ptocha9.execute-api.ap-northeast-1.amazonaws.com",
        "connectionId": "R1kmxc2VNjMCFIA=",
        "apiId": "dl7ptocha9",
    },
    "body": '{"action":"sendmessage","data":"hi"}',
    "isBase64Encoded": False,
}

DISCONNECT: dict[str, Any] = {
    "headers": {"Host": "abcd1234.execute-api.us-east-1.amazonaws.com", "x-api-key": ""},
    "multiValueHeaders": {"Host": ["abcd1234.execute-api.us-east-1.amazonaws.com"]},
    "requestContext": {
        "routeKey": "$disconnect",
        "disconnectStatusCode": 1005,
        "eventType": "DISCONNECT",
        "extendedRequestId": "ABCD1234=",
        "requestTime": "09/Feb/2024:18:23:28 +0000",
        "messageDirection": "IN",
        "disconnectReason": "Client-side close frame status not set",
        "stage": "prod",
        "connectedAt": 1707503007396,
        "requestTimeEpoch": 1707503008941,
        "identity": {"sourceIp": "192.0.2.1"},
        "requestId": "ABCD1234=",
        "domainName": "abcd1234.execute-api.us-east-1.amazonaws.com",
        "connectionId": "AAAA1234=",
        "apiId": "abcd1234",
    },
    "isBase64Encoded": False,
}

BASES = (CONNECT, MESSAGE, DISCONNECT)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def near_valid_events(draw: st.DrawFn) -> Any:
    """A real event with a few fields replaced, deleted or added: the shapes that slip past."""
    event = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = _paths(event)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = event
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = draw(decoded)
        elif action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(decoded)
    if (draw(st.booleans()) and "body" in event) or draw(st.integers(0, 5)) == 0:
        event["body"] = draw(st.one_of(st.text(max_size=80), json_values.map(_dumps), decoded))
    if draw(st.integers(0, 6)) == 0:
        event["isBase64Encoded"] = True
    return event


def _dumps(value: Any) -> str:
    return json.dumps(value)


#: Any event a Lambda could be given: JSON garbage, or a near-valid event.
events = st.one_of(decoded, near_valid_events())

#: Message bodies: text, JSON of any shape, invalid UTF-8 as bytes.
bodies = st.one_of(
    st.text(max_size=100), json_values.map(_dumps), st.binary(max_size=60), st.none()
)
