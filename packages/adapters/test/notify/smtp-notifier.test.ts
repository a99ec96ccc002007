import { type AddressInfo, connect, createServer, type Socket } from "node:net";
import {
  HELD_PAYMENT_NOTIFICATION_TEMPLATES,
  MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES,
  NOTIFICATION_TEMPLATES,
  type Notification,
  PAYOUT_NOTIFICATION_TEMPLATES,
  SUBSCRIPTION_NOTIFICATION_TEMPLATES,
} from "@susu/domain";
import fc from "fast-check";
import { okAsync } from "neverthrow";
import { SMTPServer } from "smtp-server";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { escapeHtml, formatAmount, formatInstant, maskNumbers } from "../../src/notify/mail-format.js";
import { renderMail } from "../../src/notify/mail-templates.js";
import {
  notifyErrorOf,
  type PersonEmails,
  PrismaPersonEmails,
  SmtpNotifier,
  type SmtpNotifierOptions,
} from "../../src/notify/smtp-notifier.js";
import { useTestDatabase } from "../support/index.js";
import { closedPort, TestSmtpServer } from "./smtp-server.js";

const where = { locale: "en-AU", timeZone: "Australia/Sydney" };
const FROM = "susu <no-reply@mail.susu.test>";

const noPeople: PersonEmails = { emailsOf: () => okAsync(new Map()) };

function notifier(transport: string, extra: Partial<SmtpNotifierOptions> = {}): SmtpNotifier {
  return new SmtpNotifier({
    transport,
    from: FROM,
    adminEmails: ["ops@susu.test", "lead@susu.test"],
    people: noPeople,
    where,
    ...extra,
  });
}

const sample: Notification = {
  id: "round_1:notify:contribution_retry_scheduled:ana:1",
  aggregate: "round",
  aggregateId: "round_1",
  groupId: "g1",
  personIds: [],
  emails: ["cy@example.com"],
  template: "contribution_retry_scheduled",
  data: {
    roundId: "round_1",
    currency: "AUD",
    memberId: "ana",
    failureCode: "insufficient_funds",
    retryAt: "2026-03-01T00:00:00.000Z",
  },
};

