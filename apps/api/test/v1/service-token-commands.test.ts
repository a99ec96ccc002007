// A service token (role `service`: a client app's backend, an operator tool; several apps may
// hold one) sees what platform operators see, but gives no group's, round's or member's admin
// command on a group it is not an admin of: 403 `admin_only`, as for money on a held payment,
// and nothing changes. A platform admin (role `admin`) still may, and so do the group's own
// admins (whatever roles their token carries). Real PostgreSQL, the fake gateway for Stripe.
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, tokenFor } from "../support/app.js";
import { countDomainRows } from "../support/v1-surface.js";
import { roundWorld } from "./round-driver.js";

const db = useTestDatabase();
let w: ReturnType<typeof roundWorld>;

beforeAll(() => {
  w = roundWorld(db);
});

const SERVICE = "svc_bookings";
const ADMIN = "ops_root";

interface Problem {
  readonly code: string;
  readonly status: number;
  readonly detail: string;
}

const send = async (
  as: string,
  method: string,
  path: string,
  payload?: unknown,
  roles: readonly ("member" | "admin" | "service")[] = ["member"],
) => w.app.request(path, authed(await tokenFor(as, roles), method, payload));
const asService = (method: string, path: string, payload?: unknown) =>
  send(SERVICE, method, path, payload, ["service"]);
const asAdmin = (method: string, path: string, payload?: unknown) =>
  send(ADMIN, method, path, payload, ["admin"]);

/** Everything a command on `groupId` could change: the domain's row counts, the group, its members and rounds, Stripe's refunds. */
async function stateOf(groupId: string) {
  const [counts, group, members, rounds] = await Promise.all([
    countDomainRows(db.prisma),
    db.prisma.group.findUniqueOrThrow({
      where: { id: groupId },
      select: { version: true, status: true, payoutOrderMethod: true, snapshot: true },
    }),
    db.prisma.member.findMany({
      where: { groupId },
      orderBy: { id: "asc" },
      select: { id: true, status: true, role: true, rotationPosition: true },
    }),
    db.prisma.round.findMany({
      where: { groupId },
      orderBy: { sequence: "asc" },
      select: { id: true, version: true, state: true, recipientMemberId: true, snapshot: true },
    }),
  ]);
  return { counts, group, members, rounds, refunds: w.gateway.refunds.size };
}

/** Each request is refused 403 `admin_only` (the held payments' wording style), and the group is as it was. */
async function expectAdminOnly(
  groupId: string,
  requests: readonly (readonly [method: string, path: string, payload?: unknown])[],
) {
  const before = await stateOf(groupId);
  const failures: string[] = [];
  for (const [method, path, payload] of requests) {
    const res = await asService(method, path, payload);
    const text = await res.text();
    const problem =
      res.headers.get("content-type") === "application/problem+json"
        ? (JSON.parse(text) as Problem)
        : undefined;
    if (res.status !== 403 || problem?.code !== "admin_only")
      failures.push(`${method} ${path}: ${res.status} ${problem?.code ?? text.slice(0, 120)}`);
    else expect(problem.detail).toMatch(/\(a service token may not\)$/);
  }
  expect(failures, "a service token's group commands").toEqual([]);
  expect(await stateOf(groupId)).toEqual(before);
}

const readsOf = (groupId: string, roundId: string) => [
  `/v1/groups/${groupId}`,
  `/v1/groups/${groupId}/members`,
  `/v1/groups/${groupId}/rounds`,
  `/v1/groups/${groupId}/audit`,
  `/v1/groups/${groupId}/ledger`,
  `/v1/rounds/${roundId}`,
  `/v1/rounds/${roundId}/timeline`,
];

