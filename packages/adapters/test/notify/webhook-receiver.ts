import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { type SusuSignatureCheck, verifySusuSignature } from "../../src/notify/susu-signature.js";

/** A request the receiver got: its raw body, headers and whether the signature verified. */
export interface ReceivedWebhook {
  readonly body: string;
  readonly json: Record<string, unknown>;
  readonly signature: string | undefined;
  readonly deliveryId: string | undefined;
  readonly check: SusuSignatureCheck;
  /** The status it answered. */
  readonly status: number;
}

/** An answer with headers of its own (a 429 with `Retry-After`). */
export interface ScriptedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for a client app's push service: verifies
 * `Susu-Signature` with the endpoint's secret as a client app would, and answers with the
 * scripted statuses in turn (then 200), or 401 when the signature does not verify.
 */
export class TestWebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  /** Statuses to answer (a status, or one with headers to send with it), first to last; once used up, 200. */
  script: (number | ScriptedAnswer)[] = [];
  /** The endpoint's secret the signatures are checked against. */
  secret = "";
  /** Milliseconds to wait before answering (a slow receiver). */
  delayMs = 0;
  /** The receiver's clock (epoch ms) for the signature's tolerance; default the system's. */
  now: () => number = () => Date.now();
  /** Called just before each answer is written (after `delayMs`). */
  onAnswer: (() => void) | undefined;
  /** The most requests being answered at once. */
  mostInFlight = 0;
  private inFlight = 0;
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => {
      // In flight until answered, or until the client gives up on it (a timeout closes it).
      this.inFlight += 1;
      this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
      res.once("close", () => {
        this.inFlight -= 1;
      });
      void this.answer(req).then(async ({ status, headers }) => {
        if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
        this.onAnswer?.();
        res.statusCode = status;
        for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
        res.end();
      });
    });
  }

  private async answer(req: IncomingMessage): Promise<ScriptedAnswer> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const signature = req.headers["susu-signature"];
    const check = verifySusuSignature(
      body,
      typeof signature === "string" ? signature : undefined,
      this.secret,
      { nowSeconds: Math.floor(this.now() / 1000) },
    );
    const scripted = check.valid ? (this.script.shift() ?? 200) : 401;
    const { status, headers } = typeof scripted === "number" ? { status: scripted, headers: {} } : scripted;
    const deliveryId = req.headers["susu-delivery-id"];
    this.received.push({
      body,
      json: JSON.parse(body) as Record<string, unknown>,
      signature: typeof signature === "string" ? signature : undefined,
      deliveryId: typeof deliveryId === "string" ? deliveryId : undefined,
      check,
      status,
    });
    return { status, headers };
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/push`;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(0, "127.0.0.1", () => resolve());
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
