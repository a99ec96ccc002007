// The v1 skeleton: a token is needed, the caller creates and sees their own groups, others
// get 404, and the OpenAPI document lists the routes.
import { PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, useCaseDepsOn } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";

const db = useTestDatabase();
const clock = new ManualClock(Date.UTC(2026, 5, 1));
let app: ReturnType<typeof testApp>;

beforeAll(() => {
  const store = new PrismaStore(db.prisma);
  const deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
  // Never reaches Stripe: nothing tested here calls the gateway (the fake only fills the port).
  app = testApp({ useCases: deps, gateway: new FakePaymentGateway(() => clock.now()), prisma: db.prisma });
});

const newGroup = {
  name: "Friday savers",
  currency: "AUD",
  contributionMinor: 100_00,
  cadence: "weekly",
  startsAt: new Date(Date.UTC(2026, 5, 1) + DAY_MS).toISOString(),
  payoutOrderMethod: "join_order",
  displayName: "Ana",
};

describe("v1 skeleton", () => {
  it("refuses a request without a token, and with a bad one", async () => {
    const none = await app.request("/v1/groups");
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ code: "unauthenticated" });
    const bad = await app.request("/v1/groups", authed("not-a-jwt"));
    expect(bad.status).toBe(401);
  });

  it("creates a group for the caller, lists it for them and hides it from others (404)", async () => {
    const ana = await tokenFor("ana_sk");
    const created = await app.request("/v1/groups", authed(ana, "POST", newGroup));
    expect(created.status).toBe(201);
    const group = (await created.json()) as { id: string; members: { id: string; role: string }[] };
    expect(group.members).toEqual([expect.objectContaining({ id: "ana_sk", role: "admin" })]);
    const listed = (await (await app.request("/v1/groups?limit=5", authed(ana))).json()) as {
      data: { id: string }[];
      has_more: boolean;
    };
    expect(listed).toMatchObject({ object: "list", has_more: false });
    expect(listed.data.map((g) => g.id)).toEqual([group.id]);
    const stranger = await tokenFor("eve_sk");
    const hidden = await app.request(`/v1/groups/${group.id}`, authed(stranger));
    expect(hidden.status).toBe(404);
    expect(await hidden.json()).toMatchObject({ code: "group_not_found" });
    const missing = await app.request("/v1/groups/grp_nope", authed(stranger));
    expect(await missing.json()).toEqual(
      await (await app.request(`/v1/groups/${group.id}`, authed(stranger))).json().then((b) => ({
        ...(b as object),
        detail: "no group grp_nope",
        type: expect.any(String),
        title: expect.any(String),
      })),
    );
    const ops = await tokenFor("ops_sk", ["admin"]);
    expect((await app.request(`/v1/groups/${group.id}`, authed(ops))).status).toBe(200);
  });

  it("replays a POST with the same Idempotency-Key instead of creating a second group", async () => {
    const ana = await tokenFor("ana_idem");
    const headers = { "idempotency-key": "create-1" };
    const first = await app.request("/v1/groups", authed(ana, "POST", newGroup, headers));
    const again = await app.request("/v1/groups", authed(ana, "POST", newGroup, headers));
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    const listed = (await (await app.request("/v1/groups", authed(ana))).json()) as { data: unknown[] };
    expect(listed.data).toHaveLength(1);
  });

  it("serves the OpenAPI document without a token", async () => {
    const doc = (await (await app.request("/v1/openapi.json")).json()) as { openapi: string; paths: object };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/v1/groups", "/v1/groups/{groupId}"]));
  });
});
