"""A small Python client of the delivery protocol, for tests: reconnects, rejoins its rooms
(waiting for the join's ack), resumes, acks, drops duplicates, delivers in order.

It mirrors what ``wsgate-client.js`` does so server behaviour can be checked from Python with
abrupt socket kills (SO_LINGER 0: a reset, no close frame).
"""

from __future__ import annotations

import itertools
import json
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect


@dataclass
class StreamState:
    delivered: int = 0
    buffer: dict[int, dict[str, Any]] = field(default_factory=dict)
    gap_since: float | None = None


class ProtocolClient:
    """Runs in a background thread; read its fields under ``lock``."""

    def __init__(
        self, url: str, rooms: list[str], *, gap_timeout: float = 0.5, answer_timeout: float = 10
    ) -> None:
        self.url = url
        self.answer_timeout = answer_timeout
        self.rooms = rooms
        self.gap_timeout = gap_timeout
        self.lock = threading.Lock()
        self.streams: dict[str, StreamState] = {}
        self.delivered: dict[str, list[tuple[int, Any]]] = {}
        self.lost: list[dict[str, Any]] = []
        self.resumed: list[dict[str, Any]] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.connects = 0
        self.log: list[dict[str, Any]] = []  # every frame but messages, for diagnosis
        self.duplicates = 0
        self._ids = itertools.count(1)
        self.client_id = uuid.uuid4().hex[:12]
        self._online = threading.Event()
        self._online.set()
        self._stop = threading.Event()
        self._ws: ClientConnection | None = None
        self._joined = threading.Event()
        self._fresh: set[str] = set()
        self.thread = threading.Thread(target=self._run, name="protocol-client", daemon=True)
        self.thread.start()

    # --- control ---------------------------------------------------------------------------

    def kill(self, *, stay_offline: bool = False) -> None:
        """Drop the TCP connection with a reset (no close frame), optionally staying away."""
        if stay_offline:
            self._online.clear()
        ws = self._ws
        if ws is not None:
            sock = ws.socket
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # No close frame: the reader thread sees EOF, and linger 0 turns the final close
            # into a reset, as when a network path dies.
            sock.shutdown(socket.SHUT_RDWR)

    def go_online(self) -> None:
        self._online.set()

    def stop(self) -> None:
        self._stop.set()
        self._online.set()
        ws = self._ws
        if ws is not None:
            ws.close()
        self.thread.join(10)

    def joined(self) -> bool:
        return self._joined.is_set()

    def texts(self, stream: str) -> list[Any]:
        with self.lock:
            return [data["text"] for _, data in self.delivered.get(stream, [])]

    def seqs(self, stream: str) -> list[int]:
        with self.lock:
            return [seq for seq, _ in self.delivered.get(stream, [])]

    # --- the loop --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._online.wait()
            if self._stop.is_set():
                return
            try:
                with connect(self.url, open_timeout=5, close_timeout=1) as ws:
                    self._ws = ws
                    self.connects += 1
                    self._session(ws)
            except (ConnectionClosed, OSError, TimeoutError):
                pass
            finally:
                self._ws = None
                self._joined.clear()
            if not self._stop.is_set():
                time.sleep(0.05)  # reconnect backoff (short: tests)

    def _session(self, ws: ClientConnection) -> None:
        self._fresh = set()
        for room in self.rooms:
            ack_id = f"{self.client_id}-join-{next(self._ids)}"  # ack ids are global: prefix
            ws.send(json.dumps({"action": "join", "room": room, "ackId": ack_id}))
            while ack_id not in self.acks:
                self._handle(ws, json.loads(ws.recv(timeout=self.answer_timeout)))
            if self.acks[ack_id]["status"] != "accepted":
                raise ConnectionError(f"join refused: {self.acks[ack_id]}")  # start over
        with self.lock:  # streams first synced on this connection start now: not resumed
            positions = {s: st.delivered for s, st in self.streams.items() if s not in self._fresh}
        if positions:
            ws.send(json.dumps({"action": "wsgate.resume", "streams": positions}))
        self._joined.set()
        while not self._stop.is_set():
            try:
                raw = ws.recv(timeout=0.1)
            except TimeoutError:
                self._check_gaps(ws)
                continue
            self._handle(ws, json.loads(raw))

    def _handle(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        kind = "tracked" if isinstance(frame.get("wsgate"), dict) else frame.get("type")
        if kind != "tracked":
            self.log.append(frame)
        if kind == "wsgate.ack":
            self.acks[frame["ackId"]] = frame
        elif kind == "wsgate.sync":
            with self.lock:
                if frame["stream"] not in self.streams:
                    self.streams[frame["stream"]] = StreamState(delivered=frame["seq"])
                    self._fresh.add(frame["stream"])
        elif kind == "tracked":
            self._message(ws, frame)
        elif kind == "wsgate.resumed":
            with self.lock:
                self.resumed.append(frame)
                state = self.streams.get(frame["stream"])
                if frame["status"] == "lost" and state is not None:
                    self.lost.append(frame)
                    oldest = frame.get("oldest")
                    start = frame["latest"] if oldest is None else oldest - 1
                    state.buffer = {s: f for s, f in state.buffer.items() if s > start}
                    state.delivered = max(state.delivered, start)
                    self._flush(frame["stream"], state)
            if frame["status"] == "lost":
                self._ack(ws, frame["stream"])
            elif frame["status"] == "denied":
                raise ConnectionError(f"resume denied: {frame}")  # reconnect and rejoin

    def _message(self, ws: ClientConnection, frame: dict[str, Any]) -> None:
        stream, seq = frame["wsgate"]["stream"], frame["wsgate"]["seq"]
        with self.lock:
            state = self.streams.setdefault(stream, StreamState(delivered=seq - 1))
            if seq <= state.delivered or seq in state.buffer:
                self.duplicates += 1
            else:
                state.buffer[seq] = frame
            self._flush(stream, state)
        self._ack(ws, stream)

    def _flush(self, stream: str, state: StreamState) -> None:
        while state.delivered + 1 in state.buffer:
            frame = state.buffer.pop(state.delivered + 1)
            state.delivered += 1
            data = {k: v for k, v in frame.items() if k != "wsgate"}
            self.delivered.setdefault(stream, []).append((frame["wsgate"]["seq"], data))
        state.gap_since = (state.gap_since or time.monotonic()) if state.buffer else None

    def _ack(self, ws: ClientConnection, stream: str) -> None:
        with self.lock:
            position = self.streams[stream].delivered
        if position:
            ws.send(json.dumps({"action": "wsgate.ack", "acks": {stream: position}}))

    def _check_gaps(self, ws: ClientConnection) -> None:
        now = time.monotonic()
        with self.lock:
            gaps = {
                s: st.delivered
                for s, st in self.streams.items()
                if st.gap_since is not None and now - st.gap_since > self.gap_timeout
            }
            for s in gaps:
                self.streams[s].gap_since = now
        if gaps:
            ws.send(json.dumps({"action": "wsgate.resume", "streams": gaps}))
