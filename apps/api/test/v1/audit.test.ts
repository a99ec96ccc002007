// A group's audit trail on v1 through app.request(), on a real PostgreSQL database: who
// may read it, what it holds (the group's lines and its rounds'), and its pages.
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, tokenFor } from "../support/app.js";
import { roundWorld } from "./round-driver.js";

const db = useTestDatabase();
let w: ReturnType<typeof roundWorld>;

beforeAll(() => {
  w = roundWorld(db);
});

interface AuditLine {
  readonly id: string;
  readonly aggregate: string;
  readonly aggregateId: string;
  readonly action: string;
  readonly outcome: string;
  readonly ignoredCode: string | null;
  readonly actor: string;
}
interface Page {
  readonly object: string;
  readonly url: string;
  readonly data: AuditLine[];
  readonly has_more: boolean;
}

const get = async (path: string, as: string, roles: ("member" | "admin")[] = ["member"]) =>
  w.app.request(path, authed(await tokenFor(as, roles)));

describe("a group's audit trail", () => {
  it("holds the group's lines and its rounds', oldest first, for the group's admins and platform admins", async () => {
    const groupId = await w.readyGroup("ada", ["abe"]);
    const opened = await w.app.request(`/v1/groups/${groupId}/rounds`, authed(await tokenFor("ada"), "POST"));
    const round = (await opened.json()) as { id: string };
    await w.advance(4 * DAY_MS);
    // Another group's lines stay out of this one's trail.
    await w.readyGroup("ola", ["oz"], { due: false });

    const res = await get(`/v1/groups/${groupId}/audit?limit=100`, "ada");
    expect(res.status).toBe(200);
    const trail = (await res.json()) as Page;
    expect(trail).toMatchObject({ object: "list", url: `/v1/groups/${groupId}/audit`, has_more: false });
    expect(trail.data.slice(0, 3).map((l) => [l.aggregate, l.aggregateId, l.action, l.actor])).toEqual([
      ["group", groupId, "create_group", "ada"],
      ["group", groupId, "join_group", "abe"],
      ["group", groupId, "activate_group", "ada"],
    ]);
    expect(trail.data[3]).toMatchObject({
      aggregate: "round",
      aggregateId: round.id,
      action: "open",
      actor: "ada",
    });
    expect(trail.data.map((l) => l.aggregateId).every((id) => id === groupId || id === round.id)).toBe(true);
    expect(trail.data.filter((l) => l.action === "transfer_created")).toHaveLength(2);
    const ids = trail.data.map((l) => Number(l.id.replace("audit_", "")));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));

    const ops = await get(`/v1/groups/${groupId}/audit?limit=100`, "ops_audit", ["admin"]);
    expect(ops.status).toBe(200);
    expect(((await ops.json()) as Page).data).toEqual(trail.data);

    // Pages follow each other with no line twice and none left out.
    const seen: AuditLine[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 50; page++) {
      const next = (await (
        await get(`/v1/groups/${groupId}/audit?limit=3${cursor ? `&starting_after=${cursor}` : ""}`, "ada")
      ).json()) as Page;
      seen.push(...next.data);
      cursor = next.data.at(-1)?.id;
      if (!next.has_more) break;
    }
    expect(seen).toEqual(trail.data);
  });

  it("members may not read it (403), strangers do not see the group (404), a token is needed (401)", async () => {
    const groupId = await w.readyGroup("mae", ["mo"], { due: false });
    const member = await get(`/v1/groups/${groupId}/audit`, "mo");
    expect(member.status).toBe(403);
    expect(await member.json()).toMatchObject({ code: "not_group_admin" });
    const stranger = await get(`/v1/groups/${groupId}/audit`, "eve");
    expect(stranger.status).toBe(404);
    expect(await stranger.json()).toMatchObject({ code: "group_not_found" });
    const missing = await get("/v1/groups/grp_missing/audit", "eve");
    expect(missing.status).toBe(404);
    expect((await w.app.request(`/v1/groups/${groupId}/audit`)).status).toBe(401);
  });

  it("refuses a bad page query (400) and reads nothing after an unknown cursor", async () => {
    const groupId = await w.readyGroup("pam", ["pip"], { due: false });
    for (const query of ["limit=0", "limit=101", "limit=x", "starting_after="]) {
      const res = await get(`/v1/groups/${groupId}/audit?${query}`, "pam");
      expect(res.status, query).toBe(400);
      expect(await res.json()).toMatchObject({ code: "invalid_request" });
    }
    for (const cursor of ["nope", "audit_0", "audit_9999999999999999999", "audit_99999999999999999999"]) {
      const res = await get(`/v1/groups/${groupId}/audit?starting_after=${cursor}`, "pam");
      expect(res.status, cursor).toBe(200);
      expect(await res.json()).toMatchObject({ data: [], has_more: false });
    }
  });
});
