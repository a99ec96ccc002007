// How GET /v1/rounds/{id} reads: the round and its group in one statement when the store
// offers it (one wait for a pool connection instead of two in a row), else the round, then
// its group; either way the same answers (found, hidden, missing), on real PostgreSQL.
import { useTestDatabase } from "@susu/adapters/testing";
import type { UseCaseDeps } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, testApp, tokenFor } from "../support/app.js";
import { roundWorld } from "./round-driver.js";

const db = useTestDatabase();
let w: ReturnType<typeof roundWorld>;

beforeAll(() => {
  w = roundWorld(db);
});

/** What a counting port saw: calls by method name, reads not yet answered, and what was in flight when each began. */
interface Seen {
  readonly calls: Map<string, number>;
  readonly inFlight: Set<string>;
  /** Per method: the methods whose reads were still unanswered when it was called (its last call). */
  readonly overlapped: Map<string, readonly string[]>;
}

/** A port whose calls are counted by method name; `hide` names methods it does not offer. */
function counted<T extends object>(port: T, seen: Seen, hide: readonly string[] = []): T {
  return new Proxy(port, {
    get(target, name, receiver) {
      if (typeof name === "string" && hide.includes(name)) return undefined;
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return (...args: unknown[]) => {
        seen.calls.set(name, (seen.calls.get(name) ?? 0) + 1);
        seen.overlapped.set(name, [...seen.inFlight]);
        const result = value.apply(target, args);
        if (result !== null && typeof result === "object" && "then" in result) {
          seen.inFlight.add(name);
          void (result as PromiseLike<unknown>).then(() => seen.inFlight.delete(name));
        }
        return result;
      };
    },
  });
}

function appCounting(hide: readonly string[] = []) {
  const seen: Seen = { calls: new Map(), inFlight: new Set(), overlapped: new Map() };
  const deps: UseCaseDeps = {
    ...w.deps,
    rounds: counted(w.deps.rounds, seen, hide),
    groups: counted(w.deps.groups, seen, hide),
    audit: counted(w.deps.audit, seen, hide),
  };
  const app = testApp({ useCases: deps, gateway: w.gateway, prisma: db.prisma });
  return { app, calls: seen.calls, seen };
}

interface Problem {
  readonly code: string;
  readonly detail: string;
}

async function readAs(app: ReturnType<typeof testApp>, path: string, as: string) {
  const res = await app.request(path, authed(await tokenFor(as)));
  return { status: res.status, type: res.headers.get("content-type"), body: (await res.json()) as unknown };
}

describe("reading a round", () => {
  it("reads the round and its group in one statement: found, hidden and missing alike", async () => {
    const groupId = await w.readyGroup("ora", ["oli"]);
    const opened = await w.app.request(`/v1/groups/${groupId}/rounds`, authed(await tokenFor("ora"), "POST"));
    expect(opened.status).toBe(201);
    const { id } = (await opened.json()) as { id: string };
    const { app, calls } = appCounting();

    const found = await readAs(app, `/v1/rounds/${id}`, "oli");
    expect(found.status).toBe(200);
    expect(found.body).toMatchObject({ id, groupId });
    const hidden = await readAs(app, `/v1/rounds/${id}`, "eve");
    const missing = await readAs(app, "/v1/rounds/round_nowhere", "eve");
    for (const r of [hidden, missing]) {
      expect(r.status).toBe(404);
      expect(r.type).toBe("application/problem+json");
      expect((r.body as Problem).code).toBe("round_not_found");
    }
    expect((hidden.body as Problem).detail.replace(id, "X")).toBe(
      (missing.body as Problem).detail.replace("round_nowhere", "X"),
    );
    expect(calls.get("getRoundWithGroup")).toBe(3);
    expect(calls.get("getRound")).toBeUndefined();
    expect(calls.get("getGroup")).toBeUndefined();
  });

  it("a store without the single read: the round, then its group, and the same answers", async () => {
    const groupId = await w.readyGroup("uma", ["ugo"]);
    const opened = await w.app.request(`/v1/groups/${groupId}/rounds`, authed(await tokenFor("uma"), "POST"));
    expect(opened.status).toBe(201);
    const { id } = (await opened.json()) as { id: string };
    const together = appCounting();
    const apart = appCounting(["getRoundWithGroup"]);

    for (const [path, as] of [
      [`/v1/rounds/${id}`, "ugo"],
      [`/v1/rounds/${id}`, "eve"],
      ["/v1/rounds/round_nowhere", "eve"],
    ] as const) {
      const a = await readAs(apart.app, path, as);
      expect(a).toEqual(await readAs(together.app, path, as));
    }
    expect(apart.calls.get("getRoundWithGroup")).toBeUndefined();
    // The two rounds that exist have their group read; the missing one stops at the round.
    expect(apart.calls.get("getRound")).toBe(3);
    expect(apart.calls.get("getGroup")).toBe(2);
  });

  it("reads the timeline while the round and its group are still being read; answers it only to whom may see", async () => {
    const groupId = await w.readyGroup("ivy", ["ian"]);
    const opened = await w.app.request(`/v1/groups/${groupId}/rounds`, authed(await tokenFor("ivy"), "POST"));
    const { id } = (await opened.json()) as { id: string };
    const { app, seen } = appCounting();
    const found = await readAs(app, `/v1/rounds/${id}`, "ian");
    expect(found.status).toBe(200);
    expect((found.body as { timeline: { data: { action: string }[] } }).timeline.data[0]?.action).toBe(
      "open",
    );
    expect(seen.overlapped.get("listAudit")).toContain("getRoundWithGroup");
    const hidden = await readAs(app, `/v1/rounds/${id}`, "eve");
    expect(hidden.status).toBe(404);
    expect(JSON.stringify(hidden.body)).not.toContain("timeline");
    expect((hidden.body as Problem).code).toBe("round_not_found");
  });
});

describe("listing a group's rounds", () => {
  it("reads the rounds while the group is still being read; a stranger gets the answer of no group, nothing else", async () => {
    const groupId = await w.readyGroup("kai", ["kim"]);
    const opened = await w.app.request(`/v1/groups/${groupId}/rounds`, authed(await tokenFor("kai"), "POST"));
    const { id } = (await opened.json()) as { id: string };
    const { app, seen } = appCounting();
    const listed = await readAs(app, `/v1/groups/${groupId}/rounds`, "kim");
    expect(listed.status).toBe(200);
    expect((listed.body as { data: { id: string }[] }).data.map((r) => r.id)).toEqual([id]);
    expect(seen.overlapped.get("listRoundsOfGroup")).toContain("getGroup");
    const hidden = await readAs(app, `/v1/groups/${groupId}/rounds`, "eve");
    const missing = await readAs(app, "/v1/groups/grp_nowhere/rounds", "eve");
    for (const r of [hidden, missing]) {
      expect(r.status).toBe(404);
      expect(r.type).toBe("application/problem+json");
      expect((r.body as Problem).code).toBe("group_not_found");
      expect(JSON.stringify(r.body)).not.toContain(id);
    }
    expect((hidden.body as Problem).detail.replace(groupId, "X")).toBe(
      (missing.body as Problem).detail.replace("grp_nowhere", "X"),
    );
  });
});
