import { createHash } from "node:crypto";
import { connect as connectTcp, type Socket } from "node:net";
import type { Notification, Notifier, NotifyError, PersonId } from "@susu/domain";
import { errAsync, okAsync, ResultAsync } from "neverthrow";
import nodemailer, { type Transporter } from "nodemailer";
import type { PrismaClient } from "../db/prisma-client.js";
import { DEFAULT_DELIVERY_CONCURRENCY } from "./delivery-worker.js";
import type { LineSink } from "./log-notifier.js";
import { maskEmail } from "./log-notifier.js";
import type { MailLocale } from "./mail-format.js";
import { type MailRenderError, type RenderedMail, tryRenderMail } from "./mail-templates.js";

/** People's e-mail addresses, by person id; a person without one is left out of the map. */
export interface PersonEmails {
  emailsOf(personIds: readonly PersonId[]): ResultAsync<ReadonlyMap<PersonId, string>, NotifyError>;
}

/** People's addresses from the `people.email` column. */
export class PrismaPersonEmails implements PersonEmails {
  constructor(private readonly prisma: PrismaClient) {}
  emailsOf(personIds: readonly PersonId[]): ResultAsync<ReadonlyMap<PersonId, string>, NotifyError> {
    if (personIds.length === 0) return okAsync(new Map());
    return ResultAsync.fromPromise(
      this.prisma.person.findMany({
        where: { id: { in: [...personIds] }, email: { not: null } },
        select: { id: true, email: true },
      }),
      (e): NotifyError => failed(`reading people's e-mail addresses failed: ${String(e)}`),
    ).map((rows) => new Map(rows.flatMap((r) => (r.email ? [[r.id as PersonId, r.email] as const] : []))));
  }
}

/** What the SMTP notifier is configured with. */
export interface SmtpNotifierOptions {
  /**
   * `smtp://host:port` or `smtps://user:pass@host:465`: a pooled transport (connections kept
   * open and reused, up to `maxConnections`); or a nodemailer transporter, used as it is.
   */
  readonly transport: string | Transporter;
  /**
   * Most connections a `transport` given as a URL keeps open, hence most messages sent at
   * once (further ones wait in the pool for a free connection): default
   * {@link DEFAULT_DELIVERY_CONCURRENCY}; a delivery worker passes its concurrency. Parameters
   * in the URL (`pool`, `maxConnections`, `maxMessages`, …) win over this.
   */
  readonly maxConnections?: number;
  /** The `From` address, e.g. `susu <no-reply@example.com>`; its domain names the Message-IDs. */
  readonly from: string;
  /** Who `platform_admins` are. */
  readonly adminEmails: readonly string[];
  readonly people: PersonEmails;
  readonly where: MailLocale;
  /** Where it writes a line for a notification nobody could be written to. */
  readonly log?: LineSink;
  /**
   * Timeouts (ms) of a `transport` given as a URL: nodemailer's defaults (2 min to connect,
   * 10 min of socket inactivity) outlive a delivery worker's lease, so a worker passes
   * `smtpTimeoutsFor(timeoutMs)`. Parameters in the URL win over these. They hold for each
   * of the pool's connections; one left idle for `socketTimeout` is closed (the next message
   * opens another).
   */
  readonly timeouts?: {
    readonly connectionTimeout: number;
    readonly greetingTimeout: number;
    readonly socketTimeout: number;
  };
}

const failed = (message: string): NotifyError => ({ type: "notify_failed", code: "notify_failed", message });
const rejected = (message: string): NotifyError => ({
  type: "notify_rejected",
  code: "notify_rejected",
  message,
});

/**
 * An SMTP error as the port's. Only a server refusing the recipient is a refusal for good
 * (`notify_rejected`: the address bounces, the effect is parked): a 5xx answer to RCPT TO
 * (nodemailer's `command`) whose enhanced status, when it gives one, is about the recipient's
 * address or mailbox. Everything else is for now (`notify_failed`: retried, then failed and
 * alerted), however permanent its code: a 5xx at the connection's greeting, AUTH, MAIL FROM or
 * DATA, and relaying or authentication refused at RCPT TO, is the provider refusing the
 * platform (sender not verified, credentials wrong, account suspended, message refused), which
 * every recipient would get; taken as a bounce it would mark every person's valid address as
 * bouncing for good. A 4xx reply or no reply at all (refused, timed out) is for now too.
 */
