// Groups on v1: create, list mine, read, change settings before the start, pause, resume
// and close — validation, who may (anonymous, a stranger, a member, the group's admin, a
// platform admin), idempotent POSTs, pagination, and nothing stored on refusal.
import { PrismaStore } from "@susu/adapters";
import { DAY_MS, type Group, type StorageError, useCases } from "@susu/domain";
import type { ResultAsync } from "neverthrow";
import { describe, expect, it, vi } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { expectInvalid, expectProblem, groupsTestbed, newGroup } from "./groups-support.js";

const bed = groupsTestbed();
const { send } = bed;
const groupCount = () => bed.db.prisma.group.count();
const ops = { roles: ["admin" as const] };

describe("creating and reading groups", () => {
  it("creates a group: 201, a Location, the caller as admin, the amount with its currency", async () => {
    const res = await send("ana", "POST", "/v1/groups", newGroup(bed.clock.now(), "ana"));
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/v1/groups/${res.body.id}`);
    expect(res.body).toMatchObject({
      status: "forming",
      contribution: { amountMinor: 10000, currency: "AUD", text: "100.00 AUD" },
      members: [{ id: "ana", role: "admin", status: "active", displayName: "ANA" }],
      adminPause: null,
      closure: null,
    });
    expect((await send("ana", "GET", `/v1/groups/${res.body.id}`)).body).toEqual(res.body);
  });

  it("refuses bad input with a stable problem code and stores nothing", async () => {
    const before = await groupCount();
    const now = bed.clock.now();
    const cases: [unknown, number, string, string[]][] = [
      [{ name: 1 }, 400, "invalid_request", ["name", "currency", "displayName"]],
      [newGroup(now, "ana", { currency: "XXX" }), 400, "invalid_request", ["currency"]],
      [newGroup(now, "ana", { contributionMinor: 12.5 }), 400, "invalid_request", ["contributionMinor"]],
      [newGroup(now, "ana", { name: "Fri\u0000day" }), 400, "invalid_request", ["name"]],
      [newGroup(now, "ana", { contributionMinor: 10 }), 422, "amount_below_minimum", []],
      [newGroup(now, "ana", { currency: "KWD", contributionMinor: 12345 }), 422, "amount_invalid_step", []],
      [newGroup(now, "ana", { contributionMinor: 100_000_000_000 }), 422, "amount_too_large", []],
      [newGroup(now, "ana", { startsAt: "2020-01-01T00:00:00Z" }), 422, "invalid_group", []],
      // More than a year (366 days) ahead, up to the last instant the schema can write.
      [
        newGroup(now, "ana", { startsAt: new Date(now + 366 * DAY_MS + 1000).toISOString() }),
        422,
        "invalid_group",
        [],
      ],
      [newGroup(now, "ana", { startsAt: "9999-12-31T23:59:59Z" }), 422, "invalid_group", []],
    ];
    for (const [body, status, code, fields] of cases) {
      const res = await send("ana", "POST", "/v1/groups", body);
      if (code === "invalid_request") expectInvalid(res, fields);
      else expectProblem(res, status, code);
    }
    const malformed = await bed.app.request("/v1/groups", {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${await (await import("../support/app.js")).tokenFor("ana")}`,
      },
      body: "{",
    });
    expect(malformed.status).toBe(400);
    expect(await groupCount()).toBe(before);
  });

  it("starts from now to a year ahead: 366 days is the latest, and the problem says so", async () => {
    const now = bed.clock.now();
    const latest = new Date(now + 366 * DAY_MS).toISOString();
    const created = await send("fay", "POST", "/v1/groups", newGroup(now, "fay", { startsAt: latest }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect(created.body.startsAt).toBe(latest);
    const before = await groupCount();
    const far = await send(
      "ana",
      "POST",
      "/v1/groups",
      newGroup(now, "ana", { startsAt: "9999-12-31T23:59:59Z" }),
    );
    expectProblem(far, 422, "invalid_group");
    expect(far.body.detail).toMatch(/more than 366 days ahead/);
    expect(await groupCount()).toBe(before);
  });

  it("a group's time zone: chosen at creation (canonical name), shown in the view; an unknown one is 422 invalid_time_zone, nothing stored", async () => {
    const now = bed.clock.now();
    const sydney = await send(
      "ana",
      "POST",
      "/v1/groups",
      newGroup(now, "ana", { timeZone: "australia/sydney" }),
    );
    expect(sydney.status).toBe(201);
    expect(sydney.body.timeZone).toBe("Australia/Sydney");
    expect((await send("ana", "GET", `/v1/groups/${sydney.body.id}`)).body.timeZone).toBe("Australia/Sydney");
    // None given: the platform's default (this app's deps set none: UTC).
    expect((await send("ana", "POST", "/v1/groups", newGroup(now, "ana"))).body.timeZone).toBe("UTC");
    const before = await groupCount();
    for (const timeZone of ["Mars/Olympus_Mons", "+10:00"])
      expectProblem(
        await send("ana", "POST", "/v1/groups", newGroup(now, "ana", { timeZone })),
        422,
        "invalid_time_zone",
      );
    expectInvalid(await send("ana", "POST", "/v1/groups", newGroup(now, "ana", { timeZone: 10 })), [
      "timeZone",
    ]);
    expect(await groupCount()).toBe(before);
    const patched = await send("ana", "PATCH", `/v1/groups/${sydney.body.id}`, {
      timeZone: "Pacific/Auckland",
    });
    expect(patched.body.timeZone).toBe("Pacific/Auckland");
    expectProblem(
      await send("ana", "PATCH", `/v1/groups/${sydney.body.id}`, { timeZone: "Nowhere/Land" }),
      422,
      "invalid_time_zone",
    );
  });

  it("refuses a currency no supported debit method collects: 422 currency_not_supported, nothing stored", async () => {
    const before = await groupCount();
    const people = await bed.db.prisma.person.count();
    const res = await send(
      "usd",
      "POST",
      "/v1/groups",
      newGroup(bed.clock.now(), "usd", { currency: "USD" }),
    );
    expectProblem(res, 422, "currency_not_supported");
    expect(res.body.detail).toContain("AUD");
    expect(await groupCount()).toBe(before);
    expect(await bed.db.prisma.person.count()).toBe(people);
  });

  it("unknown groups and routes are 404 problems; anonymous callers 401", async () => {
    expectProblem(await send("ana", "GET", "/v1/groups/grp_missing"), 404, "group_not_found");
    expectProblem(await send("ana", "GET", "/v1/nowhere"), 404, "route_not_found");
    expectProblem(await send(undefined, "GET", "/v1/groups"), 401, "unauthenticated");
    expectProblem(
      await send(undefined, "POST", "/v1/groups", newGroup(bed.clock.now(), "x")),
      401,
      "unauthenticated",
    );
  });

  it("lists the caller's groups oldest first, a page at a time", async () => {
    const ids = [];
    // A millisecond apart, so that oldest first is creation order whatever the ids sort as.
    for (let i = 0; i < 3; i++) {
      bed.clock.advance(1);
      ids.push(await bed.group("pager"));
    }
    const first = await send("pager", "GET", "/v1/groups?limit=2");
    expect(first.body).toMatchObject({ object: "list", url: "/v1/groups", has_more: true });
    expect(first.body.data.map((g: { id: string }) => g.id)).toEqual(ids.slice(0, 2));
    const second = await send("pager", "GET", `/v1/groups?limit=2&starting_after=${ids[1]}`);
    expect(second.body).toMatchObject({ has_more: false });
    expect(second.body.data.map((g: { id: string }) => g.id)).toEqual([ids[2]]);
    expectInvalid(await send("pager", "GET", "/v1/groups?limit=0"), ["limit"]);
    expectInvalid(await send("pager", "GET", "/v1/groups?limit=101"), ["limit"]);
    expect((await send("nobody", "GET", "/v1/groups")).body.data).toEqual([]);
  });

  it("a page of groups reads its members' people in one read; each view as the group's own read gives it", async () => {
    const ids = [await bed.group("tam", ["uma"]), await bed.group("vic", ["tam", "wyn"])];
    await bed.onboarded("uma");
    const reads: string[] = [];
    const people = new Proxy(bed.deps.people, {
      get(t, key) {
        const value = Reflect.get(t, key);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          reads.push(String(key));
          return value.apply(t, args);
        };
      },
    });
    const app = testApp({ useCases: { ...bed.deps, people }, gateway: bed.gateway, prisma: bed.db.prisma });
    const res = await app.request("/v1/groups", authed(await tokenFor("tam")));
    expect(res.status).toBe(200);
    const listed = ((await res.json()) as { data: { id: string }[] }).data;
    expect(listed.map((g) => g.id)).toEqual(ids);
    expect(reads).toEqual(["getPeople"]);
    for (const view of listed) expect(view).toEqual((await send("tam", "GET", `/v1/groups/${view.id}`)).body);
  });
});

