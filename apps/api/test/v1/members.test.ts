// Members on v1: join (the group's id is the invitation), leave and removal, the list with
// each member's readiness, the payout order, swaps and activation — validation, who may,
// idempotent POSTs, pagination, and nothing stored on refusal; the list's answers when the
// group and its people cannot be read together.
import { DAY_MS } from "@susu/domain";
import { loggingReads } from "@susu/domain/testing";
import { describe, expect, it, vi } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { type Body, expectInvalid, expectProblem, groupsTestbed } from "./groups-support.js";

const bed = groupsTestbed();
const { send } = bed;
const ops = { roles: ["admin" as const] };

/** The app on the test's store, its reads of groups and people logged as they start and end. */
function loggedApp() {
  const log: string[] = [];
  const deps = {
    ...bed.deps,
    groups: loggingReads(bed.deps.groups, log),
    people: loggingReads(bed.deps.people, log),
  };
  return { log, app: testApp({ useCases: deps, gateway: bed.gateway, prisma: bed.db.prisma }) };
}

describe("joining", () => {
  it("the caller joins as themselves: 201 with a Location, readiness and what they lack", async () => {
    const id = await bed.group("ana");
    const res = await send("ben", "POST", `/v1/groups/${id}/members`, { displayName: " Ben " });
    expect(res.status).toBe(201);
    expect(res.headers.get("location")).toBe(`/v1/groups/${id}/members/ben`);
    expect(res.body).toEqual({
      id: "ben",
      displayName: "Ben",
      role: "member",
      status: "active",
      joinedAt: new Date(bed.clock.now()).toISOString(),
      readiness: { mandateActive: false, payoutsEnabled: false },
      lacks: ["mandate", "payout_account"],
    });
    expectProblem(
      await send("ben", "POST", `/v1/groups/${id}/members`, { displayName: "Ben" }),
      409,
      "member_exists",
    );
    expect((await send("ben", "GET", `/v1/groups/${id}`)).status).toBe(200);
  });

  it("refuses bad input (400 naming the field), anonymous callers and unknown groups; nothing stored", async () => {
    const id = await bed.group("cal");
    const version = await bed.version(id);
    const path = `/v1/groups/${id}/members`;
    expectInvalid(await send("dee", "POST", path, {}), ["displayName"]);
    expectInvalid(await send("dee", "POST", path, { displayName: "  " }), ["displayName"]);
    expectInvalid(await send("dee", "POST", path, { displayName: "x".repeat(101) }), ["displayName"]);
    expectInvalid(await send("dee", "POST", path, { displayName: "D\u0000ee" }), ["displayName"]);
    expectInvalid(await send("dee", "POST", `/v1/groups/${id}%00/members`, { displayName: "Dee" }), [
      "path.groupId",
    ]);
    expectProblem(await send(undefined, "POST", path, { displayName: "Dee" }), 401, "unauthenticated");
    expectProblem(
      await send("dee", "POST", "/v1/groups/grp_missing/members", { displayName: "D" }),
      404,
      "group_not_found",
    );
    expect(await bed.version(id)).toBe(version);
    expect(await bed.db.prisma.person.findUnique({ where: { id: "dee" } })).toBeNull();
  });

  it("replays a join with the same Idempotency-Key instead of answering member_exists", async () => {
    const id = await bed.group("eli");
    const headers = { "idempotency-key": "join-1" };
    const first = await send("fay", "POST", `/v1/groups/${id}/members`, { displayName: "Fay" }, { headers });
    const again = await send("fay", "POST", `/v1/groups/${id}/members`, { displayName: "Fay" }, { headers });
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("people joining at the same moment all get in (a lost race is retried)", async () => {
    const id = await bed.group("host");
    const guests = ["g1", "g2", "g3", "g4", "g5"];
    const answers = await Promise.all(
      guests.map((g) => send(g, "POST", `/v1/groups/${id}/members`, { displayName: g })),
    );
    expect(answers.map((a) => a.status)).toEqual(guests.map(() => 201));
    const listed = await send("host", "GET", `/v1/groups/${id}/members?limit=10`);
    expect(listed.body.data.map((m: { id: string }) => m.id).sort()).toEqual(["host", ...guests].sort());
  });

  it("reads the group with its people beside the joining person, and answers from them: no read of the people after the commit", async () => {
    const id = await bed.group("gus", ["hal"]);
    await bed.group("ivy");
    await bed.onboarded("ivy");
    const { log, app } = loggedApp();
    const res = await app.request(
      `/v1/groups/${id}/members`,
      authed(await tokenFor("ivy"), "POST", { displayName: "Ivy" }),
    );
    expect(res.status).toBe(201);
    // Ivy is a person already (onboarded for another group): her readiness comes along.
    expect(await res.json()).toMatchObject({
      id: "ivy",
      readiness: { mandateActive: true, payoutsEnabled: true },
      lacks: [],
    });
    expect(log).toEqual([
      "getGroupWithPeople starts",
      "getPerson starts",
      expect.stringMatching(/ends$/),
      expect.stringMatching(/ends$/),
    ]);
    // The answer is the member as listed afterwards.
    const listed = await send("ivy", "GET", `/v1/groups/${id}/members/ivy`);
    expect(listed.body).toMatchObject({
      readiness: { mandateActive: true, payoutsEnabled: true },
      lacks: [],
    });
  });

  it("mid-rotation a newcomer is pending, from the next rotation on", async () => {
    const id = await bed.group("gus", ["hal"]);
    for (const p of ["gus", "hal"]) await bed.onboarded(p);
    expect((await send("gus", "POST", `/v1/groups/${id}/activate`)).status).toBe(200);
    const late = await send("ivy", "POST", `/v1/groups/${id}/members`, { displayName: "Ivy" });
    expect(late.body).toMatchObject({ status: "pending", lacks: [] });
  });
});

describe("listing members", () => {
  it("pages through members in join order with their readiness; strangers 404, platform admins see", async () => {
    const id = await bed.group("jo", ["kim", "lu", "max"]);
    await bed.onboarded("kim");
    await bed.onboarded("lu", { payouts: false });
    const first = await send("max", "GET", `/v1/groups/${id}/members?limit=2`);
    expect(first.body).toMatchObject({ object: "list", url: `/v1/groups/${id}/members`, has_more: true });
    expect(first.body.data.map((m: { id: string }) => m.id)).toEqual(["jo", "kim"]);
    const rest = await send("max", "GET", `/v1/groups/${id}/members?limit=2&starting_after=kim`);
    expect(rest.body.has_more).toBe(false);
    expect(
      rest.body.data.map((m: { id: string; readiness: unknown; lacks: string[] }) => [
        m.id,
        m.readiness,
        m.lacks,
      ]),
    ).toEqual([
      ["lu", { mandateActive: true, payoutsEnabled: false }, ["payout_account"]],
      ["max", { mandateActive: false, payoutsEnabled: false }, ["mandate", "payout_account"]],
    ]);
    expect((await send("kim", "GET", `/v1/groups/${id}/members/kim`)).body).toMatchObject({
      readiness: { mandateActive: true, payoutsEnabled: true },
      lacks: [],
    });
    expectProblem(await send("kim", "GET", `/v1/groups/${id}/members/nobody`), 404, "member_not_found");
    expectProblem(await send("stranger", "GET", `/v1/groups/${id}/members`), 404, "group_not_found");
    expectProblem(await send("stranger", "GET", `/v1/groups/${id}/members/kim`), 404, "group_not_found");
    expectProblem(await send(undefined, "GET", `/v1/groups/${id}/members`), 401, "unauthenticated");
    expectInvalid(await send("kim", "GET", `/v1/groups/${id}/members?limit=abc`), ["limit"]);
    expect(
      (await send("ops", "GET", `/v1/groups/${id}/members?limit=100`, undefined, ops)).body.data,
    ).toHaveLength(4);
  });

  it("reads the group and its members' people in one read, answered only to whom may see the group", async () => {
    const id = await bed.group("pia", ["quin"]);
    await bed.onboarded("quin");
    const { log, app } = loggedApp();
    const get = async (who: string, path: string) => {
      log.length = 0;
      const res = await app.request(path, authed(await tokenFor(who)));
      return { status: res.status, body: (await res.json()) as Body, reads: [...log] };
    };
    const oneRead = ["getGroupWithPeople starts", "getGroupWithPeople ends"];
    const list = await get("pia", `/v1/groups/${id}/members`);
    expect(list.status).toBe(200);
    expect(list.body.data.map((m: { id: string; lacks: string[] }) => [m.id, m.lacks])).toEqual([
      ["pia", ["mandate", "payout_account"]],
      ["quin", []],
    ]);
    expect(list.reads).toEqual(oneRead);
    const one = await get("pia", `/v1/groups/${id}/members/quin`);
    expect(one.body).toMatchObject({ id: "quin", readiness: { mandateActive: true, payoutsEnabled: true } });
    expect(one.reads).toEqual(oneRead);
    // A stranger and a missing group: the same answer, nothing of the members in it.
    for (const path of [`/v1/groups/${id}/members`, `/v1/groups/${id}/members/quin`]) {
      const hidden = await get("rex", path);
      const missing = await get("rex", path.replace(id, "grp_missing"));
      expect([hidden.status, hidden.body.code]).toEqual([404, "group_not_found"]);
      expect([missing.status, missing.body.code]).toEqual([404, "group_not_found"]);
      expect(hidden.body.detail.replace(id, "X")).toBe(missing.body.detail.replace("grp_missing", "X"));
      expect(JSON.stringify(hidden.body)).not.toContain("quin");
      expect(hidden.reads).toEqual(oneRead);
    }
  });

  it("a member's readiness is the person's: the same in every group they are in", async () => {
    const first = await bed.group("ned");
    const second = await bed.group("ola", ["ned"]);
    await bed.onboarded("ned", { payouts: false });
    for (const [groupId, who] of [
      [first, "ned"],
      [second, "ola"],
    ] as const) {
      const view = await send(who, "GET", `/v1/groups/${groupId}`);
      expect(view.body.members.find((m: { id: string }) => m.id === "ned")?.readiness).toEqual({
        mandateActive: true,
        payoutsEnabled: false,
      });
    }
  });
});

/**
 * Every table's rows, each table as one digest (one query): equal before and after a request
 * that must write nothing, not even an update that keeps the row counts.
 */
async function databaseRows(): Promise<Record<string, string>> {
  const tables = await bed.db.prisma.$queryRaw<{ name: string }[]>`
    SELECT tablename AS name FROM pg_tables
    WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY tablename`;
  const columns = tables
    .map(
      ({ name }) =>
        `(SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM "${name}" t) AS "${name}"`,
    )
    .join(", ");
  const rows = await bed.db.prisma.$queryRawUnsafe<Record<string, string>[]>(`SELECT ${columns}`);
  return { ...(rows[0] ?? {}) };
}

describe("listing members when the group and its people cannot be read together", () => {
  /**
   * A group whose member `broken`'s person row no longer loads (created before 1970: no
   * person can be; PostgreSQL takes it, the store's check refuses it), so the one-statement
   * read of the group with its people fails while the group alone still loads. Also a
   * member who left (`gone`), who no longer sees the group.
   */
  async function groupWithBrokenPerson(admin: string, broken: string, gone: string) {
    const id = await bed.group(admin, [broken, gone]);
    expect((await send(gone, "DELETE", `/v1/groups/${id}/members/${gone}`)).status).toBe(200);
    await bed.db.prisma
      .$executeRaw`UPDATE people SET created_at = '1969-12-31T00:00:00Z' WHERE id = ${broken}`;
    return id;
  }

  /** GET `path` as `who` on the app whose group and people reads are logged. */
  async function getLogged(who: string, path: string, roles?: { roles: ("admin" | "member")[] }) {
    const { log, app } = loggedApp();
    const res = await app.request(path, authed(await tokenFor(who, roles?.roles)));
    return {
      status: res.status,
      type: res.headers.get("content-type"),
      body: (await res.json()) as Body,
      reads: [...log],
    };
  }

  it("a caller who may not see the group gets exactly the 404 of a group that does not exist; nothing written", async () => {
    const id = await groupWithBrokenPerson("vera", "walt", "xena");
    const before = await databaseRows();
    for (const path of [`/v1/groups/${id}/members`, `/v1/groups/${id}/members/walt`]) {
      const missing = await getLogged("yuri", path.replace(id, "grp_missing"));
      expect([missing.status, missing.body.code]).toEqual([404, "group_not_found"]);
      // A stranger, and a member who left: the group alone, read again, refuses them.
      for (const who of ["yuri", "xena"]) {
        const hidden = await getLogged(who, path);
        expect(hidden.status, `${who} ${path}: ${JSON.stringify(hidden.body)}`).toBe(missing.status);
        expect(hidden.type).toBe("application/problem+json");
        expect(hidden.type).toBe(missing.type);
        // The same document, the group's id where the missing one's is.
        expect(hidden.body).toEqual({
          ...missing.body,
          detail: missing.body.detail.replace("grp_missing", id),
        });
        // The people did not load; the group alone did.
        expect(hidden.reads, `${who} ${path}`).toEqual([
          "getGroupWithPeople starts",
          "getGroup starts",
          "getGroup ends",
        ]);
      }
    }
    expect(await databaseRows()).toEqual(before);
  });

  it("a caller who may see the group gets a 500 storage_refused with a request id and nothing of the cause; nothing written", async () => {
    const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
    try {
      const id = await groupWithBrokenPerson("zara", "abe", "bea");
      const before = await databaseRows();
      for (const path of [`/v1/groups/${id}/members`, `/v1/groups/${id}/members/abe`]) {
        // The group's admin, a member, and a platform admin who is not one.
        for (const [who, roles] of [["zara"], ["abe"], ["ops", ops]] as const) {
          const seen = await getLogged(who, path, roles);
          expect(seen.reads, `${who} ${path}`).toEqual([
            "getGroupWithPeople starts",
            "getGroup starts",
            "getGroup ends",
          ]);
          expect(seen.status, `${who} ${path}: ${JSON.stringify(seen.body)}`).toBe(500);
          expect(seen.type).toBe("application/problem+json");
          expect(seen.body).toEqual({
            type: "https://susu.dev/problems/storage_refused",
            title: "storage refused",
            status: 500,
            code: "storage_refused",
            detail: `something went wrong on our side (request id ${seen.body.requestId})`,
            requestId: expect.any(String),
          });
          // The cause is logged under the request id, never answered.
          expect(errors.mock.calls.map((call) => JSON.parse(String(call[0])))).toContainEqual(
            expect.objectContaining({
              requestId: seen.body.requestId,
              code: "storage_refused",
              cause: expect.stringContaining("person abe"),
            }),
          );
        }
      }
      expect(await databaseRows()).toEqual(before);
    } finally {
      errors.mockRestore();
    }
  });
});

describe("leaving and removal", () => {
  it("a member leaves for themselves; afterwards they no longer see the group", async () => {
    const id = await bed.group("pat", ["quin"]);
    const left = await send("quin", "DELETE", `/v1/groups/${id}/members/quin`);
    expect(left.status).toBe(200);
    expect(left.body).toMatchObject({ id: "quin", status: "left" });
    expectProblem(await send("quin", "GET", `/v1/groups/${id}`), 404, "group_not_found");
    expectProblem(await send("quin", "DELETE", `/v1/groups/${id}/members/quin`), 404, "group_not_found");
  });

  it("removing someone else: members 403, strangers 404, admins only while forming and never an admin", async () => {
    const id = await bed.group("rae", ["sam", "tia", "uma"]);
    const version = await bed.version(id);
    expectProblem(await send("sam", "DELETE", `/v1/groups/${id}/members/tia`), 403, "not_group_admin");
    expectProblem(await send("stranger", "DELETE", `/v1/groups/${id}/members/tia`), 404, "group_not_found");
    expectProblem(await send(undefined, "DELETE", `/v1/groups/${id}/members/tia`), 401, "unauthenticated");
    expectProblem(
      await send("ops", "DELETE", `/v1/groups/${id}/members/rae`, undefined, ops),
      403,
      "member_removal_not_allowed",
    );
    expectProblem(await send("rae", "DELETE", `/v1/groups/${id}/members/nobody`), 404, "member_not_found");
    expectInvalid(await send("rae", "DELETE", `/v1/groups/${id}/members/ti%00a`), ["path.memberId"]);
    expect(await bed.version(id)).toBe(version);
    expect((await send("rae", "DELETE", `/v1/groups/${id}/members/tia`)).body).toMatchObject({
      status: "left",
    });
    expect((await send("ops", "DELETE", `/v1/groups/${id}/members/uma`, undefined, ops)).body).toMatchObject({
      status: "left",
    });
    const audit = await bed.db.prisma.auditLogEntry.findMany({
      where: { aggregateId: id, action: "remove_member" },
      orderBy: { id: "asc" },
    });
    expect(audit.map((a) => a.actor)).toEqual(["rae", "operator:ops"]);
    for (const p of ["rae", "sam"]) await bed.onboarded(p);
    expect((await send("rae", "POST", `/v1/groups/${id}/activate`)).status).toBe(200);
    const started = await bed.version(id);
    expectProblem(
      await send("rae", "DELETE", `/v1/groups/${id}/members/sam`),
      403,
      "member_removal_not_allowed",
    );
    expect(await bed.version(id)).toBe(started);
  });

  it("a member who has paid into the rotation and not had the pot cannot leave: 409 member_awaiting_payout, nothing changed", async () => {
    const id = await bed.group("vic", ["wes", "xan"]);
    for (const p of ["vic", "wes", "xan"]) await bed.onboarded(p);
    expect((await send("vic", "POST", `/v1/groups/${id}/activate`)).status).toBe(200);
    bed.clock.advance(DAY_MS);
    const opened = await send("vic", "POST", `/v1/groups/${id}/rounds`);
    expect(opened.status, JSON.stringify(opened.body)).toBe(201);
    const version = await bed.version(id);
    const audited = await bed.db.prisma.auditLogEntry.count({ where: { aggregateId: id } });
    const refused = await send("xan", "DELETE", `/v1/groups/${id}/members/xan`);
    expectProblem(refused, 409, "member_awaiting_payout");
    expect(refused.body.detail).toMatch(/paid into this rotation/);
    // Nor may an admin remove them once money moves.
    expectProblem(
      await send("vic", "DELETE", `/v1/groups/${id}/members/xan`),
      403,
      "member_removal_not_allowed",
    );
    expect(await bed.version(id)).toBe(version);
    expect(await bed.db.prisma.auditLogEntry.count({ where: { aggregateId: id } })).toBe(audited);
    expect((await send("xan", "GET", `/v1/groups/${id}/members/xan`)).body).toMatchObject({
      status: "active",
    });
  });
});

describe("members whose person id is an identity provider's subject", () => {
  it("a member whose subject has '|' (auth0|ben) can be read, leave, and be ordered", async () => {
    const id = await bed.group("auth0|ana");
    const joined = await send("auth0|ben", "POST", `/v1/groups/${id}/members`, { displayName: "Ben" });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    expect(joined.body.id).toBe("auth0|ben");
    const location = joined.headers.get("location");
    const read = await send("auth0|ana", "GET", location ?? "");
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body.id).toBe("auth0|ben");
    expect(location).toBe(`/v1/groups/${id}/members/auth0%7Cben`);
    const ordered = await send("auth0|ana", "PUT", `/v1/groups/${id}/payout-order`, {
      memberIds: ["auth0|ben", "auth0|ana"],
    });
    expect(ordered.status, JSON.stringify(ordered.body)).toBe(200);
    expect(ordered.body.payoutOrder).toEqual({ method: "fixed", memberIds: ["auth0|ben", "auth0|ana"] });
    const left = await send(
      "auth0|ben",
      "DELETE",
      `/v1/groups/${id}/members/${encodeURIComponent("auth0|ben")}`,
    );
    expect(left.status, JSON.stringify(left.body)).toBe(200);
    expect(left.body).toMatchObject({ id: "auth0|ben", status: "left" });
  });

  it("e-mail, Google and Cognito subjects propose and accept swaps and are paged by; the list's cursor takes them", async () => {
    const [mail, google, cognito] = [
      "cy+susu@example.com",
      "google-oauth2|1234567890",
      "us-east-1:8f0c1d2e-3b4a",
    ];
    const id = await bed.group(mail, [google, cognito]);
    const proposed = await send(google, "POST", `/v1/groups/${id}/swaps`, { counterparty: cognito });
    expect(proposed.status, JSON.stringify(proposed.body)).toBe(201);
    const accepted = await send(cognito, "POST", `/v1/groups/${id}/swaps/accept`, { proposedBy: google });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    expect(accepted.body.payoutOrder).toEqual({ method: "fixed", memberIds: [mail, cognito, google] });
    const page = await send(
      mail,
      "GET",
      `/v1/groups/${id}/members?limit=1&starting_after=${encodeURIComponent(mail)}`,
    );
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    expect(page.body.data.map((m: Body) => m.id)).toEqual([google]);
    expect((await send(mail, "GET", `/v1/groups/${id}/members/${encodeURIComponent(cognito)}`)).status).toBe(
      200,
    );
  });

  it("the longest subject (255 characters) is a member id too; a space, a control character or 256 characters are not", async () => {
    const long = `auth0|${"x".repeat(249)}`;
    const id = await bed.group("ida");
    const joined = await send(long, "POST", `/v1/groups/${id}/members`, { displayName: "Long" });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    const read = await send("ida", "GET", `/v1/groups/${id}/members/${encodeURIComponent(long)}`);
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expectInvalid(await send("ida", "GET", `/v1/groups/${id}/members/${long}x`), ["memberId"]);
    expectInvalid(await send("ida", "GET", `/v1/groups/${id}/members/a%20b`), ["memberId"]);
    expectInvalid(await send("ida", "GET", `/v1/groups/${id}/members/a%7Fb`), ["memberId"]);
    expectInvalid(await send("ida", "PUT", `/v1/groups/${id}/payout-order`, { memberIds: ["ida", "a\tb"] }), [
      "memberIds",
    ]);
  });
});

describe("`me`, the caller's name in /v1/people paths, is no person's id", () => {
  it("is refused as a member id in paths and bodies (400 invalid_request naming the field); /v1/people/me is the caller", async () => {
    const id = await bed.group("jay", ["kim"]);
    const version = await bed.version(id);
    expectInvalid(await send("jay", "GET", `/v1/groups/${id}/members/me`), ["memberId"]);
    expectInvalid(await send("jay", "PUT", `/v1/groups/${id}/payout-order`, { memberIds: ["kim", "me"] }), [
      "memberIds",
    ]);
    expectInvalid(await send("kim", "POST", `/v1/groups/${id}/swaps`, { counterparty: "me" }), [
      "counterparty",
    ]);
    expectInvalid(await send("kim", "POST", `/v1/groups/${id}/swaps/accept`, { proposedBy: "me" }), [
      "proposedBy",
    ]);
    expectInvalid(await send("jay", "GET", `/v1/subscriptions?person_id=me`, undefined, ops), ["person_id"]);
    expect(await bed.version(id)).toBe(version);
    // Case matters: `Me` is a person like any other.
    const joined = await send("Me", "POST", `/v1/groups/${id}/members`, { displayName: "Me" });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);
    expect((await send("jay", "GET", `/v1/groups/${id}/members/Me`)).body.id).toBe("Me");
    // The alias still names the caller.
    const self = await send("kim", "GET", "/v1/people/me");
    expect(self.status, JSON.stringify(self.body)).toBe(200);
    expect(self.body.id).toBe("kim");
  });
});