export function notifyErrorOf(e: unknown, to: string): NotifyError {
  const err = e as { responseCode?: unknown; code?: unknown; message?: unknown; command?: unknown };
  const status = typeof err.responseCode === "number" ? err.responseCode : undefined;
  const what = `${typeof err.code === "string" ? `${err.code}: ` : ""}${String(err.message ?? e)}`;
  const message = `sending to ${maskEmail(to)} failed${status !== undefined ? ` (${status})` : ""}: ${what}`;
  return refusesRecipient(err) ? rejected(message) : failed(message);
}

/**
 * Whether an SMTP error (nodemailer's: `command`, `responseCode`, `response`) is the server
 * refusing the recipient: a 5xx answer to RCPT TO that is not about the sender or the
 * platform. RFC 3463's enhanced status says whose: X.1.x is an address (but X.1.7 and X.1.8
 * the sender's), X.2.x the mailbox, X.4.x routing to it (Microsoft 365 answers an unknown
 * recipient 5.4.1); X.3.x (the mail system, a message too big), X.5.x (protocol) and X.7.x
 * (security and policy: relaying denied, authentication required, a blocked sender) are about
 * the platform. Without an enhanced status a reply naming relaying or authentication is too.
 */
function refusesRecipient(err: {
  responseCode?: unknown;
  command?: unknown;
  response?: unknown;
  message?: unknown;
}): boolean {
  const status = typeof err.responseCode === "number" ? err.responseCode : undefined;
  if (status === undefined || status < 500 || status >= 600) return false;
  if (typeof err.command !== "string" || !/^RCPT TO\b/i.test(err.command)) return false;
  const reply = typeof err.response === "string" ? err.response : String(err.message ?? "");
  const enhanced = /\b5\.(\d{1,3})\.(\d{1,3})\b/.exec(reply);
  if (enhanced !== null) {
    const [subject, detail] = [Number(enhanced[1]), Number(enhanced[2])];
    if (subject === 1) return detail !== 7 && detail !== 8;
    return subject === 2 || subject === 4;
  }
  return !/relay|auth/i.test(reply);
}

/**
 * A transport URL with the options it does not set itself as query parameters (numbers as
 * whole milliseconds or counts of at least 1): nodemailer reads a URL's options from its
 * query only (options beside a `url` are ignored), `true` and numbers as such.
 */
function withOptions(url: string, options: Readonly<Record<string, number | boolean>>): string {
  const query = url.includes("?") ? url.slice(url.indexOf("?") + 1).split("&") : [];
  const given = new Set(query.map((p) => p.split("=")[0]));
  const added = Object.entries(options)
    .filter(([k]) => !given.has(k))
    .map(([k, v]) => `${k}=${typeof v === "number" ? Math.max(1, Math.round(v)) : v}`);
  if (added.length === 0) return url;
  return `${url}${url.includes("?") ? "&" : "?"}${added.join("&")}`;
}

/** The connection settings nodemailer passes to its socket hook (those {@link connectWithoutDelay} reads). */
interface SocketRequest {
  readonly host?: string;
  readonly port?: number;
  readonly secure?: boolean;
  readonly localAddress?: string;
  readonly connectionTimeout?: number;
}

/** What nodemailer's socket hook calls back with: an open socket it then speaks SMTP on. */
type SocketCallback = (error: Error | null, socket?: false | { connection: Socket }) => void;

/** nodemailer's socket hook (documented for proxies; a `proxy` URL option installs one). */
type GetSocket = (request: SocketRequest, callback: SocketCallback) => void;

/**
 * Opens the TCP connection of an SMTP session with Nagle's algorithm off (nodemailer leaves it
 * on): a message is written in several small writes, and with Nagle the next waits for the
 * server to acknowledge the last, which a server delays by up to 40 ms while it waits for the
 * rest — measured 44 ms per message on a kept-open connection to a local server, 1–5 ms
 * without. nodemailer takes the connected socket as it takes a proxy's: it upgrades it to TLS
 * for `smtps://` and on STARTTLS as it would its own, and a failure to connect (refused,
 * unreachable, not within `connectionTimeout`) fails the send as its own connect would. It
 * connects where nodemailer's own connect would (the port, else 465 for `smtps://` and 587
 * otherwise; from `localAddress` when set), with keep-alives on as nodemailer sets them.
 */