describe("PATCH /v1/groups/{groupId}: settings before the start", () => {
  it("the group's admin and platform admins change settings; members 403, strangers 404, anonymous 401", async () => {
    const id = await bed.group("pat", ["pia"]);
    const path = `/v1/groups/${id}`;
    const version = await bed.version(id);
    expectProblem(await send(undefined, "PATCH", path, { name: "x" }), 401, "unauthenticated");
    expectProblem(await send("stranger", "PATCH", path, { name: "x" }), 404, "group_not_found");
    expectProblem(await send("pia", "PATCH", path, { name: "x" }), 403, "not_group_admin");
    expect(await bed.version(id)).toBe(version);

    const startsAt = new Date(bed.clock.now() + 3 * DAY_MS).toISOString();
    const changed = await send("pat", "PATCH", path, {
      name: "Saturday savers",
      contributionMinor: 150_00,
      cadence: "fortnightly",
      startsAt,
      rotationsPlanned: 2,
      payoutOrderMethod: "reverse_join_order",
    });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({
      name: "Saturday savers",
      contribution: { amountMinor: 150_00, currency: "AUD", text: "150.00 AUD" },
      cadence: "fortnightly",
      startsAt,
      rotationsPlanned: 2,
      payoutOrder: { method: "reverse_join_order", memberIds: ["pia", "pat"] },
    });
    const byOps = await send("ops", "PATCH", path, { name: "Ops renamed" }, ops);
    expect(byOps.status).toBe(200);
    expect(byOps.body.name).toBe("Ops renamed");
    const audit = await bed.db.prisma.auditLogEntry.findMany({
      where: { aggregateId: id, action: "update_group_settings" },
      orderBy: { id: "asc" },
    });
    expect(audit.map((a) => a.actor)).toEqual(["pat", "operator:ops"]);
  });

  it("refuses bad settings (400 naming fields, 422 by the domain's rules) and stores nothing", async () => {
    const id = await bed.group("val");
    const path = `/v1/groups/${id}`;
    const version = await bed.version(id);
    expectInvalid(await send("val", "PATCH", path, {}), [""]);
    expectInvalid(await send("val", "PATCH", path, { colour: "red" }), [""]);
    expectInvalid(await send("val", "PATCH", path, { name: "" }), ["name"]);
    expectInvalid(await send("val", "PATCH", path, { contributionMinor: -1, cadence: "daily" }), [
      "contributionMinor",
      "cadence",
    ]);
    expectInvalid(await send("val", "PATCH", path, { startsAt: "tomorrow", rotationsPlanned: 13 }), [
      "startsAt",
      "rotationsPlanned",
    ]);
    expectInvalid(await send("val", "PATCH", "/v1/groups/bad%20id", { name: "x" }), ["groupId"]);
    expectProblem(await send("val", "PATCH", path, { contributionMinor: 10 }), 422, "amount_below_minimum");
    expectProblem(
      await send("val", "PATCH", path, { startsAt: "2020-01-01T00:00:00Z" }),
      422,
      "invalid_group",
    );
    expectProblem(
      await send("val", "PATCH", path, { startsAt: "9999-12-31T23:59:59Z" }),
      422,
      "invalid_group",
    );
    expectProblem(await send("val", "PATCH", path, { currency: "USD" }), 422, "currency_not_supported");
    expect(await bed.version(id)).toBe(version);
  });

  it("only while forming: 409 group_not_forming once the group started", async () => {
    const id = await bed.group("fo", ["fi"]);
    for (const p of ["fo", "fi"]) await bed.onboarded(p);
    expect((await send("fo", "POST", `/v1/groups/${id}/activate`)).status).toBe(200);
    const version = await bed.version(id);
    expectProblem(await send("fo", "PATCH", `/v1/groups/${id}`, { name: "Late" }), 409, "group_not_forming");
    expect(await bed.version(id)).toBe(version);
  });
});

