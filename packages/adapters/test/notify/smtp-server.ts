import { type AddressInfo, createServer } from "node:net";
import { type ParsedMail, simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerSession } from "smtp-server";
import type { MailLocale } from "../../src/notify/mail-format.js";
import { SmtpNotifier } from "../../src/notify/smtp-notifier.js";

/** A message the test server accepted: its envelope and the parsed message. */
export interface ReceivedMail {
  readonly from: string;
  readonly to: readonly string[];
  readonly raw: string;
  readonly parsed: ParsedMail;
}

/** How the test server answers: accepts, or refuses MAIL FROM / RCPT TO / DATA with a code. */
export type Refusal = {
  readonly at: "mail" | "rcpt" | "data";
  readonly code: number;
  readonly message: string;
};

/**
 * A real SMTP server on 127.0.0.1 (the `smtp-server` package), keeping what it receives and
 * counting the connections clients opened and the most messages it had in flight at once.
 */
export class TestSmtpServer {
  readonly received: ReceivedMail[] = [];
  refusal: Refusal | undefined;
  /** Connections clients opened (since the last {@link resetCounts}). */
  connections = 0;
  /** Messages whose DATA is being received and not yet answered. */
  inFlight = 0;
  /** The most messages in flight at once (since the last {@link resetCounts}). */
  mostInFlight = 0;
  /**
   * Set: each message's DATA is held, before it is answered, until a second message is in
   * flight beside it (once two have been, nothing more is held), or for `fallbackMs` at most,
   * so a client that sends one message at a time is slowed, not stuck.
   */
  holdUntilOverlap: { readonly fallbackMs: number } | undefined;
  /** Set: each message's DATA is held, before it is answered, until this settles. */
  gate: Promise<void> | undefined;
  private overlapWaiters: (() => void)[] = [];
  private readonly server: SMTPServer;
  private port = 0;

  constructor() {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onConnect: (_session, callback) => {
        this.connections += 1;
        callback();
      },
      onMailFrom: (_address, _session, callback) => {
        const r = this.refusal;
        if (r?.at === "mail") return callback(Object.assign(new Error(r.message), { responseCode: r.code }));
        callback();
      },
      onRcptTo: (_address, _session, callback) => {
        const r = this.refusal;
        if (r?.at === "rcpt") return callback(Object.assign(new Error(r.message), { responseCode: r.code }));
        callback();
      },
      onData: (stream, session: SMTPServerSession, done) => {
        this.inFlight += 1;
        this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
        if (this.mostInFlight >= 2) for (const release of this.overlapWaiters.splice(0)) release();
        const callback = (error?: Error) => {
          this.inFlight -= 1;
          done(error);
        };
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", async () => {
          await this.overlapOrFallback();
          await this.gate;
          const r = this.refusal;
          if (r?.at === "data")
            return callback(Object.assign(new Error(r.message), { responseCode: r.code }));
          const raw = Buffer.concat(chunks).toString("utf8");
          simpleParser(raw).then(
            (parsed) => {
              this.received.push({
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
                to: session.envelope.rcptTo.map((r) => r.address),
                raw,
                parsed,
              });
              callback();
            },
            (e: Error) => callback(e),
          );
        });
      },
    });
  }

  /** Zeroes the connection and in-flight counts. */
  resetCounts(): void {
    this.connections = 0;
    this.mostInFlight = this.inFlight;
  }

  /** Resolves once two messages have been in flight at once, or after the hold's fallback (no hold: at once). */
  private async overlapOrFallback(): Promise<void> {
    const hold = this.holdUntilOverlap;
    if (hold === undefined || this.mostInFlight >= 2) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, hold.fallbackMs);
      this.overlapWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port on 127.0.0.1 nothing listens on (bound, read, released). */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/**
 * The e-mail sender a delivery worker is given in the tests: the SMTP notifier on `url`, its
 * people's addresses never read (the worker sends to the address each delivery carries).
 */
export function deliveryMailer(url: string, where: MailLocale): SmtpNotifier {
  return new SmtpNotifier({
    transport: url,
    from: "susu <no-reply@susu.test>",
    adminEmails: [],
    people: {
      emailsOf: () => {
        throw new Error("unused");
      },
    },
    where,
  });
}
