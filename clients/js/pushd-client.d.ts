// Type declarations for pushd-client.js (the pushd WebSocket client).

/** Connection states, in the order a connection goes through them. */
export type PushdState = 'idle' | 'connecting' | 'authenticating' | 'open' | 'reconnecting' | 'closed';

/** A token, or a function that fetches a fresh one (called for every connection and before expiry). */
export type TokenSource = string | (() => string | Promise<string>);

/** The constructor of a WebSocket: the browser's, or the `ws` package's in Node.js. */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  terminate?(): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}
export type WebSocketConstructor = new (url: string) => WebSocketLike;

export interface PushdClientOptions {
  /**
   * ws://host:8889/ws (or wss://); several endpoints (tried in turn, one per
   * connection, so a reconnect goes to the next instance); or a function
   * given the connection's ordinal (0, 1, ...) returning the url.
   */
  url: string | string[] | ((attempt: number) => string);
  token: TokenSource;
  /** Default: globalThis.WebSocket. */
  WebSocket?: WebSocketConstructor;
  /** Groups to join on every connection. */
  groups?: string[];
  /** Resume notifications after this notification_id on the first connection too. */
  lastNotificationId?: string;
  /** ms between application `ping`s. Default 30000. */
  pingInterval?: number;
  /** ms to wait for a `pong` before the link counts as dead. Default 10000. */
  pongTimeout?: number;
  /** ms from opening a socket to `auth_success`. Default 10000. */
  connectTimeout?: number;
  /** ms a request may wait for its ack, offline time included. Default 30000. */
  requestTimeout?: number;
  /** Base of the exponential reconnect backoff, ms. Default 250. */
  reconnectDelay?: number;
  /** Cap of the reconnect backoff, ms. Default 10000. */
  maxReconnectDelay?: number;
  /** Reconnect attempts in a row before giving up (state 'closed'). Default Infinity. */
  maxReconnectAttempts?: number;
  /** Fetch a fresh token this many ms before expiry (token functions only). Default 60000. */
  refreshBeforeExpiry?: number;
  /** ms before the first retry of a request refused with 503 or 429 (doubled per failure, with jitter). Default 1000. */
  retryDelay?: number;
  /** Cap of that retry delay, ms. Default 10000. */
  maxRetryDelay?: number;
  /** Requests waiting for an ack at once. Default 1000. */
  maxPending?: number;
  /** Ids remembered per group (and for notifications) to drop duplicates. Default 1000. */
  dedupWindow?: number;
  /** Groups this client may be in. Default 1024 (the server's limit per connection). */
  maxGroups?: number;
  /** Allowed clock difference between pushd and Redis, ms (resuming a group before its first message). Default 1000. */
  clockSkew?: number;
}

/** A group message (`new_message`'s data). */
export interface PushdMessage {
  group_id: string;
  /** Server-assigned id, increasing within the group. */
  message_id: string;
  /** The sender's request message_id. */
  client_message_id: string;
  sender_id: string;
  msg_type: number;
  content: string;
  timestamp: number;
  /** Present on copies replayed from history. */
  replay?: boolean;
}

/** A system notification (`notification`'s data). */
export interface PushdNotification {
  notification_id: string;
  data: Record<string, unknown>;
  timestamp: number;
  replay?: boolean;
}

export interface PushdStateEvent {
  state: PushdState;
  previous: PushdState;
  /** 'reconnecting': the attempt number and the delay before it, ms. */
  attempt?: number;
  delay?: number;
  /** The close code and reason that ended the last connection, when known. */
  code?: number;
  reason?: string;
  /** 'open': who the connection is authenticated as. */
  userId?: string;
  sessionId?: string;
  /** 'closed': why the client stopped. */
  error?: PushdError;
}

export interface PushdAck {
  message_id: string;
  success: true;
  /** send_message: the stored message's id. */
  server_message_id?: string;
  /** send_message: this was a retry of a stored message. */
  duplicate?: boolean;
  /** join_group with since: older messages were trimmed from the history. */
  truncated?: boolean;
}

export interface PushdEvents {
  message: PushdMessage;
  notification: PushdNotification;
  state: PushdStateEvent;
  error: PushdError;
}

export type PushdErrorCode =
  | number
  | 'timeout'
  | 'closed'
  | 'disconnected'
  | 'queue_full'
  | 'duplicate'
  | 'auth_failed'
  | 'connection'
  | 'protocol'
  | 'truncated';

export class PushdError extends Error {
  /** The server's code (400, 401, 403, 404, 409, 422, 429, 503) or one of the client's own. */
  code: PushdErrorCode;
  details?: unknown;
  constructor(code: PushdErrorCode, message: string, details?: unknown);
}

/** Compares two Redis stream ids as the server orders them: <0, 0 or >0. */
export function compareStreamIds(a: string, b: string): number;

export class PushdClient {
  constructor(options: PushdClientOptions);
  readonly state: PushdState;
  /** From the last auth_success. */
  readonly userId: string | null;
  readonly sessionId: string | null;
  readonly expiresAt: number | null;

  on<K extends keyof PushdEvents>(type: K, listener: (event: PushdEvents[K]) => void): () => void;
  off<K extends keyof PushdEvents>(type: K, listener: (event: PushdEvents[K]) => void): void;

  /** Starts; resolves when the first connection is authenticated. */
  connect(): Promise<void>;
  /** Stops for good: rejects pending requests with code 'closed'. */
  close(): void;

  join(groupId: string, options?: { since?: string }): Promise<PushdAck>;
  leave(groupId: string): Promise<PushdAck | { success: true }>;
  send(
    groupId: string,
    content: string,
    options?: { msgType?: number; messageId?: string; timeout?: number },
  ): Promise<PushdAck>;
  markRead(groupId: string, messageId: string): Promise<PushdAck>;
  joinedGroups(): string[];
}

export default PushdClient;
