import { Agent } from "node:http";

/**
 * How long the benches' senders keep an idle kept-alive socket: under the API's
 * keepAliveTimeout (65 s, apps/api/src/main.ts). node's agent keeps idle sockets for ever
 * unless given a timeout, so a socket left idle about as long as the API's timeout is reused
 * just as the API closes it, and the request written on it gets ECONNRESET and no answer —
 * the keep-alive race any HTTP/1.1 client meets (a sender retries such a request; Stripe
 * does). bench/webhooks.ts lost 48 events' answers to it in a run (its rows leave most of a
 * fast row's sockets idle for a minute: the agent reuses the newest first).
 */
export const IDLE_SOCKET_MS = 60_000;

/** A kept-alive node:http agent that closes its idle sockets before the API does ({@link IDLE_SOCKET_MS}). */
export function keptAliveAgent(maxSockets: number): Agent {
  return new Agent({ keepAlive: true, maxSockets, timeout: IDLE_SOCKET_MS });
}