function connectWithoutDelay(request: SocketRequest, callback: SocketCallback): void {
  const socket = connectTcp({
    host: request.host || "localhost",
    port: Number(request.port) || (request.secure === true ? 465 : 587),
    ...(request.localAddress ? { localAddress: request.localAddress } : {}),
    noDelay: true,
    keepAlive: true,
  });
  let settled = false;
  const settle = (error: Error | null) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    socket.removeListener("error", settle);
    if (error !== null) {
      socket.destroy();
      callback(error);
    } else callback(null, { connection: socket });
  };
  const timer = setTimeout(
    () => settle(Object.assign(new Error("Connection timeout"), { code: "ETIMEDOUT" })),
    // As nodemailer reads it: 0 or unset is its default of 2 minutes.
    request.connectionTimeout || 120_000,
  );
  socket.once("error", settle);
  socket.once("connect", () => settle(null));
}

/**
 * The socket hook of a transport: {@link connectWithoutDelay}, or when nodemailer installed its
 * own (a `proxy` URL option), that one with Nagle's algorithm turned off on the socket it hands over.
 */
function socketHookOf(own: GetSocket | undefined): GetSocket {
  if (typeof own !== "function") return connectWithoutDelay;
  return (request, callback) =>
    own(request, (error, socket) => {
      if (error === null && socket) socket.connection.setNoDelay(true);
      callback(error, socket);
    });
}

/**
 * How many connections the pool of a transport URL keeps at most: its `maxConnections` when
 * it sets a whole number, else `fallback`; undefined when the URL turns the pool off.
 */
function pooledConnections(url: string, fallback: number): number | undefined {
  let query: URLSearchParams;
  try {
    query = new URL(url).searchParams;
  } catch {
    return fallback;
  }
  if (query.get("pool") === "false") return undefined;
  const given = Number(query.get("maxConnections") ?? Number.NaN);
  return Number.isInteger(given) && given >= 1 ? given : fallback;
}

/** The domain of an address (`susu <no-reply@mail.example>` → `mail.example`). */
function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match?.[1] ?? "susu.invalid";
}

