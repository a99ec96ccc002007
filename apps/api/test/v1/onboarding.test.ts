// A person's onboarding on v1, once for all their groups: the debit set-up's client secret
// and the payout onboarding link (only for the person themselves), and where they stand
// (the person, platform admins) with what is still due and the provider's requirements.
import { describe, expect, it, vi } from "vitest";
import { expectInvalid, expectProblem, groupsTestbed } from "./groups-support.js";

const bed = groupsTestbed();
const { send } = bed;
const ops = { roles: ["admin" as const] };
const urls = { refreshUrl: "https://app.example/r", returnUrl: "https://app.example/done" };

describe("debit set-up", () => {
  it("the person gets a SetupIntent client secret; the same attempt repeats it, a new one makes another", async () => {
    const id = await bed.group("fay");
    const setup = await send("fay", "POST", "/v1/people/fay/debit-setup", {});
    expect(setup.status).toBe(201);
    expect(setup.body.clientSecret).toContain(setup.body.setupIntentId);
    const again = await send("fay", "POST", "/v1/people/me/debit-setup");
    expect(again.body.setupIntentId).toBe(setup.body.setupIntentId);
    const renewed = await send("fay", "POST", "/v1/people/me/debit-setup", { attempt: "2" });
    expect(renewed.body.setupIntentId).not.toBe(setup.body.setupIntentId);
    // One customer for the person, whichever group they are in; not ready until Stripe says so.
    const person = await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "fay" } });
    expect(person.stripeCustomerId).toMatch(/^cus_/);
    expect((await send("fay", "GET", `/v1/groups/${id}`)).body).toMatchObject({
      members: [{ id: "fay", readiness: { mandateActive: false, payoutsEnabled: false } }],
    });
  });

  it("is the person's only: anyone else, platform admins included, gets 404; anonymous 401; nothing made", async () => {
    await bed.group("gus");
    expectProblem(
      await send("someone_else", "POST", "/v1/people/gus/debit-setup", {}),
      404,
      "person_not_found",
    );
    expectProblem(await send("ops", "POST", "/v1/people/gus/debit-setup", {}, ops), 404, "person_not_found");
    expectProblem(await send(undefined, "POST", "/v1/people/gus/debit-setup", {}), 401, "unauthenticated");
    expect(
      (await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "gus" } })).stripeCustomerId,
    ).toBeNull();
    // Someone who is in no group is no person yet.
    expectProblem(await send("nobody", "POST", "/v1/people/me/debit-setup", {}), 404, "person_not_found");
  });

  it("refuses bad input naming the field", async () => {
    await bed.group("hal");
    expectInvalid(await send("hal", "POST", "/v1/people/hal/debit-setup", { attempt: "" }), ["attempt"]);
    expectInvalid(await send("hal", "POST", "/v1/people/hal/debit-setup", { attempt: "2\u0000" }), [
      "attempt",
    ]);
    expectInvalid(await send("hal", "POST", "/v1/people/hal/debit-setup", { attempt: "x".repeat(65) }), [
      "attempt",
    ]);
    expectInvalid(await send("hal", "POST", "/v1/people/ha%00l/debit-setup", {}), ["path.personId"]);
    expectInvalid(await send("hal", "POST", "/v1/people/h%20a%20l/debit-setup", {}), ["personId"]);
    expect(
      (await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "hal" } })).stripeCustomerId,
    ).toBeNull();
  });

  it("replays the same Idempotency-Key with the first answer", async () => {
    await bed.group("ian");
    const headers = { "idempotency-key": "setup-1" };
    const first = await send("ian", "POST", "/v1/people/me/debit-setup", {}, { headers });
    const again = await send("ian", "POST", "/v1/people/me/debit-setup", {}, { headers });
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("a provider that does not answer is a 503 the client may repeat; its message is only logged", async () => {
    await bed.group("jan");
    bed.gateway.injectFault("createCustomer", "before");
    const logged = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const failed = await send("jan", "POST", "/v1/people/me/debit-setup", {});
    expect(logged.mock.calls.map((c) => String(c[0])).join("\n")).toContain("injected");
    logged.mockRestore();
    expectProblem(failed, 503, "api_connection_error");
    expect(failed.body.detail).not.toContain("injected");
    expect((await send("jan", "POST", "/v1/people/me/debit-setup", {})).status).toBe(201);
  });
});