/** A one-off SMTP server (smtp-server's self-signed certificate) that keeps each message's session. */
async function sessionServer(options: { secure: boolean; host?: string; port?: number }): Promise<{
  readonly port: number;
  readonly sessions: { readonly secure: boolean; readonly remoteAddress: string }[];
  close(): Promise<void>;
}> {
  const sessions: { readonly secure: boolean; readonly remoteAddress: string }[] = [];
  const smtpServer = new SMTPServer({
    secure: options.secure,
    authOptional: true,
    disabledCommands: ["AUTH"],
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, callback) {
      stream.resume();
      stream.on("end", () => {
        sessions.push({ secure: session.secure, remoteAddress: session.remoteAddress });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    smtpServer.server.once("error", reject);
    smtpServer.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const { port } = smtpServer.server.address() as AddressInfo;
  return { port, sessions, close: () => new Promise<void>((resolve) => smtpServer.close(() => resolve())) };
}

/** An HTTP proxy on 127.0.0.1 that tunnels CONNECT requests, keeping their targets (`host:port`). */
async function connectProxy(): Promise<{
  readonly url: string;
  readonly tunnels: string[];
  close(): Promise<void>;
}> {
  const tunnels: string[] = [];
  const sockets = new Set<Socket>();
  const proxy = createServer((client) => {
    sockets.add(client);
    client.on("error", () => undefined);
    let head = "";
    const onData = (chunk: Buffer) => {
      head += chunk.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end < 0) return;
      client.removeListener("data", onData);
      const target = /^CONNECT (\S+):(\d+) /.exec(head);
      if (target === null) return client.destroy();
      tunnels.push(`${target[1]}:${target[2]}`);
      const upstream = connect(Number(target[2]), target[1], () => {
        client.write("HTTP/1.1 200 Connection established\r\n\r\n");
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on("error", () => client.destroy());
    };
    client.on("data", onData);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", () => resolve()));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    tunnels,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        proxy.close(() => resolve());
      }),
  };
}

describe("SmtpNotifier against a real SMTP server", () => {
  const server = new TestSmtpServer();
  const db = useTestDatabase();
  let smtp: SmtpNotifier;

  beforeAll(async () => {
    await server.start();
  });
  afterAll(async () => {
    await server.stop();
  });
  beforeEach(() => {
    server.received.length = 0;
    server.refusal = undefined;
    server.holdUntilOverlap = undefined;
    server.resetCounts();
    smtp = notifier(server.url);
  });
  afterEach(() => smtp.close());

  it("writes to people by their stored address, to the notification's addresses and to the admins, one message each", async () => {
    const now = new Date();
    await db.prisma.person.createMany({
      data: [
        { id: "ana", displayName: "Ana", email: "ana@example.com", createdAt: now, updatedAt: now },
        { id: "ben", displayName: "Ben", createdAt: now, updatedAt: now },
      ],
    });
    smtp = notifier(server.url, { people: new PrismaPersonEmails(db.prisma) });
    const result = await smtp.send({
      ...sample,
      personIds: ["ana", "ben"],
      emails: ["cy@example.com", "ANA@example.com"],
      roles: ["platform_admins"],
    });
    expect(result.isOk()).toBe(true);
    // Ben has no address; Ana's, named twice, is written to once.
    expect(server.received.map((m) => m.to)).toEqual([
      ["ana@example.com"],
      ["cy@example.com"],
      ["ops@susu.test"],
      ["lead@susu.test"],
    ]);
    const first = server.received[0];
    expect(first?.from).toBe("no-reply@mail.susu.test");
    expect(first?.parsed.subject).toBe("Your contribution could not be collected; we will try again");
    expect(first?.parsed.headers.get("x-susu-notification-id")).toBe(sample.id);
    expect(first?.parsed.headers.get("x-susu-template")).toBe("contribution_retry_scheduled");
    expect(first?.parsed.messageId).toMatch(
      /^<round_1=3anotify=3acontribution_retry_scheduled=3aana=3a1\.[0-9a-f]{16}@mail\.susu\.test>$/,
    );
    const text = first?.parsed.text ?? "";
    expect(text).toContain("did not go through (insufficient_funds)");
    // 00:00 UTC on 1 March is 11:00 in Sydney (daylight saving).
    expect(text).toMatch(/Sunday,? 1 March 2026 at 11:00\s?am \(Australia\/Sydney\)/);
    expect(text).toContain("What to do: Make sure the account you debit from has enough funds");
    const html = first?.parsed.html || "";
    expect(html).toContain("<p><strong>What to do:</strong> Make sure the account you debit from");
    expect(html).toMatch(/<th align="left">Retry at<\/th><td>Sunday,? 1 March 2026 at 11:00/);
  });

  it("a resend of the same notification carries the same Message-ID per recipient", async () => {
    await smtp.send(sample);
    await smtp.send(sample);
    await smtp.send({ ...sample, id: `${sample.id}:other` });
    const ids = server.received.map((m) => m.parsed.messageId);
    expect(ids).toHaveLength(3);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).not.toBe(ids[0]);
  });

  it("a transport given as a URL keeps its connections open and sends the next messages on them (a pool)", async () => {
    const result = await smtp.send({
      ...sample,
      emails: ["a@example.com", "b@example.com", "c@example.com"],
    });
    expect(result.isOk()).toBe(true);
    expect((await smtp.deliver(sample, "d@example.com", where)).isOk()).toBe(true);
    expect(server.received.map((m) => m.to)).toEqual([
      ["a@example.com"],
      ["b@example.com"],
      ["c@example.com"],
      ["d@example.com"],
    ]);
    expect(server.connections).toBe(1);
    // After a refusal (the connection is dropped then) the next message still goes out.
    server.refusal = { at: "rcpt", code: 550, message: "mailbox unavailable" };
    expect((await smtp.deliver(sample, "e@example.com", where))._unsafeUnwrapErr().type).toBe(
      "notify_rejected",
    );
    server.refusal = undefined;
    expect((await smtp.deliver(sample, "f@example.com", where)).isOk()).toBe(true);
    expect(server.received.map((m) => m.to).at(-1)).toEqual(["f@example.com"]);
  });

  it("sends as many messages at once as its pool has connections (maxConnections), never more", async () => {
    server.holdUntilOverlap = { fallbackMs: 200 };
    const two = notifier(server.url, { maxConnections: 2 });
    const to = ["a", "b", "c", "d", "e"].map((who) => `${who}@example.com`);
    const results = await Promise.all(to.map((address) => two.deliver(sample, address, where)));
    two.close();
    expect(results.every((r) => r.isOk())).toBe(true);
    expect(server.received.map((m) => m.to[0]).sort()).toEqual(to);
    expect(server.mostInFlight).toBe(2);
    expect(server.connections).toBe(2);
  });

  it("formats amounts in the notification's currency and locale", async () => {
    await smtp.send({
      id: "hp_1:notify:refund_started:1",
      aggregate: "held_payment",
      aggregateId: "hp_1",
      personIds: [],
      emails: ["cy@example.com"],
      template: "refund_started",
      data: { heldPaymentId: "hp_1", currency: "aud", amountMinor: 123456, reason: "requested_by_customer" },
    });
    const text = server.received[0]?.parsed.text ?? "";
    expect(text).toContain("A refund of $1,234.56 was started (requested_by_customer).");
    expect(text).toContain("Amount: $1,234.56");
    expect(formatAmount(1000, "JPY", "en-AU")).toBe("JPY\u00a01,000");
    expect(formatAmount(123456, "EUR", "de-DE")).toBe("1.234,56\u00a0€");
  });

  it("escapes every value in the HTML body; the text body keeps it as written", async () => {
    await smtp.send({
      ...sample,
      id: "round_1:notify:round_cancelling",
      template: "round_cancelling",
      data: { roundId: "round_1", currency: "AUD", reason: `<script>alert("x")</script> & <b>bold</b>` },
    });
    const mail = server.received[0];
    const html = mail?.parsed.html || "";
    expect(html).not.toContain("<script>");
    expect(html).not.toContain("<b>bold</b>");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;");
    expect(mail?.parsed.text).toContain(`cancelled: <script>alert("x")</script> & <b>bold</b>.`);
  });

  it("never sends a full card or account number: it masks all but the last 4 digits", async () => {
    await smtp.send({
      id: "payout:po_1:failed:notify",
      aggregate: "payout",
      aggregateId: "po_1",
      personIds: [],
      emails: ["ana@example.com"],
      template: "payout_failed",
      data: {
        payoutId: "po_12345678901",
        amountMinor: 5000,
        currency: "AUD",
        failureCode: "account_closed",
        failureMessage: "account 062-000 12345678 closed; card 4242 4242 4242 4242 refused",
        action: "update_bank_account",
        onboardingPath: "/v1/people/ana/payout-onboarding",
      },
    });
    const raw = server.received[0]?.raw ?? "";
    const { text = "", html = "" } = server.received[0]?.parsed ?? {};
    for (const body of [text, String(html), raw]) {
      expect(body).not.toContain("12345678 ");
      expect(body).not.toContain("4242 4242 4242 4242");
    }
    expect(text).toContain("card •••• 4242 refused");
    expect(text).toContain("account •••• 5678 closed");
    // An id that merely holds digits is not a number to hide.
    expect(text).toContain("po_12345678901");
    expect(text).toContain("Your payout of $50.00 failed");
    expect(text).toContain("Payouts to this bank account are paused until you update your bank details");
  });

  it("a notification with nobody to write to is done, with a line saying so", async () => {
    const lines: string[] = [];
    smtp = notifier(server.url, { adminEmails: [], log: { info: (_f, m) => lines.push(m) } });
    const result = await smtp.send({ ...sample, emails: [], roles: ["platform_admins"] });
    expect(result.isOk()).toBe(true);
    expect(server.received).toEqual([]);
    expect(lines).toEqual(["notification has no e-mail recipient"]);
  });

  it("a 5xx refusal of the recipient at RCPT TO is permanent (notify_rejected)", async () => {
    for (const message of ["mailbox unavailable", "5.1.1 no such user", "5.2.1 mailbox disabled"]) {
      server.refusal = { at: "rcpt", code: 550, message };
      const result = await smtp.send(sample);
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_rejected", code: "notify_rejected" });
      expect(result._unsafeUnwrapErr().message).toContain("550");
      // The address is personal data: the error (which lands in logs) masks it.
      expect(result._unsafeUnwrapErr().message).not.toContain("cy@example.com");
    }
    expect(server.received).toEqual([]);
  });

  it("a 5xx refusal of the platform is not the recipient's (notify_failed): at MAIL FROM, at DATA, relaying denied", async () => {
    const refusals = [
      { at: "mail", code: 554, message: "5.7.1 Sender address not verified" },
      { at: "mail", code: 550, message: "sender rejected" },
      { at: "data", code: 554, message: "message refused" },
      { at: "data", code: 552, message: "5.3.4 message too big" },
      { at: "rcpt", code: 554, message: "5.7.1 Relay access denied" },
      { at: "rcpt", code: 550, message: "relaying denied" },
      { at: "rcpt", code: 530, message: "5.7.0 Authentication required" },
      { at: "rcpt", code: 550, message: "5.1.8 bad sender's system address" },
    ] as const;
    for (const refusal of refusals) {
      server.refusal = refusal;
      const result = await smtp.send(sample);
      expect(result._unsafeUnwrapErr(), refusal.message).toMatchObject({
        type: "notify_failed",
        code: "notify_failed",
      });
      expect(result._unsafeUnwrapErr().message).toContain(String(refusal.code));
      expect(result._unsafeUnwrapErr().message).not.toContain("cy@example.com");
    }
    expect(server.received).toEqual([]);
  });

  it("reads nodemailer's errors by the command refused: only RCPT TO is about the recipient", () => {
    const error = (command: string, response: string) =>
      Object.assign(new Error(`refused: ${response}`), {
        code: command === "CONN" ? "ECONNECTION" : command.startsWith("AUTH") ? "EAUTH" : "EENVELOPE",
        command,
        response,
        responseCode: Number(response.slice(0, 3)),
      });
    const typeOf = (e: unknown) => notifyErrorOf(e, "cy@example.com").type;
    expect(typeOf(error("AUTH PLAIN", "535 5.7.8 Authentication credentials invalid"))).toBe("notify_failed");
    expect(typeOf(error("AUTH LOGIN", "534 5.7.9 Application-specific password required"))).toBe(
      "notify_failed",
    );
    expect(typeOf(error("CONN", "554 5.7.1 Your IP is on a block list"))).toBe("notify_failed");
    expect(typeOf(error("MAIL FROM", "553 5.1.8 Sender domain does not exist"))).toBe("notify_failed");
    expect(typeOf(error("DATA", "550 5.7.1 Message rejected as spam"))).toBe("notify_failed");
    expect(typeOf(error("RCPT TO", "550 5.7.1 Unable to relay"))).toBe("notify_failed");
    expect(typeOf(error("RCPT TO", "550 5.1.1 The email account does not exist"))).toBe("notify_rejected");
    expect(typeOf(error("RCPT TO", "553 5.1.3 Bad recipient address syntax"))).toBe("notify_rejected");
    expect(typeOf(error("RCPT TO", "550 Requested action not taken: mailbox unavailable"))).toBe(
      "notify_rejected",
    );
    expect(typeOf(error("RCPT TO", "450 4.2.1 Mailbox busy"))).toBe("notify_failed");
    // No command (a transport of another kind): a 5xx is not taken as the recipient's.
    expect(typeOf(Object.assign(new Error("refused"), { responseCode: 550 }))).toBe("notify_failed");
  });

  it("a 4xx refusal is for now (notify_failed): the dispatcher retries it", async () => {
    server.refusal = { at: "data", code: 451, message: "try again later" };
    const result = await smtp.send(sample);
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_failed", code: "notify_failed" });
    expect(result._unsafeUnwrapErr().message).toContain("451");
    server.refusal = { at: "rcpt", code: 452, message: "too many recipients" };
    expect((await smtp.send(sample))._unsafeUnwrapErr().type).toBe("notify_failed");
  });

  it("sends over TLS on the connections it opens: implicit (smtps://) and by STARTTLS", async () => {
    // The notifier opens each connection itself (Nagle's algorithm off) and hands it to
    // nodemailer, which must still secure it: at once for smtps://, on STARTTLS otherwise.
    // Both servers use smtp-server's built-in self-signed certificate.
    for (const secure of [true, false]) {
      const tlsServer = await sessionServer({ secure });
      const scheme = secure ? "smtps" : "smtp";
      const overTls = notifier(
        `${scheme}://127.0.0.1:${tlsServer.port}?tls.rejectUnauthorized=false${secure ? "" : "&requireTLS=true"}`,
      );
      const result = await overTls.send(sample);
      overTls.close();
      await tlsServer.close();
      expect(result.isOk(), secure ? "smtps" : "STARTTLS").toBe(true);
      expect(tlsServer.sessions.map((s) => s.secure)).toEqual([true]);
    }
  });

  it("a URL without a port connects where nodemailer would: 587 for smtp://, 465 for smtps://", async (ctx) => {
    // The notifier opens the connections itself: it must aim them as nodemailer would.
    // Privileged ports, on an address of the loopback range no other test uses.
    const host = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.9`;
    for (const [scheme, port] of [
      ["smtp", 587],
      ["smtps", 465],
    ] as const) {
      const listening = await sessionServer({ secure: scheme === "smtps", host, port }).catch(
        (e: NodeJS.ErrnoException) => e,
      );
      if (listening instanceof Error) {
        if (listening.code === "EACCES") return ctx.skip();
        throw listening;
      }
      const portless = notifier(`${scheme}://${host}?tls.rejectUnauthorized=false`, {
        timeouts: { connectionTimeout: 2_000, greetingTimeout: 2_000, socketTimeout: 2_000 },
      });
      const result = await portless.send(sample);
      portless.close();
      await listening.close();
      expect(result.isOk(), `${scheme}: ${result.isErr() ? result.error.message : "sent"}`).toBe(true);
      // Secure both ways: at once on 465, by STARTTLS (offered, so taken) on 587.
      expect(listening.sessions.map((s) => s.secure)).toEqual([true]);
    }
  });

  it("a proxy named in the URL carries the connections (nodemailer's proxy option)", async () => {
    const proxy = await connectProxy();
    const proxied = notifier(`${server.url}?proxy=${encodeURIComponent(proxy.url)}`);
    const result = await proxied.send(sample);
    proxied.close();
    await proxy.close();
    expect(result.isOk()).toBe(true);
    expect(server.received.map((m) => m.to)).toEqual([["cy@example.com"]]);
    expect(proxy.tunnels).toEqual([server.url.replace("smtp://", "")]);
  });

  it("the URL's localAddress is where the connections come from", async () => {
    const seen = await sessionServer({ secure: false });
    const bound = notifier(
      `smtp://127.0.0.1:${seen.port}?localAddress=127.0.0.2&tls.rejectUnauthorized=false`,
    );
    const result = await bound.send(sample);
    bound.close();
    await seen.close();
    expect(result.isOk(), result.isErr() ? result.error.message : "sent").toBe(true);
    expect(seen.sessions.map((s) => s.remoteAddress)).toEqual(["127.0.0.2"]);
  });

  it("a send after close fails for now (notify_failed) instead of never settling", async () => {
    // nodemailer's closed pool takes the message and never calls back: a delivery pass
    // that sent after close would wait forever, and the scheduler's stop with it.
    const closed = notifier(server.url);
    closed.close();
    const result = await Promise.race([
      closed.deliver(sample, "ana@example.com", where),
      new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), 2_000)),
    ]);
    expect(result === "pending" ? result : result._unsafeUnwrapErr().type).toBe("notify_failed");
    expect(server.received).toEqual([]);
  });

  describe("an e-mail it cannot write is an error of its own, never a throw, and nothing is sent", () => {
    // A notification stored by another release under a template this one does not have (or
    // a name of Object's prototype), or a reader's time zone this process's ICU does not know.
    const unwritable: [string, Notification, typeof where, string][] = [
      [
        "a template this release does not know",
        { ...sample, template: "retired_template" } as never,
        where,
        '"retired_template"',
      ],
      [
        "a template named like Object's prototype",
        { ...sample, template: "constructor" } as never,
        where,
        '"constructor"',
      ],
      [
        "a time zone Intl refuses",
        sample,
        { locale: "en-AU", timeZone: "Mars/Olympus_Mons" },
        "Mars/Olympus_Mons",
      ],
    ];
    it.each(unwritable)("%s: deliver is mail_unrenderable", async (_what, n, at, named) => {
      const result = await smtp.deliver(n, "ana@example.com", at);
      expect(result._unsafeUnwrapErr()).toMatchObject({
        type: "mail_unrenderable",
        code: "mail_unrenderable",
      });
      expect(result._unsafeUnwrapErr().message).toContain(named);
      expect(server.received).toEqual([]);
    });
    it("a template this release does not know: send is refused for good (notify_rejected), not thrown", async () => {
      const result = await smtp.send({ ...sample, template: "retired_template" } as never);
      expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_rejected" });
      expect(result._unsafeUnwrapErr().message).toContain('"retired_template"');
      expect(server.received).toEqual([]);
    });
  });

  it("a server that refuses the connection is for now (notify_failed)", async () => {
    const down = notifier(`smtp://127.0.0.1:${await closedPort()}`);
    const result = await down.send(sample);
    down.close();
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_failed" });
    expect(result._unsafeUnwrapErr().message).toContain("ECONNREFUSED");
  });

  it("a server that accepts the connection but never greets fails within the configured timeouts (notify_failed)", async () => {
    // Without timeouts nodemailer waits 30 s for a greeting and 10 min on a silent socket:
    // longer than a delivery worker's lease on the delivery.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", () => resolve()));
    const port = (silent.address() as AddressInfo).port;
    const slow = notifier(`smtp://127.0.0.1:${port}`, {
      timeouts: { connectionTimeout: 300, greetingTimeout: 300, socketTimeout: 300 },
    });
    const started = Date.now();
    const result = await slow.deliver(sample, "ana@example.com", where);
    slow.close();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_failed" });
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("a database that cannot be read while resolving people is for now (notify_failed)", async () => {
    const people: PersonEmails = new PrismaPersonEmails({
      person: { findMany: () => Promise.reject(new Error("connection lost")) },
    } as never);
    smtp = notifier(server.url, { people });
    const result = await smtp.send({ ...sample, personIds: ["ana"] });
    expect(result._unsafeUnwrapErr()).toMatchObject({ type: "notify_failed" });
    expect(server.received).toEqual([]);
  });

  describe("every template the domain has renders and is delivered", () => {
    const samples: Notification[] = [
      ...NOTIFICATION_TEMPLATES.map((template) => sampleOf("round", template)),
      ...HELD_PAYMENT_NOTIFICATION_TEMPLATES.map((template) => sampleOf("held_payment", template)),
      ...MARKETPLACE_CHARGE_NOTIFICATION_TEMPLATES.map((template) =>
        sampleOf("marketplace_charge", template),
      ),
      ...PAYOUT_NOTIFICATION_TEMPLATES.map((template) => sampleOf("payout", template)),
      ...SUBSCRIPTION_NOTIFICATION_TEMPLATES.map((template) => sampleOf("subscription", template)),
      // For the platform's admins, about a reconciliation period (no aggregate).
      sampleOf("reconciliation", "reconciliation_differences"),
    ];
    it.each(samples.map((n) => [`${n.aggregate} ${n.template}`, n] as const))("%s", async (_name, n) => {
      expect((await smtp.send(n)).isOk()).toBe(true);
      const [mail] = server.received;
      expect(mail?.to).toEqual(["someone@example.com"]);
      expect(mail?.parsed.subject?.length ?? 0).toBeGreaterThan(5);
      const text = mail?.parsed.text ?? "";
      const html = String(mail?.parsed.html || "");
      expect(text).toContain(`Reference: ${n.id}`);
      expect(html).toContain("</html>");
      // No template leaves a hole where a value should be.
      expect(text).not.toMatch(/undefined|NaN|\[object/);
      // The amount every sample carries, when a template shows it, is formatted.
      if (text.includes("12,345") || text.includes("123.45")) expect(text).toContain("$123.45");
      expect(text).not.toMatch(/\b12,?345\b/);
      // What the person must do by when, for the templates whose data carries a deadline.
      const deadline: Partial<Record<Notification["template"], string>> = {
        debit_initiated: "By: Wednesday, 4 March 2026 at 11:00",
        contribution_retry_scheduled: "By: Sunday, 1 March 2026 at 11:00",
        contribution_failed: "By: Thursday, 5 March 2026 at 11:00",
        dispute_opened: "By: Tuesday, 10 March 2026 at 11:00",
        membership_trial_ending: "By: Thursday, 5 March 2026 at 11:00",
        membership_payment_failed: "By: Thursday, 5 March 2026 at 11:00",
      };
      const by = deadline[n.template];
      if (by !== undefined) expect(text.replace(/\u202f/g, " ")).toContain(by);
      else expect(text).not.toContain("By: ");
    });
  });
});

/** A notification of `template` with the data the domain sends with it (a superset). */
function sampleOf(aggregate: Notification["aggregate"], template: Notification["template"]): Notification {
  return {
    id: `${aggregate}_1:notify:${template}:k`,
    aggregate,
    aggregateId: `${aggregate}_1`,
    personIds: [],
    emails: ["someone@example.com"],
    template,
    data: {
      [`${aggregate === "round" ? "round" : aggregate === "payout" ? "payout" : aggregate === "held_payment" ? "heldPayment" : "marketplaceCharge"}Id`]: `${aggregate}_1`,
      currency: "AUD",
      amountMinor: 12345,
      groupName: "Sunday savers",
      requirements: "external_account, individual.dob.day",
      description: "Two nights",
      clientReference: "booking_42",
      paidAt: "2026-03-01T00:00:00.000Z",
      feeMinor: 100,
      memberId: "ana",
      recipientMemberId: "ana",
      sellerId: "sel",
      failureCode: "insufficient_funds",
      failureMessage: "the bank said no",
      reason: "requested",
      retryAt: "2026-03-01T00:00:00.000Z",
      deadline: "2026-03-05T00:00:00.000Z",
      expectedSettlementBy: "2026-03-04T00:00:00.000Z",
      evidenceDueBy: "2026-03-10T00:00:00.000Z",
      permanent: "no",
      disputeId: "dp_1",
      outcome: "won",
      transferId: "tr_1",
      paymentIntentId: "pi_1",
      refund: 1,
      reversal: 1,
      attempt: 1,
      onboardingPath: "/v1/people/ana/payout-onboarding",
      subscriptionId: "mbr_1",
      interval: "month",
      trialEnd: "2026-03-05T00:00:00.000Z",
      hostedInvoiceUrl: "https://invoice.stripe.test/in_1",
      lastAttempt: "no",
    },
  };
}

describe("dispute_closed", () => {
  const closed = (
    aggregate: Notification["aggregate"],
    outcome: string,
    more: Record<string, string | number> = {},
  ) =>
    renderMail(
      {
        ...sample,
        template: "dispute_closed",
        aggregate,
        data: { disputeId: "dp_1", outcome, ...more },
      } as Notification,
      where,
    ).text;

  it("says what a won dispute means for the kind of payment it was about; a lost one, that the customer has it", () => {
    for (const release of [{}, { release: "due", releaseDueAt: "2026-03-05T00:00:00.000Z" }])
      expect(closed("held_payment", "won", release)).not.toContain("is released.");
    for (const aggregate of ["subscription", "marketplace_charge", "round"] as const) {
      expect(closed(aggregate, "won")).not.toContain("held amount");
      expect(closed(aggregate, "won")).toContain(
        "any amount Stripe took for it is back in the platform's balance",
      );
    }
    for (const aggregate of ["held_payment", "subscription"] as const)
      expect(closed(aggregate, "lost")).toContain("The disputed amount was returned to the customer.");
  });

  it("tells a held payment's seller and admins what the won closure did to the release, no more", () => {
    const won = (more: Record<string, string>) => closed("held_payment", "won", more);
    const lifted = "The dispute no longer holds the release of the seller's share back";
    expect(won({ release: "due", releaseDueAt: "2026-03-05T00:00:00.000Z" })).toContain(
      `${lifted}: nothing is released now; it is due on ${formatInstant("2026-03-05T00:00:00.000Z", where)}, as planned.`,
    );
    expect(won({ release: "started" })).toContain(`${lifted}: the transfer to the seller is being made now.`);
    expect(won({ release: "under_way" })).toContain(
      `${lifted}: the transfer to the seller asked for before it goes on.`,
    );
    expect(won({ release: "waits", waitsFor: "admin_hold" })).toContain(
      `${lifted}, but it still waits for an administrator's hold to be lifted.`,
    );
    expect(won({ release: "waits", waitsFor: "fulfilment" })).toContain(
      "still waits for the booking to be confirmed fulfilled.",
    );
    expect(won({ release: "done" })).toContain(
      "The seller's share had been released before the dispute; nothing changes.",
    );
    expect(won({ release: "none" })).toContain("Nothing of the payment is left to release to the seller.");
    // A notice queued before the closure said what it did: no promise of a release at all.
    expect(won({})).toContain(`${lifted}; it goes on when nothing else holds it`);
  });
});

describe("mail formatting properties", () => {
  it("HTML escaping leaves no markup character unescaped", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const out = escapeHtml(s);
        expect(out).not.toMatch(/[<>"']/);
        expect(out.replace(/&(lt|gt|quot|#39|amp);/g, "")).not.toContain("&");
      }),
    );
  });

  // Where bank or card data can reach an e-mail: a saved method's description, the payment
  // provider's words about a payment, a payout or a payout account, its refusal of a transfer
  // to one, and how money owed was paid outside it — each in a template that renders it.
  const paymentFields: readonly (readonly [Notification["template"], string, Notification["aggregate"]])[] = [
    ["payment_failed", "failureCode", "held_payment"],
    ["payout_failed", "failureMessage", "payout"],
    ["payout_refused", "failureMessage", "payout"],
    ["payment_method_detached", "method", "payment_method"],
    ["payment_method_detached", "movedTo", "payment_method"],
    ["mandate_inactive", "method", "payment_method"],
    ["member_payment_method_detached", "method", "payment_method"],
    ["onboarding_incomplete", "requirements", "payout"],
    ["onboarding_incomplete", "disabledReason", "payout"],
    ["payout_blocked", "reason", "round"],
    ["release_blocked", "reason", "held_payment"],
    ["owed_paid_outside_stripe", "reference", "round"],
    // A field named for an account or a card, whichever template carries it.
    ["mandate_inactive", "accountNumber", "payment_method"],
    ["debit_initiated", "cardNumber", "round"],
  ];

  it("a card-like number in a field that can carry bank or card data never survives rendering; its last 4 digits do", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...paymentFields),
        fc.stringMatching(/^[1-9][0-9]{11,15}$/),
        fc.constantFrom(" ", "-", ""),
        fc.string({ maxLength: 20 }).map((s) => s.replace(/[\w-]/g, " ")),
        ([template, field, aggregate], digits, sep, around) => {
          const written = (digits.match(/.{1,4}/g) ?? []).join(sep);
          const mail = renderMail(
            {
              ...sample,
              template,
              aggregate,
              data: {
                ...(field === "disabledReason" ? { requirements: "" } : {}),
                [field]: `${around} ${written} ${around}`,
              },
            } as Notification,
            where,
          );
          for (const body of [mail.text, mail.html]) {
            expect(body).not.toContain(digits);
            expect(body).not.toContain(written);
            expect(body).toContain(`•••• ${digits.slice(-4)}`);
          }
        },
      ),
    );
    expect(maskNumbers("bsb 062-000 acct 123456789")).toBe("bsb 062-000 acct •••• 6789");
  });

  it.each(["Class of 2019-2023", "Savings 2026 2027", "Flat 12 3456 7890"])(
    "keeps what people wrote as they wrote it: the group name %j in a debit notice",
    (groupName) => {
      const mail = renderMail(
        {
          id: "round_1:notify:debit_initiated:ana:1",
          aggregate: "round",
          aggregateId: "round_1",
          groupId: "g1",
          personIds: ["ana"],
          template: "debit_initiated",
          data: { roundId: "round_1", groupName, amountMinor: 5000, currency: "AUD" },
        },
        where,
      );
      expect(mail.text).toContain(`"${groupName}"`);
      expect(mail.html).toContain(escapeHtml(`"${groupName}"`));
    },
  );

  it("keeps any text people wrote (a group's name, a booking's description, a member's name, a cancellation's reason) whole, however many digits it holds", () => {
    const written: readonly (readonly [Notification["template"], string, Notification["aggregate"]])[] = [
      ["debit_initiated", "groupName", "round"],
      ["booking_paid", "description", "held_payment"],
      ["member_payment_method_detached", "memberName", "payment_method"],
      ["round_cancelled", "reason", "round"],
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...written),
        fc.stringMatching(/^[A-Za-z]{0,8}$/),
        fc.array(fc.stringMatching(/^[0-9]{1,6}$/), { minLength: 2, maxLength: 5 }),
        fc.constantFrom(" ", "-"),
        ([template, field, aggregate], word, groups, sep) => {
          const text = `${word} ${groups.join(sep)}`.trim();
          const mail = renderMail(
            { ...sample, template, aggregate, data: { ...sample.data, [field]: text } } as Notification,
            where,
          );
          expect(mail.text).toContain(text);
          expect(mail.html).toContain(escapeHtml(text));
        },
      ),
    );
  });
});