/** A Message-ID safe form of the notification id (ids hold `:`; the local part must be an atom). */
function idPart(notificationId: string): string {
  return notificationId.replace(
    /[^A-Za-z0-9._-]/g,
    (c) => `=${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

/**
 * Notifications as e-mail through SMTP. Each recipient gets their own message (no one sees
 * another's address) whose Message-ID is the notification id and a hash of the recipient:
 * a resend after a retry carries the same Message-ID, so it is recognisable as the same
 * message. Recipients: people by their stored address (people without one are skipped),
 * the notification's `emails`, and `platform_admins` from configuration. A transport given
 * as a URL is a nodemailer pool: a message goes out on a connection left open by an earlier
 * one when there is one free (a connection that saw a refusal or an error is closed, and a
 * new one opened for the next message); {@link close} closes them.
 */
export class SmtpNotifier implements Notifier {
  /**
   * The most messages it sends at once (a pool's connections, the URL's `maxConnections` when
   * it sets one), or undefined when it does not cap them (a transporter given as such, a URL
   * with `pool=false`). A message beyond it waits inside nodemailer for a free connection: a
   * delivery worker sends no more e-mails at once than this, so none waits there after its
   * lease was renewed.
   */
  readonly sendsAtOnce: number | undefined;
  private readonly transporter: Transporter;
  private readonly domain: string;
  private closed = false;

  constructor(private readonly options: SmtpNotifierOptions) {
    if (typeof options.transport === "string") {
      const connections = options.maxConnections ?? DEFAULT_DELIVERY_CONCURRENCY;
      this.sendsAtOnce = pooledConnections(options.transport, connections);
      const pool = nodemailer.createTransport(
        withOptions(options.transport, { pool: true, maxConnections: connections, ...options.timeouts }),
      );
      // nodemailer's hook for the connections it opens (documented for proxies; set already
      // when the URL names a proxy, and then kept).
      const hooked = pool as Transporter & { getSocket?: GetSocket };
      hooked.getSocket = socketHookOf(hooked.getSocket);
      this.transporter = pool;
    } else {
      this.sendsAtOnce = undefined;
      this.transporter = options.transport;
    }
    this.domain = domainOf(options.from);
  }

  /** The Message-ID a notification gets for a recipient. */
  messageId(notificationId: string, to: string): string {
    const who = createHash("sha256").update(to.toLowerCase()).digest("hex").slice(0, 16);
    return `<${idPart(notificationId)}.${who}@${this.domain}>`;
  }

  send(n: Notification): ResultAsync<void, NotifyError> {
    return this.recipientsOf(n).andThen((to) => {
      if (to.length === 0) {
        // Nobody has an address: a retry would find nobody either.
        this.options.log?.info(
          { notificationId: n.id, template: n.template, to: n.personIds, toRoles: n.roles ?? [] },
          "notification has no e-mail recipient",
        );
        return okAsync(undefined);
      }
      // An e-mail that cannot be written never will be: refused for good, the effect parked.
      const mail = tryRenderMail(n, this.options.where);
      if (mail.isErr()) return errAsync(rejected(mail.error.message));
      // One after the other: a failure stops here, and the retry resends the same Message-IDs.
      return to.reduce<ResultAsync<void, NotifyError>>(
        (sent, address) => sent.andThen(() => this.sendOne(n, address, mail.value)),
        okAsync(undefined),
      );
    });
  }

  /**
   * Sends one stored notification to one address, written for `where` (the recipient's
   * locale and time zone): what the delivery worker calls for an e-mail delivery. One that
   * cannot be written (a template this release has not got, a locale or time zone Intl
   * refuses) is `mail_unrenderable`, and nothing is sent.
   */
  deliver(n: Notification, to: string, where: MailLocale): ResultAsync<void, NotifyError | MailRenderError> {
    const mail = tryRenderMail(n, where);
    return mail.isErr() ? errAsync(mail.error) : this.sendOne(n, to, mail.value);
  }

  /**
   * Closes the transport: a pool's idle connections at once, a busy one once its message is
   * answered. A message sent after it fails for now (`notify_failed`): nodemailer's closed pool
   * would take it and never answer.
   */
  close(): void {
    this.closed = true;
    this.transporter.close();
  }

  private sendOne(n: Notification, to: string, mail: RenderedMail): ResultAsync<void, NotifyError> {
    if (this.closed)
      return errAsync(failed(`sending to ${maskEmail(to)} failed: the SMTP notifier is closed`));
    return ResultAsync.fromPromise(
      this.transporter.sendMail({
        from: this.options.from,
        to,
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
        messageId: this.messageId(n.id, to),
        headers: {
          "X-Susu-Notification-Id": n.id,
          "X-Susu-Template": n.template,
          "Auto-Submitted": "auto-generated",
        },
      }),
      (e) => notifyErrorOf(e, to),
    ).andThen((info: { rejected?: unknown[]; rejectedErrors?: unknown[] }) => {
      if ((info.rejected ?? []).length === 0) return okAsync(undefined);
      // A recipient refused while others were taken (nodemailer then sends to those): read
      // as an error of its own, so a refusal of the platform is not the recipient's either.
      const refusal = info.rejectedErrors?.[0];
      return errAsync(
        refusal === undefined
          ? rejected(`the server refused the recipient ${maskEmail(to)}`)
          : notifyErrorOf(refusal, to),
      );
    });
  }

  private recipientsOf(n: Notification): ResultAsync<readonly string[], NotifyError> {
    return this.options.people.emailsOf(n.personIds).map((people) => {
      const all = [
        ...n.personIds.flatMap((id) => {
          const email = people.get(id);
          return email === undefined ? [] : [email];
        }),
        ...(n.emails ?? []),
        ...((n.roles ?? []).includes("platform_admins") ? this.options.adminEmails : []),
      ];
      // One message per address, however many ways it was named.
      const seen = new Set<string>();
      return all.filter((a) => {
        const key = a.trim().toLowerCase();
        if (key === "" || seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    });
  }
}