describe("payout order", () => {
  it("admins set a fixed order, a seeded draw or a method; the rules refuse what they refuse", async () => {
    const id = await bed.group("ana2", ["ben2", "cy2"]);
    const path = `/v1/groups/${id}/payout-order`;
    const version = await bed.version(id);
    expectProblem(
      await send("ben2", "PUT", path, { memberIds: ["cy2", "ana2", "ben2"] }),
      403,
      "not_group_admin",
    );
    expectProblem(await send("stranger", "PUT", path, { method: "join_order" }), 404, "group_not_found");
    expectProblem(await send(undefined, "PUT", path, { method: "join_order" }), 401, "unauthenticated");
    expectInvalid(await send("ana2", "PUT", path, {}), [""]);
    expectInvalid(await send("ana2", "PUT", path, { memberIds: ["cy2"], seed: "12345678" }), [""]);
    expectInvalid(await send("ana2", "PUT", path, { seed: "short" }), [""]);
    expectInvalid(await send("ana2", "PUT", path, { seed: "seed\u0000seed" }), ["seed"]);
    expectInvalid(await send("ana2", "PUT", path, { method: "random" }), [""]);
    const bad = await send("ana2", "PUT", path, { memberIds: ["cy2", "ana2"] });
    expectProblem(bad, 422, "invalid_payout_order");
    expect(await bed.version(id)).toBe(version);

    const fixed = await send("ana2", "PUT", path, { memberIds: ["cy2", "ana2", "ben2"] });
    expect(fixed.status).toBe(200);
    expect(fixed.body.payoutOrder).toEqual({ method: "fixed", memberIds: ["cy2", "ana2", "ben2"] });
    const drawn = await send("ana2", "PUT", path, { seed: "published-seed-1" });
    expect(drawn.body.payoutOrder).toMatchObject({ method: "seeded_draw", seed: "published-seed-1" });
    expect([...drawn.body.payoutOrder.memberIds].sort()).toEqual(["ana2", "ben2", "cy2"]);
    const derived = await send("ops", "PUT", path, { method: "reverse_join_order" }, ops);
    expect(derived.body.payoutOrder).toEqual({
      method: "reverse_join_order",
      memberIds: ["cy2", "ben2", "ana2"],
    });
  });
});

