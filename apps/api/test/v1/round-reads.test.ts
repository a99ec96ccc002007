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

/** A port whose calls are counted by method name; `hide` names methods it does not offer. */
function counted<T extends object>(port: T, calls: Map<string, number>, hide: readonly string[] = []): T {
  return new Proxy(port, {
    get(target, name, receiver) {
      if (typeof name === "string" && hide.includes(name)) return undefined;
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function" || typeof name !== "string") return value;
      return (...args: unknown[]) => {
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  });
}

function appCounting(hide: readonly string[] = []) {
  const calls = new Map<string, number>();
  const deps: UseCaseDeps = {
    ...w.deps,
    rounds: counted(w.deps.rounds, calls, hide),
    groups: counted(w.deps.groups, calls, hide),
  };
  const app = testApp({ useCases: deps, gateway: w.gateway, prisma: db.prisma });
  return { app, calls };
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
});