describe("a service token on a round of a group it is not in", () => {
  it("reads it, but may not reassign a blocked payout, cancel, extend, retry: 403 admin_only; a platform admin reassigns", async () => {
    const groupId = await w.readyGroup("sia", ["sol", "sam"]);
    const opened = await send("sia", "POST", `/v1/groups/${groupId}/rounds`);
    expect(opened.status).toBe(201);
    const roundId = ((await opened.json()) as { id: string }).id;
    // The recipient's account stops receiving: the payout blocks and the group pauses.
    w.gateway.setAccount("acct_sia", false);
    await w.advance(4 * DAY_MS);

    for (const path of readsOf(groupId, roundId))
      expect((await asService("GET", path)).status, `GET ${path}`).toBe(200);

    await expectAdminOnly(groupId, [
      ["POST", `/v1/rounds/${roundId}/reassign`, { toMemberId: "sol" }],
      ["POST", `/v1/rounds/${roundId}/cancel`, { reason: "a leaked token" }],
      [
        "POST",
        `/v1/rounds/${roundId}/extend-deadline`,
        { deadline: new Date(w.clock.now() + DAY_MS).toISOString() },
      ],
      ["POST", `/v1/rounds/${roundId}/contributions/sol/retry`],
      ["POST", `/v1/rounds/${roundId}/contributions/sol/retry-refund`],
      ["POST", `/v1/groups/${groupId}/rounds`],
      ["POST", `/v1/groups/${groupId}/resume`],
      ["POST", `/v1/groups/${groupId}/close`, { reason: "a leaked token" }],
    ]);
    expect((await stateOf(groupId)).rounds[0]).toMatchObject({
      state: "payout_blocked",
      recipientMemberId: "sia",
    });

    // A platform admin still may, audited as an operator.
    const reassigned = await asAdmin("POST", `/v1/rounds/${roundId}/reassign`, { toMemberId: "sol" });
    expect(reassigned.status).toBe(200);
    expect(await reassigned.json()).toMatchObject({ status: "paying_out", recipientMemberId: "sol" });
    const line = await db.prisma.auditLogEntry.findFirstOrThrow({
      where: { aggregateId: roundId, action: "reassign_payout" },
    });
    expect(line.actor).toBe(`operator:${ADMIN}`);
  });

  it("may not cancel a collecting round (which refunds every contribution); the group's admin cancels it", async () => {
    const groupId = await w.readyGroup("cia", ["cyd"]);
    const opened = await send("cia", "POST", `/v1/groups/${groupId}/rounds`);
    const roundId = ((await opened.json()) as { id: string }).id;
    await w.advance(DAY_MS); // the debits succeed: there is money to refund
    await expectAdminOnly(groupId, [
      ["POST", `/v1/rounds/${roundId}/cancel`, { reason: "a leaked token" }],
      ["POST", `/v1/groups/${groupId}/pause`, { reason: "a leaked token" }],
    ]);
    const cancelled = await send("cia", "POST", `/v1/rounds/${roundId}/cancel`, {
      reason: "we agreed to stop",
    });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({ status: "refunding" });
  });
});

describe("a service token on a forming group it is not in", () => {
  it("may not change settings, the payout order, remove a member, activate, pause or close: 403 admin_only; admins still may", async () => {
    const groupId = await w.readyGroup("fia", ["fox", "fay"], { due: false });
    // readyGroup activates the group; a forming one is made through the API here.
    const created = await send("gia", "POST", "/v1/groups", {
      name: "Forming",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(w.clock.now() + 2 * DAY_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: "Gia",
    });
    expect(created.status).toBe(201);
    const forming = ((await created.json()) as { id: string }).id;
    for (const who of ["gus", "gil"])
      expect((await send(who, "POST", `/v1/groups/${forming}/members`, { displayName: who })).status).toBe(
        201,
      );
    for (const path of [
      `/v1/groups/${forming}`,
      `/v1/groups/${forming}/members/gus`,
      `/v1/groups/${forming}/audit`,
    ])
      expect((await asService("GET", path)).status, `GET ${path}`).toBe(200);

    await expectAdminOnly(forming, [
      ["PATCH", `/v1/groups/${forming}`, { name: "Renamed by a leaked token" }],
      ["PUT", `/v1/groups/${forming}/payout-order`, { memberIds: ["gil", "gus", "gia"] }],
      ["DELETE", `/v1/groups/${forming}/members/gus`],
      ["POST", `/v1/groups/${forming}/activate`],
      ["POST", `/v1/groups/${forming}/pause`, { reason: "a leaked token" }],
      ["POST", `/v1/groups/${forming}/close`, { reason: "a leaked token" }],
    ]);
    await expectAdminOnly(groupId, [["POST", `/v1/groups/${groupId}/pause`, { reason: "a leaked token" }]]);

    // The group's admin and a platform admin still may.
    expect(
      (await send("gia", "PUT", `/v1/groups/${forming}/payout-order`, { memberIds: ["gil", "gus", "gia"] }))
        .status,
    ).toBe(200);
    const removed = await asAdmin("DELETE", `/v1/groups/${forming}/members/gus`);
    expect(removed.status).toBe(200);
    expect(await removed.json()).toMatchObject({ id: "gus", status: "left" });
    expect((await asAdmin("POST", `/v1/groups/${groupId}/pause`, { reason: "maintenance" })).status).toBe(
      200,
    );
  });

  it("a group's own admin acts on it whatever roles their token carries, a service token's included", async () => {
    const created = await send("hal", "POST", "/v1/groups", {
      name: "Hal's",
      currency: "AUD",
      contributionMinor: 100_00,
      cadence: "weekly",
      startsAt: new Date(w.clock.now() + 2 * DAY_MS).toISOString(),
      payoutOrderMethod: "join_order",
      displayName: "Hal",
    });
    const groupId = ((await created.json()) as { id: string }).id;
    expect((await send("hue", "POST", `/v1/groups/${groupId}/members`, { displayName: "Hue" })).status).toBe(
      201,
    );
    const res = await send(
      "hal",
      "PUT",
      `/v1/groups/${groupId}/payout-order`,
      { memberIds: ["hue", "hal"] },
      ["service"],
    );
    expect(res.status).toBe(200);
    const line = await db.prisma.auditLogEntry.findFirstOrThrow({
      where: { aggregateId: groupId, action: "set_payout_order" },
    });
    expect(line.actor).toBe("hal");
    // A service token that is the member themselves still leaves for itself.
    expect(
      (await send("hue", "DELETE", `/v1/groups/${groupId}/members/hue`, undefined, ["service"])).status,
    ).toBe(200);
  });
});