describe("swaps", () => {
  it("a member proposes, the counterparty accepts: positions are exchanged", async () => {
    const id = await bed.group("dan", ["eve", "fin"]);
    const proposed = await send("eve", "POST", `/v1/groups/${id}/swaps`, { counterparty: "fin" });
    expect(proposed.status).toBe(201);
    expect(proposed.body.pendingSwaps).toEqual([
      { proposedBy: "eve", counterparty: "fin", proposedAt: new Date(bed.clock.now()).toISOString() },
    ]);
    expectProblem(
      await send("dan", "POST", `/v1/groups/${id}/swaps/accept`, { proposedBy: "eve" }),
      404,
      "swap_not_found",
    );
    const accepted = await send("fin", "POST", `/v1/groups/${id}/swaps/accept`, { proposedBy: "eve" });
    expect(accepted.status).toBe(200);
    expect(accepted.body.payoutOrder).toEqual({ method: "fixed", memberIds: ["dan", "fin", "eve"] });
    expect(accepted.body.pendingSwaps).toEqual([]);
  });

  it("refuses bad input, strangers (404), operators who are not members (403), and swaps the rules refuse", async () => {
    const id = await bed.group("gil", ["hue"]);
    const version = await bed.version(id);
    expectInvalid(await send("hue", "POST", `/v1/groups/${id}/swaps`, {}), ["counterparty"]);
    expectInvalid(await send("hue", "POST", `/v1/groups/${id}/swaps/accept`, { proposedBy: "a b" }), [
      "proposedBy",
    ]);
    expectProblem(
      await send("stranger", "POST", `/v1/groups/${id}/swaps`, { counterparty: "gil" }),
      404,
      "group_not_found",
    );
    expectProblem(
      await send(undefined, "POST", `/v1/groups/${id}/swaps`, { counterparty: "gil" }),
      401,
      "unauthenticated",
    );
    expectProblem(
      await send("ops", "POST", `/v1/groups/${id}/swaps`, { counterparty: "gil" }, ops),
      403,
      "not_a_member",
    );
    expectProblem(
      await send("hue", "POST", `/v1/groups/${id}/swaps`, { counterparty: "hue" }),
      409,
      "swap_not_allowed",
    );
    expectProblem(
      await send("hue", "POST", `/v1/groups/${id}/swaps`, { counterparty: "nobody" }),
      404,
      "member_not_found",
    );
    expect(await bed.version(id)).toBe(version);
  });
});

