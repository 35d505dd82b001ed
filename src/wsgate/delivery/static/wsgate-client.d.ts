// Type declarations for wsgate-client.js (wsgate's delivery protocol client; docs/delivery.md).

export interface WsgateClientOptions {
  /** Body field API Gateway routes on (the route selection expression's key). Default "action". */
  actionField?: string;
  /** First reconnect delay in ms (default 250), growth factor (2), cap (10000), random share (0.5). */
  initialDelay?: number;
  factor?: number;
  maxDelay?: number;
  jitter?: number;
  /** ms a connection must last for the reconnect backoff to start over (default 5000). */
  stableAfter?: number;
  /** ms for the WebSocket handshake before trying again (default 10000). */
  connectTimeout?: number;
  /** ms to wait for a missing sequence number before asking for a replay (default 1000). */
  gapTimeout?: number;
  /** ms acks are batched for (default 25). */
  ackDelay?: number;
  /** ms to wait for a request's ack before sending it again (default 10000), and how often. */
  requestTimeout?: number;
  requestAttempts?: number;
  /** Keeps stream positions across page reloads (e.g. sessionStorage). */
  storage?: { getItem(key: string): string | null; setItem(key: string, value: string): void } | null;
  storageKey?: string;
  /** Runs after every (re)connect, before the resume: rejoin rooms here. */
  onConnect?: ((client: WsgateClient) => unknown | Promise<unknown>) | null;
  /** A WebSocket class (default globalThis.WebSocket). */
  WebSocket?: unknown;
  protocols?: string | string[];
}

/** A tracked message, delivered once per stream in sequence order. */
export interface TrackedMessage<T = Record<string, unknown>> {
  stream: string;
  seq: number;
  id: string;
  attempt: number;
  /** The app's object, without the reserved `wsgate` key. */
  data: T;
}

export interface AckAnswer {
  status: "accepted" | "rejected";
  reason?: string;
  duplicate: boolean;
}

/** Rejection of request(): `reason` is the server's, or "timeout" / "closed". */
export interface RequestError extends Error {
  status?: "rejected";
  reason?: string;
  ackId: string;
}

export interface ResumedFrame {
  type: "wsgate.resumed";
  stream: string;
  status: "ok" | "lost" | "denied";
  from: number;
  latest: number;
  replayed: number;
  oldest?: number;
}

export interface ContinuityLost {
  stream: string;
  /** The position the client resumed from. */
  from: number;
  /** The last sequence number that is gone: the stream carries on at `to + 1`. */
  to: number;
  latest: number;
  oldest?: number;
}

export interface WsgateEvents {
  message: TrackedMessage;
  raw: unknown;
  open: { reconnected: boolean };
  close: { code: number; reason: string };
  reconnecting: { attempt: number; delay: number };
  resumed: ResumedFrame;
  continuityLost: ContinuityLost;
  denied: ResumedFrame;
  protocolError: { type: "wsgate.error"; reason: string };
  error: unknown;
}

export class WsgateClient {
  constructor(url: string, options?: WsgateClientOptions);
  readonly url: string;
  readonly clientId: string;
  readonly state: "connecting" | "open" | "reconnecting" | "closed";
  readonly attempt: number;
  /** Subscribe to an event; returns the unsubscribe function. */
  on<K extends keyof WsgateEvents>(name: K, listener: (value: WsgateEvents[K]) => void): () => void;
  /** Send a frame without acknowledgement; false when not connected. */
  send(body: object | string): boolean;
  /** Send a frame the server acknowledges; retried with the same ackId until answered. */
  request(body: object): Promise<AckAnswer>;
  /** The last sequence number delivered for a stream (0 when none). */
  position(stream: string): number;
  /** Stop tracking (and resuming) a stream. */
  forget(stream: string): void;
  /** Abandon the socket now and reconnect as after a network failure. */
  drop(): void;
  close(): void;
}

declare global {
  interface Window {
    /** Set by <script src="/wsgate-client.js">. */
    WsgateClient: typeof WsgateClient;
  }
}
