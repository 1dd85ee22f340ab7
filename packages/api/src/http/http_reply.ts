/**
 * How the HTTP listener answers: JSON bodies with headers that keep answers out of caches and
 * stop content sniffing, and errors in Vault's shape `{errors: [message]}` plus a stable
 * `code`. Error messages are fixed strings chosen by the listener or core: they never repeat a
 * header value, a query value or the request path.
 */
import type { ServerResponse } from 'node:http';

/** Headers every answer carries. */
const commonHeaders = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
} as const;

/** Options of {@link sendJson}. */
export interface ReplyOptions {
  /** Extra headers (e.g. `allow` on a 405). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Send the status and headers only (HEAD). */
  readonly headOnly?: boolean;
}

/** Sends `body` as JSON with `status`. */
export function sendJson(
  response: ServerResponse,
  reply: { readonly status: number; readonly body: unknown },
  options: ReplyOptions = {},
): void {
  const text = options.headOnly === true ? '' : `${JSON.stringify(reply.body)}\n`;
  response.writeHead(reply.status, {
    ...commonHeaders,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...options.headers,
  });
  response.end(text);
}

/** Sends `text` with `status` and `contentType` (the Prometheus exposition). */
export function sendText(
  response: ServerResponse,
  reply: { readonly status: number; readonly text: string },
  contentType: string,
): void {
  response.writeHead(reply.status, {
    ...commonHeaders,
    'content-type': contentType,
    'content-length': Buffer.byteLength(reply.text),
  });
  response.end(reply.text);
}

/** One refusal: an HTTP status, a stable COFFER_* code and a message that says what to do. */
export interface HttpRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
}

/** Sends a refusal as `{errors: [message], code}`. */
export function sendError(
  response: ServerResponse,
  refusal: HttpRefusal,
  options: ReplyOptions = {},
): void {
  sendJson(
    response,
    { status: refusal.status, body: { errors: [refusal.message], code: refusal.code } },
    options,
  );
}