describe("activation", () => {
  it("names the members who are not ready: 409 members_not_ready, the group still forming, nothing audited", async () => {
    const id = await bed.group("gia", ["hal2", "ivy2"]);
    await bed.onboarded("gia");
    await bed.onboarded("ivy2", { payouts: false });
    const res = await send("gia", "POST", `/v1/groups/${id}/activate`);
    expectProblem(res, 409, "members_not_ready");
    expect(res.body.notReady).toEqual([
      { memberId: "hal2", lacks: ["mandate", "payout_account"] },
      { memberId: "ivy2", lacks: ["payout_account"] },
    ]);
    expect((await send("gia", "GET", `/v1/groups/${id}`)).body.status).toBe("forming");
    expect(
      await bed.db.prisma.auditLogEntry.count({ where: { aggregateId: id, action: "activate_group" } }),
    ).toBe(0);
  });

  it("only admins activate: members 403, strangers 404, anonymous 401; then admins or platform admins", async () => {
    const id = await bed.group("jay", ["kai"]);
    for (const p of ["jay", "kai"]) await bed.onboarded(p);
    expectProblem(await send("kai", "POST", `/v1/groups/${id}/activate`), 403, "not_group_admin");
    expectProblem(await send("stranger", "POST", `/v1/groups/${id}/activate`), 404, "group_not_found");
    expectProblem(await send(undefined, "POST", `/v1/groups/${id}/activate`), 401, "unauthenticated");
    expect(await bed.version(id)).toBe(1);
    const activated = await send("ops", "POST", `/v1/groups/${id}/activate`, undefined, ops);
    expect(activated.status).toBe(200);
    expect(activated.body.status).toBe("active");
    expectProblem(await send("jay", "POST", `/v1/groups/${id}/activate`), 409, "group_not_forming");
    const alone = await bed.group("lee");
    await bed.onboarded("lee");
    expectProblem(await send("lee", "POST", `/v1/groups/${alone}/activate`), 409, "too_few_members");
  });
});

