// The groups and rounds API through app.request(), on a real PostgreSQL database.
import { PrismaStore, PrismaWebhookInbox } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, type UseCaseDeps, useCases } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../src/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
const gateway = new FakePaymentGateway(() => clock.now());
let app: ReturnType<typeof createApp>;
let deps: UseCaseDeps;

beforeAll(() => {
  const store = new PrismaStore(db.prisma);
  deps = { people: store, groups: store, rounds: store, uow: store, clock, ids: new SequentialIds() };
  app = createApp({
    useCases: deps,
    ping: async () => {
      await db.prisma.$queryRaw`SELECT 1`;
    },
    webhooks: { stripeSecret: "whsec_groups_test", inbox: new PrismaWebhookInbox(db.prisma) },
    gateway,
  });
});

const json = (body: unknown, actor?: string) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(actor ? { "x-susu-member": actor } : {}) },
  body: JSON.stringify(body),
});

const newGroup = (overrides: Record<string, unknown> = {}) => ({
  name: "Friday savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(clock.now() + DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  creator: { id: "ana", displayName: "Ana" },
  ...overrides,
});

/** The fields these tests read from responses (group, round and problem documents). */
interface Body {
  readonly id: string;
  readonly code: string;
  readonly status: string;
  readonly payoutOrder: unknown;
  readonly data: unknown[];
  readonly contributions: { readonly memberId: string; readonly status: string }[];
}

const read = async (res: Response): Promise<Body> => (await res.json()) as Body;

/**
 * Records a person's finished onboarding as Stripe's webhooks would (a mandate, then an
 * account that can receive, unless `payouts` is false): these tests are about the API,
 * the onboarding routes are tested below.
 */
async function onboarded(personId: string, options: { payouts?: boolean } = {}): Promise<void> {
  (
    await useCases.updatePersonPayment(
      deps,
      personId,
      {
        customerId: `cus_${personId}`,
        debit: { paymentMethodId: `pm_${personId}`, mandateId: `mandate_${personId}`, mandateActive: true },
        connectedAccountId: `acct_${personId}`,
      },
      "stripe",
    )
  )._unsafeUnwrap();
  if (options.payouts !== false)
    (
      await useCases.updatePersonReadiness(deps, personId, { payoutsEnabled: true }, "stripe")
    )._unsafeUnwrap();
}

async function groupCount(): Promise<number> {
  return db.prisma.group.count();
}