describe("pause, resume and close", () => {
  async function activeGroup(admin: string, member: string) {
    const id = await bed.group(admin, [member]);
    for (const p of [admin, member]) await bed.onboarded(p);
    expect((await send(admin, "POST", `/v1/groups/${id}/activate`)).status).toBe(200);
    return id;
  }

  it("an admin pauses with a reason (who and why recorded) and resumes; members 403, strangers 404", async () => {
    const id = await activeGroup("pa", "pm");
    const version = await bed.version(id);
    expectProblem(
      await send(undefined, "POST", `/v1/groups/${id}/pause`, { reason: "x" }),
      401,
      "unauthenticated",
    );
    expectProblem(
      await send("stranger", "POST", `/v1/groups/${id}/pause`, { reason: "x" }),
      404,
      "group_not_found",
    );
    expectProblem(
      await send("pm", "POST", `/v1/groups/${id}/pause`, { reason: "x" }),
      403,
      "not_group_admin",
    );
    expectInvalid(await send("pa", "POST", `/v1/groups/${id}/pause`, {}), ["reason"]);
    expectInvalid(await send("pa", "POST", `/v1/groups/${id}/pause`, { reason: " " }), ["reason"]);
    expect(await bed.version(id)).toBe(version);

    const paused = await send("pa", "POST", `/v1/groups/${id}/pause`, { reason: "holiday" });
    expect(paused.status).toBe(200);
    expect(paused.body).toMatchObject({
      status: "paused",
      pausedReason: "holiday",
      adminPause: { by: "pa", reason: "holiday", at: new Date(bed.clock.now()).toISOString() },
    });
    expectProblem(
      await send("pa", "POST", `/v1/groups/${id}/pause`, { reason: "again" }),
      409,
      "group_not_active",
    );
    expectProblem(await send("pm", "POST", `/v1/groups/${id}/resume`), 403, "not_group_admin");
    expectProblem(await send("stranger", "POST", `/v1/groups/${id}/resume`), 404, "group_not_found");
    const resumed = await send("pa", "POST", `/v1/groups/${id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: "active", adminPause: null, pausedReason: null });
    expectProblem(await send("pa", "POST", `/v1/groups/${id}/resume`), 409, "group_not_paused");
  });

  it("platform admins pause and resume any group; the audit names them", async () => {
    const id = await activeGroup("oa", "om");
    expect(
      (await send("ops", "POST", `/v1/groups/${id}/pause`, { reason: "fraud check" }, ops)).body,
    ).toMatchObject({
      adminPause: { by: "operator:ops", reason: "fraud check" },
    });
    expect((await send("ops", "POST", `/v1/groups/${id}/resume`, undefined, ops)).status).toBe(200);
    const actors = await bed.db.prisma.auditLogEntry.findMany({
      where: { aggregateId: id, action: { in: ["pause_group", "resume_group"] } },
      orderBy: { id: "asc" },
    });
    expect(actors.map((a) => a.actor)).toEqual(["operator:ops", "operator:ops"]);
  });

  it("refuses to pause a group that has not started: 409 group_not_active, nothing stored", async () => {
    const id = await bed.group("nf");
    const version = await bed.version(id);
    expectProblem(
      await send("nf", "POST", `/v1/groups/${id}/pause`, { reason: "x" }),
      409,
      "group_not_active",
    );
    expect(await bed.version(id)).toBe(version);
  });

  it("replays a pause with the same Idempotency-Key: one change, the first answer again", async () => {
    const id = await activeGroup("ia", "im");
    const headers = { "idempotency-key": "pause-1" };
    const first = await send("ia", "POST", `/v1/groups/${id}/pause`, { reason: "once" }, { headers });
    const version = await bed.version(id);
    const again = await send("ia", "POST", `/v1/groups/${id}/pause`, { reason: "once" }, { headers });
    expect(again.status).toBe(200);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await bed.version(id)).toBe(version);
    const reused = await send("ia", "POST", `/v1/groups/${id}/pause`, { reason: "other" }, { headers });
    expectProblem(reused, 422, "idempotency_key_reused");
  });

  it("closes between rounds: closed for good, nobody joins; 409 round_in_progress while a round runs", async () => {
    const id = await activeGroup("ca", "cm");
    bed.clock.advance(2 * DAY_MS);
    (await useCases.startRound(bed.deps, id, { memberId: "ca" }))._unsafeUnwrap();
    const version = await bed.version(id);
    expectProblem(
      await send("ca", "POST", `/v1/groups/${id}/close`, { reason: "done" }),
      409,
      "round_in_progress",
    );
    expectProblem(await send("cm", "POST", `/v1/groups/${id}/close`), 403, "not_group_admin");
    expectProblem(await send("stranger", "POST", `/v1/groups/${id}/close`), 404, "group_not_found");
    expect(await bed.version(id)).toBe(version);

    const forming = await bed.group("cf", ["cg"]);
    expectInvalid(await send("cf", "POST", `/v1/groups/${forming}/close`, { reason: "" }), ["reason"]);
    const closed = await send("cf", "POST", `/v1/groups/${forming}/close`);
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({
      status: "closed",
      closure: { by: "cf", reason: "closed by an admin" },
    });
    expectProblem(await send("cf", "POST", `/v1/groups/${forming}/close`), 409, "group_not_active");
    expectProblem(
      await send("late", "POST", `/v1/groups/${forming}/members`, { displayName: "Late" }),
      409,
      "group_not_active",
    );
    expectProblem(await send("cf", "POST", `/v1/groups/${forming}/resume`), 409, "group_not_paused");
    const byOps = await bed.group("co");
    expect(
      (await send("ops", "POST", `/v1/groups/${byOps}/close`, { reason: "abuse" }, ops)).body,
    ).toMatchObject({
      status: "closed",
      closure: { by: "operator:ops", reason: "abuse" },
    });
  });
});

describe("5xx answers on a group's read", () => {
  const NUL = "\u0000";
  /** An app whose store's getGroup is replaced by `getGroup`. */
  function appWithGetGroup(getGroup: (store: PrismaStore) => unknown) {
    const store = new PrismaStore(bed.db.prisma);
    const groups = new Proxy(store, {
      get(target, prop) {
        if (prop === "getGroup") return () => getGroup(target);
        // The group's read takes it with its people; the replacement answers for the group.
        if (prop === "getGroupWithPeople")
          return () =>
            (getGroup(target) as ResultAsync<Group | undefined, StorageError>).map((group) =>
              group === undefined ? undefined : { group, people: [] },
            );
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    return testApp({ useCases: { ...bed.deps, groups }, gateway: bed.gateway, prisma: bed.db.prisma });
  }

  async function expectGeneric(res: Response, code: string, hidden: RegExp) {
    expect(res.status).toBe(500);
    expect(res.headers.get("x-request-id")).toMatch(/./);
    const text = await res.text();
    expect(text).not.toMatch(hidden);
    const body = JSON.parse(text) as { code: string; requestId?: string; detail: string };
    expect(body.code).toBe(code);
    return body;
  }

  const logged = (spy: { mock: { calls: unknown[][] } }) =>
    spy.mock.calls.map((call) => String(call[0])).join("\n");

  it("a database refusal is a generic problem with a request id; its SQLSTATE is only logged", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    // A look-up that reaches PostgreSQL with a NUL by another way than the edge: a real 22021.
    const leaky = appWithGetGroup((store) => store.getGroup(`grp${NUL}x`));
    const token = await tokenFor("ana", ["admin"]);
    const body = await expectGeneric(
      await leaky.request("/v1/groups/grp_any", authed(token)),
      "storage_refused",
      /SQLSTATE|22021|getGroup|database/,
    );
    // The client quotes the request id; the log line with the cause carries it.
    expect(body.detail).toContain(body.requestId);
    expect(logged(errors)).toContain(body.requestId);
    expect(logged(errors)).toContain("SQLSTATE 22021");
    errors.mockRestore();
  });

  // The edge's onError (http/edge.ts) answers a thrown error; the cause goes to the request
  // log (silent in tests), and the client has the request id in the X-Request-Id header.
  it("an exception says nothing of its cause either", async () => {
    const secret = "password authentication failed for user susu at 10.0.0.5 (SQLSTATE 28P01)";
    const broken = appWithGetGroup(() => {
      throw new Error(secret);
    });
    const token = await tokenFor("ana", ["admin"]);
    await expectGeneric(
      await broken.request("/v1/groups/grp_any", authed(token)),
      "internal_error",
      /SQLSTATE|28P01|password|10\.0\.0\.5/,
    );
  });
});