describe("payout onboarding", () => {
  it("the person gets a link to the provider's onboarding; bad URLs are 400; others 404", async () => {
    await bed.group("kay");
    expectInvalid(
      await send("kay", "POST", "/v1/people/kay/payout-onboarding", { refreshUrl: "nope", returnUrl: "x" }),
      ["refreshUrl", "returnUrl"],
    );
    expectInvalid(
      await send("kay", "POST", "/v1/people/kay/payout-onboarding", {
        ...urls,
        returnUrl: "javascript:alert(1)",
      }),
      ["returnUrl"],
    );
    expectInvalid(await send("kay", "POST", "/v1/people/kay/payout-onboarding", { ...urls, country: "au" }), [
      "country",
    ]);
    expectInvalid(await send("kay", "POST", "/v1/people/kay/payout-onboarding"), [""]);
    expectProblem(
      await send("lou", "POST", "/v1/people/kay/payout-onboarding", urls),
      404,
      "person_not_found",
    );
    expectProblem(
      await send("ops", "POST", "/v1/people/kay/payout-onboarding", urls, ops),
      404,
      "person_not_found",
    );
    expectProblem(
      await send(undefined, "POST", "/v1/people/kay/payout-onboarding", urls),
      401,
      "unauthenticated",
    );
    expect(
      (await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "kay" } })).connectedAccountId,
    ).toBeNull();

    const link = await send("kay", "POST", "/v1/people/kay/payout-onboarding", urls);
    expect(link.status).toBe(201);
    expect(link.body.url).toMatch(/^https:\/\//);
    expect(link.body.expiresAt).toBe(new Date(bed.clock.now() + 5 * 60_000).toISOString());
    const again = await send("kay", "POST", "/v1/people/me/payout-onboarding", { ...urls, country: "AU" });
    expect(again.body.url).toBe(link.body.url);
    expect(
      (await bed.db.prisma.person.findUniqueOrThrow({ where: { id: "kay" } })).connectedAccountId,
    ).toMatch(/^acct_/);
  });
});

describe("the person's readiness", () => {
  it("says what is still due, step by step, with the account's requirements from the provider", async () => {
    await bed.group("max");
    const fresh = await send("max", "GET", "/v1/people/me");
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({
      id: "max",
      displayName: "MAX",
      createdAt: new Date(bed.clock.now()).toISOString(),
      readiness: { mandateActive: false, payoutsEnabled: false },
      ready: false,
      due: ["mandate_missing", "payout_account_missing"],
      debit: { status: "missing" },
      payoutAccount: { status: "missing", requirementsDue: [] },
    });
    await send("max", "POST", "/v1/people/me/payout-onboarding", urls);
    expect((await send("max", "GET", "/v1/people/max")).body).toMatchObject({
      due: ["mandate_missing", "payouts_not_enabled"],
      payoutAccount: { status: "pending", requirementsDue: ["external_account"] },
    });
    await bed.onboarded("max");
    const ready = await send("max", "GET", "/v1/people/me");
    expect(ready.body).toMatchObject({
      ready: true,
      due: [],
      readiness: { mandateActive: true, payoutsEnabled: true },
      debit: { status: "active" },
      payoutAccount: { status: "enabled", requirementsDue: [] },
    });
    expect(JSON.stringify(ready.body)).not.toMatch(/cus_|acct_|pm_|mandate_max/);
  });

  it("the person and platform admins see it; anyone else 404, anonymous 401", async () => {
    await bed.group("ned");
    expect((await send("ops", "GET", "/v1/people/ned", undefined, ops)).body.id).toBe("ned");
    expectProblem(await send("ola", "GET", "/v1/people/ned"), 404, "person_not_found");
    expectProblem(await send(undefined, "GET", "/v1/people/me"), 401, "unauthenticated");
    expectProblem(await send("ops", "GET", "/v1/people/nobody", undefined, ops), 404, "person_not_found");
    expectProblem(await send("nobody", "GET", "/v1/people/me"), 404, "person_not_found");
  });

  it("is in the OpenAPI document with the other routes of this part", async () => {
    const doc = (await (await bed.app.request("/v1/openapi.json")).json()) as {
      paths: Record<string, object>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/groups/{groupId}/pause",
        "/v1/groups/{groupId}/resume",
        "/v1/groups/{groupId}/close",
        "/v1/groups/{groupId}/members",
        "/v1/groups/{groupId}/members/{memberId}",
        "/v1/groups/{groupId}/payout-order",
        "/v1/groups/{groupId}/swaps",
        "/v1/groups/{groupId}/swaps/accept",
        "/v1/groups/{groupId}/activate",
        "/v1/people/me",
        "/v1/people/{personId}",
        "/v1/people/{personId}/debit-setup",
        "/v1/people/{personId}/payout-onboarding",
      ]),
    );
    expect(Object.keys(doc.paths["/v1/groups/{groupId}"] ?? {})).toEqual(
      expect.arrayContaining(["get", "patch"]),
    );
  });
});
