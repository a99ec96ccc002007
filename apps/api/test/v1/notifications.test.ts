// Notification settings, webhook endpoints and the delivery log on v1, on PostgreSQL.
import {
  DeliveringNotifier,
  PrismaNotificationEndpoints,
  PrismaNotificationSettings,
  PrismaStore,
} from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { type UseCaseDeps, useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const T = Date.UTC(2026, 11, 2, 9);
const clock = new ManualClock(T);
let app: ReturnType<typeof testApp>;
let deps: UseCaseDeps;
let admin: string;
let service: string;
let ana: string;
let ben: string;

/** The templates sent to the platform's admins only (`SUSU_ADMIN_EMAILS`), never to a person. */
const ADMIN_ONLY = ["refund_owed", "reversal_failed", "transfer_blocked", "reconciliation_differences"];

const json = async (res: Response) => (await res.json()) as Record<string, unknown>;

beforeAll(async () => {
  deps = useCaseDepsOn(new PrismaStore(db.prisma, { clock }), { clock, ids: new SequentialIds() });
  // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
  app = testApp({ useCases: deps, gateway: new FakePaymentGateway(() => clock.now()), prisma: db.prisma });
  admin = await tokenFor("ops_ana", ["admin"]);
  service = await tokenFor("ops_tool", ["service"]);
  ana = await tokenFor("ana");
  ben = await tokenFor("ben");
  const now = new Date(T);
  await db.prisma.person.createMany({
    data: [
      { id: "ana", displayName: "Ana", createdAt: now, updatedAt: now },
      { id: "ben", displayName: "Ben", email: "ben@example.com", createdAt: now, updatedAt: now },
    ],
  });
});

describe("notification settings", () => {
  it("shows a person who never chose everything on, every template classified", async () => {
    const res = await app.request("/v1/people/me/notification-settings", authed(ana));
    expect(res.status).toBe(200);
    const body = await json(res);
    expect(body).toMatchObject({
      object: "notification_settings",
      personId: "ana",
      email: null,
      emailStatus: "none",
      locale: null,
      timeZone: null,
      channels: { email: true, push: true },
    });
    const notifications = body.notifications as Record<string, { required: boolean; enabled: boolean }>;
    expect(notifications.payout_failed).toEqual({ required: true, enabled: true });
    expect(notifications.checkout_expired).toEqual({ required: false, enabled: true });
  });

  it("lists only what a person can receive: the platform admins' notices are not theirs", async () => {
    for (const token of [ana, admin]) {
      const res = await app.request("/v1/people/ana/notification-settings", authed(token));
      expect(res.status).toBe(200);
      const notifications = (await json(res)).notifications as Record<string, unknown>;
      for (const t of ADMIN_ONLY) expect(notifications).not.toHaveProperty(t);
      // Those sent to people and to admins alike stay: a seller hears of a dispute, a group's admins of a refund that failed.
      for (const t of ["dispute_closed", "refund_failed", "unexpected_money", "release_blocked"])
        expect(notifications).toHaveProperty(t);
    }
  });

  it("replaces them, normalised, and shows them back", async () => {
    const res = await app.request(
      "/v1/people/me/notification-settings",
      authed(ana, "PUT", {
        email: " Ana@Example.COM ",
        locale: "en-us",
        timeZone: "America/New_York",
        channels: { push: false },
        notifications: { checkout_expired: false, payout_sent: true },
      }),
    );
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({
      email: "Ana@example.com",
      emailStatus: "ok",
      locale: "en-US",
      timeZone: "America/New_York",
      channels: { email: true, push: false },
      notifications: expect.objectContaining({ checkout_expired: { required: false, enabled: false } }),
    });
    const row = await db.prisma.person.findUniqueOrThrow({ where: { id: "ana" } });
    expect([row.email, row.locale, row.timeZone, row.notifyByPush, row.mutedNotifications]).toEqual([
      "Ana@example.com",
      "en-US",
      "America/New_York",
      false,
      ["checkout_expired"],
    ]);
  });

  it.each([
    [{ email: "ana at example" }, "invalid_email", "email"],
    [{ locale: "xx-YY" }, "unknown_locale", "locale"],
    [{ timeZone: "Mars/Base" }, "unknown_time_zone", "timeZone"],
    [{ notifications: { nope: false } }, "unknown_notification", "notifications.nope"],
    [{ notifications: { payout_failed: false } }, "notification_required", "notifications.payout_failed"],
    [{ notifications: { refund_owed: false } }, "notification_admin_only", "notifications.refund_owed"],
    [
      { notifications: { reconciliation_differences: true } },
      "notification_admin_only",
      "notifications.reconciliation_differences",
    ],
  ])("refuses %j with 400 %s and changes nothing", async (body, code, path) => {
    const before = await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } });
    const res = await app.request("/v1/people/ben/notification-settings", authed(ben, "PUT", body));
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    const problem = await json(res);
    expect(problem.code).toBe(code);
    expect(problem.errors).toEqual([{ path, message: problem.detail }]);
    if (code === "notification_required") expect(problem.detail).toContain("cannot be switched off");
    if (code === "notification_admin_only") expect(problem.detail).toContain("platform's admins only");
    expect(await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } })).toEqual(before);
  });

  it("refuses the names of Object.prototype as unknown notifications, __proto__ (an own key in JSON) too, and changes nothing", async () => {
    const before = await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } });
    // Raw JSON: in a JS object literal `__proto__` sets the prototype and is no key.
    for (const name of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
      for (const raw of [
        `{"notifications":{"${name}":false}}`,
        `{"notifications":{"checkout_expired":false,"${name}":true}}`,
      ]) {
        const res = await app.request("/v1/people/ben/notification-settings", {
          method: "PUT",
          headers: { authorization: `Bearer ${ben}`, "content-type": "application/json" },
          body: raw,
        });
        expect(res.status, raw).toBe(400);
        const problem = await json(res);
        expect(problem.code, raw).toBe("unknown_notification");
        expect(problem.errors).toEqual([{ path: `notifications.${name}`, message: problem.detail }]);
      }
    }
    expect(await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } })).toEqual(before);
  });

  it("refuses a PUT with no settings at all (an empty body, with or without Content-Type: application/json) with 400 invalid_request naming the body, and changes nothing", async () => {
    const before = await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } });
    for (const declared of [true, false]) {
      const res = await app.request("/v1/people/ben/notification-settings", {
        method: "PUT",
        headers: {
          authorization: `Bearer ${ben}`,
          ...(declared ? { "content-type": "application/json" } : {}),
        },
        // A string body would be declared text/plain by the Request: without the header, no body.
        ...(declared ? { body: "" } : {}),
      });
      const text = await res.text();
      expect(res.status, `declared=${declared}: ${text}`).toBe(400);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      const problem = JSON.parse(text) as Record<string, unknown>;
      expect(problem.code).toBe("invalid_request");
      expect(problem.errors).toEqual([{ path: "body", message: expect.stringContaining("required") }]);
    }
    expect(await db.prisma.person.findUniqueOrThrow({ where: { id: "ben" } })).toEqual(before);
  });

  it("refuses fields it does not know (400 invalid_request)", async () => {
    const res = await app.request(
      "/v1/people/me/notification-settings",
      authed(ben, "PUT", { phone: "123" }),
    );
    expect(res.status).toBe(400);
    expect((await json(res)).code).toBe("invalid_request");
  });

  it("answers any settings a client can send with 200 or a 400 with a known code, never a 5xx", async () => {
    const text = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: "grapheme", maxLength: 40 }),
      fc.constantFrom(
        "en-AU",
        "Australia/Sydney",
        "a@b.co",
        "UTC",
        "",
        " ",
        "Etc/GMT+99",
        "en-u-ca-xx",
        "@@",
      ),
    );
    const body = fc.record(
      {
        email: fc.option(text),
        locale: fc.option(text),
        timeZone: fc.option(text),
        channels: fc.record({ email: fc.boolean(), push: fc.boolean() }, { requiredKeys: [] }),
        notifications: fc.dictionary(
          fc.oneof(
            fc.string({ maxLength: 20 }),
            fc.constantFrom("checkout_expired", "payout_failed", "__proto__", ...ADMIN_ONLY),
          ),
          fc.boolean(),
          { maxKeys: 4 },
        ),
      },
      { requiredKeys: [] },
    );
    const known = new Set([
      "invalid_request",
      "invalid_email",
      "unknown_locale",
      "unknown_time_zone",
      "unknown_notification",
      "notification_required",
      "notification_admin_only",
    ]);
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await app.request("/v1/people/me/notification-settings", authed(ana, "PUT", b));
        if (res.status === 200) return;
        expect(res.status).toBe(400);
        expect(known.has(String((await json(res)).code))).toBe(true);
      }),
      { numRuns: 150 },
    );
  });

  it("lets operators read and change anyone's, shows a bounce, and hides a person from others", async () => {
    await db.prisma.person.update({
      where: { id: "ben" },
      data: { emailBouncedAt: new Date(T), emailBounceReason: "550 5.1.1 no such user" },
    });
    const seen = await json(await app.request("/v1/people/ben/notification-settings", authed(service)));
    expect(seen).toMatchObject({
      email: "ben@example.com",
      emailStatus: "bouncing",
      emailBouncedAt: new Date(T).toISOString(),
      emailBounceReason: "550 5.1.1 no such user",
    });
    // A new address clears the bounce.
    const changed = await app.request(
      "/v1/people/ben/notification-settings",
      authed(admin, "PUT", { email: "ben@new.example" }),
    );
    expect(await json(changed)).toMatchObject({
      email: "ben@new.example",
      emailStatus: "ok",
      emailBouncedAt: null,
    });
    const hidden = await app.request("/v1/people/ben/notification-settings", authed(ana));
    expect(hidden.status).toBe(404);
    expect((await json(hidden)).code).toBe("person_not_found");
    const missing = await app.request("/v1/people/nobody/notification-settings", authed(admin));
    expect(missing.status).toBe(404);
  });

  it("clears a bounce when the person saves the same address again (it works now), in any case of its domain", async () => {
    const cal = await tokenFor("cal");
    const now = new Date(T);
    await db.prisma.person.create({
      data: { id: "cal", displayName: "Cal", createdAt: now, updatedAt: now },
    });
    for (const [i, saved] of ["cal@example.com", "cal@EXAMPLE.com"].entries()) {
      await db.prisma.person.update({
        where: { id: "cal" },
        data: {
          email: "cal@example.com",
          emailBouncedAt: new Date(T + i),
          emailBounceReason: "552 5.2.2 mailbox full",
        },
      });
      const res = await app.request(
        "/v1/people/me/notification-settings",
        authed(cal, "PUT", { email: saved }),
      );
      expect(res.status).toBe(200);
      expect(await json(res)).toMatchObject({
        email: "cal@example.com",
        emailStatus: "ok",
        emailBouncedAt: null,
        emailBounceReason: null,
      });
    }
  });

  it("refuses a service token's change of anyone's settings (403 admin_only) and changes nothing", async () => {
    const before = await json(await app.request("/v1/people/ana/notification-settings", authed(admin)));
    for (const body of [{ email: "attacker@evil.example" }, { email: null }, {}]) {
      const refused = await app.request("/v1/people/ana/notification-settings", authed(service, "PUT", body));
      expect(refused.status).toBe(403);
      expect(await json(refused)).toMatchObject({ code: "admin_only" });
    }
    expect(await json(await app.request("/v1/people/ana/notification-settings", authed(admin)))).toEqual(
      before,
    );
    // The person themselves still may.
    const own = await app.request(
      "/v1/people/me/notification-settings",
      authed(ana, "PUT", before.email === null ? {} : { email: before.email }),
    );
    expect(own.status).toBe(200);
  });
});

