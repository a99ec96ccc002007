// The request id reaches the lines written below the route: a use case's Stripe calls,
// made through the real gateway against the emulator, are logged by the adapter with the
// id the API answered in X-Request-Id, even with requests running side by side.
import { createStripeClient, PrismaStore, StripePaymentGateway } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, useCaseDepsOn } from "@susu/domain";
import { ManualClock, SequentialIds } from "@susu/domain/testing";
import { type RunningEmulator, startEmulator } from "@susu/stripe-emulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, testHttp, tokenFor } from "../support/app.js";
import { captureLogs } from "./support.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let emulator: RunningEmulator;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, fees: false });
});
afterAll(async () => {
  await emulator?.stop();
});

function appWithLogs() {
  const logs = captureLogs();
  const store = new PrismaStore(db.prisma);
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  const url = new URL(emulator.url);
  // As container.ts wires it: the adapter is given the same logger and clock, and no request id.
  const gateway = new StripePaymentGateway(
    createStripeClient({
      secretKey: emulator.secretKey,
      host: url.hostname,
      port: Number(url.port),
      protocol: "http",
      timeoutMs: 5_000,
      maxNetworkRetries: 0,
      log: logs.logger,
    }),
    // On the use cases' clock, as container.ts gives it.
    { clock },
  );
  const app = testApp({
    useCases: deps,
    gateway,
    prisma: db.prisma,
    http: { ...testHttp({ prisma: db.prisma }), logger: logs.logger },
  });
  return { app, logs };
}

async function groupOf(app: ReturnType<typeof appWithLogs>["app"], person: string): Promise<void> {
  const res = await app.request(
    "/v1/groups",
    authed(await tokenFor(person), "POST", {
      name: `${person}'s savers`,
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(clock.now() + DAY_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: person,
    }),
  );
  expect(res.status).toBe(201);
}

describe("the request id below the route", () => {
  it("is on the use case's provider calls, each request's on its own, and nothing secret is logged", async () => {
    const { app, logs } = appWithLogs();
    await groupOf(app, "ana");
    await groupOf(app, "ben");
    const [anaToken, benToken] = [await tokenFor("ana"), await tokenFor("ben")];
    const [ana, ben] = await Promise.all([
      app.request("/v1/people/me/debit-setup", authed(anaToken, "POST", {})),
      // One with the client's own id, one with a generated id.
      app.request(
        "/v1/people/me/debit-setup",
        authed(benToken, "POST", {}, { "x-request-id": "ben-setup-1" }),
      ),
    ]);
    expect([ana.status, ben.status]).toEqual([201, 201]);
    const anaId = ana.headers.get("x-request-id");
    expect(anaId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ben.headers.get("x-request-id")).toBe("ben-setup-1");

    const lines = logs.lines();
    const stripeCallsOf = (requestId: string | null) =>
      lines.filter((l) => l.msg === "stripe call" && l.requestId === requestId);
    // A customer (a first request: made under its key, nothing looked for first) and a
    // SetupIntent each, written by the Stripe adapter, not by the route.
    for (const id of [anaId, "ben-setup-1"]) {
      const calls = stripeCallsOf(id).map((l) => l.stripe as { method: string; path: string });
      expect(calls.map((c) => `${c.method} ${c.path}`)).toEqual([
        "POST /v1/customers",
        "POST /v1/setup_intents",
      ]);
    }
    // Every Stripe call made while handling a request is tied to one, and the request line too.
    expect(lines.filter((l) => l.msg === "stripe call" && l.requestId === undefined)).toEqual([]);
    expect(
      lines.filter((l) => l.msg === "request" && l.route === "/v1/people/:personId/debit-setup"),
    ).toEqual([
      expect.objectContaining({ requestId: expect.any(String) }),
      expect.objectContaining({ requestId: expect.any(String) }),
    ]);

    // The client secret the route answered, the tokens and Stripe's key are nowhere in the logs.
    const text = logs.text();
    const { clientSecret } = (await ana.json()) as { clientSecret: string };
    expect(clientSecret.length).toBeGreaterThan(10);
    for (const secret of [clientSecret, anaToken, benToken, emulator.secretKey])
      expect(text).not.toContain(secret);
  });
});