describe("groups API", () => {
  it("answers health from the database", async () => {
    const res = await app.request("/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("creates a group: 201, a Location, the creator as admin, the amount with its currency", async () => {
    const res = await app.request("/groups", json(newGroup()));
    expect(res.status).toBe(201);
    const body = await read(res);
    expect(res.headers.get("location")).toBe(`/groups/${body.id}`);
    expect(body).toMatchObject({
      status: "forming",
      contribution: { amountMinor: 10000, currency: "AUD", text: "100.00 AUD" },
      members: [{ id: "ana", role: "admin", status: "active" }],
    });
    const fetched = await app.request(`/groups/${body.id}`);
    expect(await read(fetched)).toEqual(body);
  });

  it("refuses bad input with a stable problem code and stores nothing", async () => {
    const before = await groupCount();
    const cases: [unknown, number, string][] = [
      [{ name: 1 }, 400, "invalid_request"],
      [newGroup({ currency: "XXX" }), 400, "invalid_request"],
      [newGroup({ contributionMinor: 12.5 }), 400, "invalid_request"],
      [newGroup({ contributionMinor: 10 }), 422, "amount_below_minimum"],
      [newGroup({ currency: "KWD", contributionMinor: 12345 }), 422, "amount_invalid_step"],
      [newGroup({ startsAt: "2020-01-01T00:00:00Z" }), 422, "invalid_group"],
    ];
    for (const [body, status, code] of cases) {
      const res = await app.request("/groups", json(body));
      expect(res.status, code).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect(await read(res)).toMatchObject({ status, code, type: `https://susu.dev/problems/${code}` });
    }
    const malformed = await app.request("/groups", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(malformed.status).toBe(400);
    expect(await groupCount()).toBe(before);
  });

  it("runs a group's set-up: join, order, activate; refuses what the rules refuse", async () => {
    const created = await read(await app.request("/groups", json(newGroup())));
    const id = created.id;
    for (const m of ["ben", "cy"]) {
      const res = await app.request(`/groups/${id}/members`, json({ id: m, displayName: m.toUpperCase() }));
      expect(res.status).toBe(201);
    }
    expect((await app.request(`/groups/${id}/members`, json({ id: "ben", displayName: "Ben" }))).status).toBe(
      409,
    );

    const noActor = await app.request(`/groups/${id}/activate`, json({}));
    expect(noActor.status).toBe(401);
    expect((await read(noActor)).code).toBe("actor_required");
    const notAdmin = await app.request(`/groups/${id}/activate`, json({}, "ben"));
    expect(notAdmin.status).toBe(403);

    const badOrder = await app.request(`/groups/${id}/payout-order`, {
      ...json({ memberIds: ["cy", "ana"] }, "ana"),
      method: "PUT",
    });
    expect(badOrder.status).toBe(422);
    expect((await read(badOrder)).code).toBe("invalid_payout_order");
    const order = await app.request(`/groups/${id}/payout-order`, {
      ...json({ memberIds: ["cy", "ana", "ben"] }, "ana"),
      method: "PUT",
    });
    expect((await read(order)).payoutOrder).toEqual({ method: "fixed", memberIds: ["cy", "ana", "ben"] });

    for (const m of ["ana", "ben", "cy"]) await onboarded(m);
    const activated = await app.request(`/groups/${id}/activate`, json({}, "ana"));
    expect(activated.status).toBe(200);
    expect((await read(activated)).status).toBe("active");

    // Not due until startsAt: a stable 409, nothing opened.
    const early = await app.request(`/groups/${id}/rounds`, json({}, "ana"));
    expect(early.status).toBe(409);
    expect((await read(early)).code).toBe("no_round_due");
    const rounds = await read(await app.request(`/groups/${id}/rounds`));
    expect(rounds.data).toEqual([]);
  });

  it("opens a round when it is due: one debit per member recorded, the round readable", async () => {
    const created = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "dee", displayName: "Dee" } }))),
    );
    const id = created.id;
    await app.request(`/groups/${id}/members`, json({ id: "eli", displayName: "Eli" }));
    for (const m of ["dee", "eli"]) await onboarded(m);
    await app.request(`/groups/${id}/activate`, json({}, "dee"));
    clock.advance(2 * DAY_MS);
    const res = await app.request(`/groups/${id}/rounds`, json({}, "dee"));
    expect(res.status).toBe(201);
    const round = await read(res);
    expect(round).toMatchObject({ groupId: id, status: "collecting", recipientMemberId: "dee" });
    expect(round.contributions.map((c) => [c.memberId, c.status])).toEqual([
      ["dee", "awaiting_debit"],
      ["eli", "awaiting_debit"],
    ]);
    expect(await read(await app.request(`/rounds/${round.id}`))).toEqual(round);
    const again = await app.request(`/groups/${id}/rounds`, json({}, "dee"));
    expect((await read(again)).code).toBe("round_in_progress");
    const outbox = await db.prisma.outboxEffect.count({ where: { aggregateId: round.id } });
    expect(outbox).toBeGreaterThanOrEqual(3); // two debits and the deadline timer
  });

  it("unknown groups, rounds and routes are 404 problems", async () => {
    for (const path of ["/groups/grp_missing", "/rounds/round_missing", "/nowhere"]) {
      const res = await app.request(path);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
    }
  });

  it("members set up their own debit and payout account; others may not", async () => {
    const created = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "fay", displayName: "Fay" } }))),
    );
    const base = `/groups/${created.id}/members/fay`;
    const forbidden = await app.request(`${base}/debit-setup`, json({}, "someone_else"));
    expect(forbidden.status).toBe(403);
    const setup = await app.request(`${base}/debit-setup`, json({}, "fay"));
    expect(setup.status).toBe(201);
    const body = (await setup.json()) as { setupIntentId: string; clientSecret: string };
    expect(body.clientSecret).toContain(body.setupIntentId);
    const again = (await (await app.request(`${base}/debit-setup`, json({}, "fay"))).json()) as {
      setupIntentId: string;
    };
    expect(again.setupIntentId).toBe(body.setupIntentId);

    const badUrls = await app.request(
      `${base}/payout-onboarding`,
      json({ refreshUrl: "nope", returnUrl: "x" }, "fay"),
    );
    expect(badUrls.status).toBe(400);
    const link = await app.request(
      `${base}/payout-onboarding`,
      json({ refreshUrl: "https://app.example/r", returnUrl: "https://app.example/done" }, "fay"),
    );
    expect(link.status).toBe(201);
    expect(((await link.json()) as { url: string }).url).toMatch(/^https:\/\//);
    const stored = await read(await app.request(`/groups/${created.id}`));
    expect(stored).toMatchObject({
      members: [{ id: "fay", readiness: { mandateActive: false, payoutsEnabled: false } }],
    });
  });

  it("refuses a currency no supported debit method collects: 422 currency_not_supported, nothing stored", async () => {
    const before = await groupCount();
    const people = await db.prisma.person.count();
    const res = await app.request(
      "/groups",
      json(newGroup({ currency: "USD", creator: { id: "usd", displayName: "U" } })),
    );
    expect(res.status).toBe(422);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    const body = (await res.json()) as { code: string; detail: string };
    expect(body.code).toBe("currency_not_supported");
    expect(body.detail).toContain("AUD");
    expect(await groupCount()).toBe(before);
    expect(await db.prisma.person.count()).toBe(people);
  });

  it("activation names the members who are not ready: 409 members_not_ready, the group still forming", async () => {
    const created = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "gil", displayName: "Gil" } }))),
    );
    const id = created.id;
    for (const m of ["hal", "ivy"])
      await app.request(`/groups/${id}/members`, json({ id: m, displayName: m.toUpperCase() }));
    await onboarded("gil");
    await onboarded("ivy", { payouts: false });
    const res = await app.request(`/groups/${id}/activate`, json({}, "gil"));
    expect(res.status).toBe(409);
    expect(res.headers.get("content-type")).toBe("application/problem+json");
    expect(await res.json()).toMatchObject({
      code: "members_not_ready",
      notReady: [
        { memberId: "hal", lacks: ["mandate", "payout_account"] },
        { memberId: "ivy", lacks: ["payout_account"] },
      ],
    });
    const stored = await read(await app.request(`/groups/${id}`));
    expect(stored).toMatchObject({ status: "forming" });
    expect(
      await db.prisma.auditLogEntry.count({ where: { aggregateId: id, action: "activate_group" } }),
    ).toBe(0);
  });

  it("only an admin opens a round: 401 without an actor, 403 not_admin for a member, 404 for anyone else; nothing stored", async () => {
    const created = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "jo", displayName: "Jo" } }))),
    );
    const id = created.id;
    await app.request(`/groups/${id}/members`, json({ id: "kim", displayName: "Kim" }));
    for (const m of ["jo", "kim"]) await onboarded(m);
    expect((await app.request(`/groups/${id}/activate`, json({}, "jo"))).status).toBe(200);
    clock.advance(2 * DAY_MS);
    const refusals: [string | undefined, number, string][] = [
      [undefined, 401, "actor_required"],
      ["kim", 403, "not_admin"],
      ["stranger", 404, "member_not_found"],
    ];
    for (const [actor, status, code] of refusals) {
      const res = await app.request(`/groups/${id}/rounds`, json({}, actor));
      expect(res.status, code).toBe(status);
      expect(res.headers.get("content-type")).toBe("application/problem+json");
      expect((await read(res)).code).toBe(code);
    }
    expect(await db.prisma.round.count({ where: { groupId: id } })).toBe(0);
    const opened = await app.request(`/groups/${id}/rounds`, json({}, "jo"));
    expect(opened.status).toBe(201);
    const round = await read(opened);
    const audit = await db.prisma.auditLogEntry.findFirstOrThrow({
      where: { aggregateId: round.id, action: "open" },
    });
    expect(audit.actor).toBe("jo");
  });

  it("a round does not open while someone in the rotation is not ready (a mandate gone inactive)", async () => {
    const created = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "lu", displayName: "Lu" } }))),
    );
    const id = created.id;
    await app.request(`/groups/${id}/members`, json({ id: "max", displayName: "Max" }));
    for (const m of ["lu", "max"]) await onboarded(m);
    expect((await app.request(`/groups/${id}/activate`, json({}, "lu"))).status).toBe(200);
    (await useCases.updatePersonReadiness(deps, "max", { mandateActive: false }, "stripe"))._unsafeUnwrap();
    clock.advance(2 * DAY_MS);
    const res = await app.request(`/groups/${id}/rounds`, json({}, "lu"));
    expect(res.status).toBe(409);
    expect(await res.json()).toMatchObject({
      code: "members_not_ready",
      notReady: [{ memberId: "max", lacks: ["mandate"] }],
    });
    expect(await db.prisma.round.count({ where: { groupId: id } })).toBe(0);
  });

  it("a member's readiness is the person's: the same in every group they are in", async () => {
    const first = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "ned", displayName: "Ned" } }))),
    );
    const second = await read(
      await app.request("/groups", json(newGroup({ creator: { id: "ola", displayName: "Ola" } }))),
    );
    await app.request(`/groups/${second.id}/members`, json({ id: "ned", displayName: "Ned" }));
    await onboarded("ned", { payouts: false });
    for (const groupId of [first.id, second.id]) {
      const view = (await (await app.request(`/groups/${groupId}`)).json()) as {
        members: { id: string; readiness: unknown }[];
      };
      expect(view.members.find((m) => m.id === "ned")?.readiness).toEqual({
        mandateActive: true,
        payoutsEnabled: false,
      });
    }
  });
});