describe("NUL characters in headers", () => {
  it("400 invalid_request naming the header, nothing changed", async () => {
    const id = await bed.group("nul", ["nel"]);
    for (const p of ["nul", "nel"]) await bed.onboarded(p);
    // fetch's Headers, like Node's HTTP parser, refuses a NUL in a header; the app must
    // refuse it as well whatever carried it, so the request is given headers that do not.
    const request = new Request(`http://localhost/v1/groups/${id}/activate`, { method: "POST" });
    const headers = new Map([
      ["authorization", `Bearer ${await tokenFor("nul")}`],
      ["x-client-note", "hi\u0000there"],
    ]);
    Object.defineProperty(request, "headers", {
      value: {
        get: (name: string) => headers.get(name.toLowerCase()) ?? null,
        has: (name: string) => headers.has(name.toLowerCase()),
        forEach: (fn: (value: string, name: string) => void) => {
          for (const [name, value] of headers) fn(value, name);
        },
      },
    });
    const res = await bed.app.fetch(request);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { code: string; errors: { path: string }[] };
    expect(body.code).toBe("invalid_request");
    expect(body.errors.map((e) => e.path)).toContain("header.x-client-note");
    expect((await send("nul", "GET", `/v1/groups/${id}`)).body.status).toBe("forming");
  });
});