describe("notification endpoints and the delivery log", () => {
  it("creates an endpoint with its secret shown once, lists it without, rotates and disables it", async () => {
    const created = await app.request(
      "/v1/notification-endpoints",
      authed(admin, "POST", { url: "https://push.app.example/susu", description: "iOS app" }),
    );
    expect(created.status).toBe(201);
    const endpoint = await json(created);
    expect(endpoint).toMatchObject({
      object: "notification_endpoint",
      status: "enabled",
      description: "iOS app",
    });
    expect(endpoint.secret).toMatch(/^whsec_[0-9a-f]{64}$/);

    const list = await json(await app.request("/v1/notification-endpoints", authed(service)));
    expect(list.data).toEqual([expect.objectContaining({ id: endpoint.id })]);
    expect(JSON.stringify(list)).not.toContain(endpoint.secret as string);

    const rotated = await json(
      await app.request(`/v1/notification-endpoints/${endpoint.id}/rotate-secret`, authed(admin, "POST")),
    );
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(endpoint.secret);
    // By default the old secret keeps signing for a day; 0 ends it at once (a leaked secret).
    expect(rotated.previousSecretExpiresAt).toBe(new Date(T + 86_400_000).toISOString());
    const leaked = await json(
      await app.request(
        `/v1/notification-endpoints/${endpoint.id}/rotate-secret`,
        authed(admin, "POST", { previousSecretExpiresInSeconds: 0 }),
      ),
    );
    expect(leaked.previousSecretExpiresAt).toBeNull();
    const tooLong = await app.request(
      `/v1/notification-endpoints/${endpoint.id}/rotate-secret`,
      authed(admin, "POST", { previousSecretExpiresInSeconds: 8 * 86_400 }),
    );
    expect(tooLong.status).toBe(400);
    const stored = await db.prisma.notificationEndpoint.findUniqueOrThrow({
      where: { id: endpoint.id as string },
    });
    expect(stored.secret).toBe(leaked.secret);

    const disabled = await app.request(
      `/v1/notification-endpoints/${endpoint.id}/disable`,
      authed(admin, "POST"),
    );
    expect(await json(disabled)).toMatchObject({
      status: "disabled",
      disabledAt: new Date(T).toISOString(),
      disabledReason: "admin",
      failingSince: null,
    });
  });

  it("shows an endpoint disabled on its own after failing, and enables it again (platform admins): sent to again, its failures forgotten; 404 for none, 403 for a service token", async () => {
    const endpoint = await json(
      await app.request(
        "/v1/notification-endpoints",
        authed(admin, "POST", { url: "https://push.app.example/f" }),
      ),
    );
    const failingSince = new Date(T - 80 * 3_600_000);
    // As the delivery worker leaves it after its sends failed for SUSU_NOTIFY_ENDPOINT_DISABLE_AFTER_HOURS.
    await db.prisma.notificationEndpoint.update({
      where: { id: endpoint.id as string },
      data: { status: "disabled", disabledReason: "failing", disabledAt: new Date(T - 1000), failingSince },
    });
    const listed = (await json(await app.request("/v1/notification-endpoints", authed(service)))) as {
      data: { id: string }[];
    };
    expect(listed.data.find((e) => e.id === endpoint.id)).toMatchObject({
      status: "disabled",
      disabledReason: "failing",
      failingSince: failingSince.toISOString(),
    });
    const refused = await app.request(
      `/v1/notification-endpoints/${endpoint.id}/enable`,
      authed(service, "POST"),
    );
    expect(refused.status).toBe(403);
    expect((await json(refused)).code).toBe("admin_only");
    expect(
      (await db.prisma.notificationEndpoint.findUniqueOrThrow({ where: { id: endpoint.id as string } }))
        .status,
    ).toBe("disabled");
    const enabled = await app.request(
      `/v1/notification-endpoints/${endpoint.id}/enable`,
      authed(admin, "POST"),
    );
    expect(enabled.status).toBe(200);
    expect(await json(enabled)).toMatchObject({
      id: endpoint.id,
      status: "enabled",
      disabledAt: null,
      disabledReason: null,
      failingSince: null,
    });
    const again = await app.request(
      `/v1/notification-endpoints/${endpoint.id}/enable`,
      authed(admin, "POST"),
    );
    expect(await json(again)).toMatchObject({ status: "enabled" });
    const missing = await app.request("/v1/notification-endpoints/ne_missing/enable", authed(admin, "POST"));
    expect(missing.status).toBe(404);
    expect((await json(missing)).code).toBe("notification_endpoint_not_found");
  });

  it("refuses a URL that is not http(s), and a service token's changes (403 admin_only)", async () => {
    const bad = await app.request(
      "/v1/notification-endpoints",
      authed(admin, "POST", { url: "ftp://x.example" }),
    );
    expect(bad.status).toBe(400);
    const count = await db.prisma.notificationEndpoint.count();
    const refused = await app.request(
      "/v1/notification-endpoints",
      authed(service, "POST", { url: "https://push.app.example/2" }),
    );
    expect(refused.status).toBe(403);
    expect((await json(refused)).code).toBe("admin_only");
    expect(await db.prisma.notificationEndpoint.count()).toBe(count);
    const missing = await app.request("/v1/notification-endpoints/ne_missing/disable", authed(admin, "POST"));
    expect(missing.status).toBe(404);
    expect((await json(missing)).code).toBe("notification_endpoint_not_found");
  });

  it("refuses URLs into the platform's own networks, with credentials or over plain http: 400 endpoint_url_not_allowed, nothing stored", async () => {
    const count = await db.prisma.notificationEndpoint.count();
    const refusals: [string, RegExp][] = [
      ["http://127.0.0.1:3100/v1/groups", /https/],
      ["https://127.0.0.1:3100/v1/groups", /127\.0\.0\.1 is a loopback address/],
      ["https://[::1]:3100/", /\[::1\] is a loopback address/],
      ["https://169.254.169.254/latest/meta-data", /169\.254\.169\.254 is a link-local address/],
      ["https://[::ffff:169.254.169.254]/latest/meta-data", /link-local/],
      ["https://10.0.0.7/push", /private/],
      ["https://172.16.5.4/push", /private/],
      ["https://192.168.1.10/push", /private/],
      ["https://[fd00::7]/push", /private/],
      ["https://[fe80::1]/push", /link-local/],
      ["https://100.64.0.1/push", /CGNAT/],
      ["https://0.0.0.0/push", /unspecified/],
      ["https://224.0.0.251/push", /multicast/],
      ["https://0x7f000001/push", /loopback/],
      ["https://localhost/push", /localhost/],
      ["https://push.localhost/push", /localhost/],
      ["https://user:pass@example.com/x", /credentials/],
    ];
    for (const [url, why] of refusals) {
      const res = await app.request("/v1/notification-endpoints", authed(admin, "POST", { url }));
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      const body = await json(res);
      expect(body.code).toBe("endpoint_url_not_allowed");
      expect(body.detail).toMatch(why);
    }
    expect(await db.prisma.notificationEndpoint.count()).toBe(count);
  });

  it("takes local http receivers when SUSU_NOTIFY_ENDPOINT_ADDRESSES is any (development, tests), never credentials", async () => {
    const local = testApp({
      useCases: deps,
      // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
      gateway: new FakePaymentGateway(() => clock.now()),
      prisma: db.prisma,
      notifications: {
        settings: new PrismaNotificationSettings(db.prisma),
        endpoints: new PrismaNotificationEndpoints(db.prisma),
        deliveries: new PrismaNotificationEndpoints(db.prisma),
        endpointAddresses: "any",
      },
    });
    for (const url of ["http://127.0.0.1:3100/push", "http://[::1]:3100/", "http://localhost:4000/push"]) {
      const res = await local.request("/v1/notification-endpoints", authed(admin, "POST", { url }));
      expect({ url, status: res.status }).toEqual({ url, status: 201 });
      await local.request(
        `/v1/notification-endpoints/${(await json(res)).id}/disable`,
        authed(admin, "POST"),
      );
    }
    const credentials = await local.request(
      "/v1/notification-endpoints",
      authed(admin, "POST", { url: "https://user:pass@example.com/x" }),
    );
    expect(credentials.status).toBe(400);
    expect((await json(credentials)).code).toBe("endpoint_url_not_allowed");
  });

  it("lists deliveries newest first, by endpoint and by status, paging with starting_after", async () => {
    const created = await json(
      await app.request(
        "/v1/notification-endpoints",
        authed(admin, "POST", { url: "https://push.app.example/log" }),
      ),
    );
    const notifier = new DeliveringNotifier({
      prisma: db.prisma,
      clock,
      email: true,
      adminEmails: [],
      where: { locale: "en-AU", timeZone: "Australia/Sydney" },
      alerts: { windowMs: 60_000 },
    });
    for (const i of [1, 2, 3]) {
      clock.advance(1_000);
      const sent = await notifier.send({
        id: `round_${i}:notify:payout_sent:ben`,
        aggregate: "round",
        aggregateId: `round_${i}`,
        personIds: ["ben"],
        template: "payout_sent",
        data: { roundId: `round_${i}`, amountMinor: 1000, currency: "AUD" },
      });
      expect(sent.isOk()).toBe(true);
    }
    const webhookIds = (
      await db.prisma.notificationDelivery.findMany({
        where: { endpointId: created.id as string },
        orderBy: { createdAt: "desc" },
      })
    ).map((d) => d.id);
    await db.prisma.notificationDelivery.update({
      where: { id: webhookIds[1] as string },
      data: { status: "failed", attempts: 8, lastError: "the endpoint answered 500", lastStatusCode: 500 },
    });

    const first = await json(
      await app.request(`/v1/notification-endpoints/${created.id}/deliveries?limit=2`, authed(service)),
    );
    expect((first.data as { id: string }[]).map((d) => d.id)).toEqual(webhookIds.slice(0, 2));
    expect(first.has_more).toBe(true);
    const next = await json(
      await app.request(
        `/v1/notification-endpoints/${created.id}/deliveries?limit=2&starting_after=${webhookIds[1]}`,
        authed(service),
      ),
    );
    expect((next.data as { id: string }[]).map((d) => d.id)).toEqual(webhookIds.slice(2));

    const failed = await json(
      await app.request("/v1/operations/notification-deliveries?status=failed", authed(admin)),
    );
    expect(failed.data).toEqual([
      expect.objectContaining({
        id: webhookIds[1],
        channel: "webhook",
        template: "payout_sent",
        personId: "ben",
        status: "failed",
        attempts: 8,
        lastStatusCode: 500,
      }),
    ]);
    const all = await json(
      await app.request("/v1/operations/notification-deliveries?limit=100", authed(admin)),
    );
    // Ben's address got the e-mails (one per notification) beside the webhooks.
    expect((all.data as { channel: string }[]).filter((d) => d.channel === "email")).toHaveLength(3);
    expect(
      (all.data as { channel: string; recipient: string }[])
        .filter((d) => d.channel === "email")
        .map((d) => d.recipient),
    ).toEqual(["ben@new.example", "ben@new.example", "ben@new.example"]);
    // A service token sees the addresses masked, the domain kept; the endpoint ids whole.
    const masked = await json(
      await app.request("/v1/operations/notification-deliveries?limit=100", authed(service)),
    );
    const seen = masked.data as { channel: string; recipient: string; id: string }[];
    expect(seen.map((d) => d.id)).toEqual((all.data as { id: string }[]).map((d) => d.id));
    expect(seen.filter((d) => d.channel === "email").map((d) => d.recipient)).toEqual([
      "b***@new.example",
      "b***@new.example",
      "b***@new.example",
    ]);
    expect(seen.filter((d) => d.channel === "webhook").map((d) => d.recipient)).toEqual(
      (all.data as { channel: string; recipient: string }[])
        .filter((d) => d.channel === "webhook")
        .map((d) => d.recipient),
    );
    const bad = await app.request("/v1/operations/notification-deliveries?status=lost", authed(admin));
    expect(bad.status).toBe(400);
    const notOperator = await app.request("/v1/operations/notification-deliveries", authed(ana));
    expect(notOperator.status).toBe(403);
  });
});
