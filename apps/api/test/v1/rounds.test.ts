// Rounds on v1 through app.request(), on a real PostgreSQL database: starting the due
// round, reading rounds with their attempts, transfers, refunds and timeline, and the admin
// actions (retry a debit, extend the deadline, reassign a blocked payout, cancel, retry a
// failed refund).
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, gatewayError, roundPaymentRefs, useCases } from "@susu/domain";
import { beforeAll, describe, expect, it } from "vitest";
import { authed, tokenFor } from "../support/app.js";
import { roundWorld } from "./round-driver.js";

const db = useTestDatabase();
let w: ReturnType<typeof roundWorld>;

beforeAll(() => {
  w = roundWorld(db);
});

interface Problem {
  readonly code: string;
  readonly status: number;
  readonly detail: string;
  readonly notReady?: unknown;
  readonly errors?: { path: string }[];
}
interface Line {
  readonly id: string;
  readonly action: string;
  readonly outcome: string;
  readonly ignoredCode: string | null;
  readonly detail: string | null;
  readonly actor: string;
  readonly at: string;
}
interface RoundBody {
  readonly id: string;
  readonly groupId: string;
  readonly status: string;
  readonly recipientMemberId: string;
  readonly collectionDeadlineAt: string;
  readonly contribution: { amountMinor: number; currency: string };
  readonly contributions: {
    memberId: string;
    status: string;
    attempts: {
      number: number;
      status: string;
      requestedAt: string;
      failureCode: string | null;
      failureClass: string | null;
    }[];
  }[];
  readonly payouts: {
    sourceMemberId: string;
    status: string;
    attempt: number;
    amount: unknown;
    failureCode: string | null;
  }[];
  readonly refunds: { memberId: string; status: string; amount: unknown }[];
  /** Null in lists; the tests read it from single rounds. */
  readonly timeline: { data: Line[]; has_more: boolean; url: string };
}
interface List<T> {
  readonly object: string;
  readonly data: T[];
  readonly has_more: boolean;
}

const body = async <T>(res: Response): Promise<T> => (await res.json()) as T;

async function expectProblem(res: Response, status: number, code: string): Promise<Problem> {
  expect(res.status, `${code}: ${res.status}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  const p = await body<Problem>(res);
  expect(p.code).toBe(code);
  return p;
}

const post = async (path: string, as: string, payload?: unknown, headers: Record<string, string> = {}) =>
  w.app.request(path, authed(await tokenFor(as), "POST", payload, headers));
const postAsOperator = async (path: string, payload?: unknown) =>
  w.app.request(path, authed(await tokenFor("ops_rounds", ["admin"]), "POST", payload));
const get = async (path: string, as: string) => w.app.request(path, authed(await tokenFor(as)));

async function open(groupId: string, admin: string): Promise<RoundBody> {
  const res = await post(`/v1/groups/${groupId}/rounds`, admin);
  expect(res.status).toBe(201);
  return body<RoundBody>(res);
}

const roundCount = (groupId: string) => db.prisma.round.count({ where: { groupId } });

describe("starting a round", () => {
  it("only the group's admins open it: 401 without a token, 404 for a stranger, 403 for a member; nothing stored", async () => {
    const groupId = await w.readyGroup("jo", ["kim"]);
    const anonymous = await w.app.request(`/v1/groups/${groupId}/rounds`, { method: "POST" });
    await expectProblem(anonymous, 401, "unauthenticated");
    await expectProblem(await post(`/v1/groups/${groupId}/rounds`, "stranger"), 404, "group_not_found");
    await expectProblem(await post(`/v1/groups/${groupId}/rounds`, "kim"), 403, "not_group_admin");
    await expectProblem(await post("/v1/groups/grp_missing/rounds", "jo"), 404, "group_not_found");
    expect(await roundCount(groupId)).toBe(0);

    const round = await open(groupId, "jo");
    const audit = await db.prisma.auditLogEntry.findFirstOrThrow({
      where: { aggregateId: round.id, action: "open" },
    });
    expect(audit.actor).toBe("jo");
  });

  it("opens the due round: 201 with a Location, one debit per member, readable; a second is round_in_progress", async () => {
    const groupId = await w.readyGroup("dee", ["eli"]);
    const res = await post(`/v1/groups/${groupId}/rounds`, "dee");
    expect(res.status).toBe(201);
    const round = await body<RoundBody>(res);
    expect(res.headers.get("location")).toBe(`/v1/rounds/${round.id}`);
    expect(round).toMatchObject({
      groupId,
      status: "collecting",
      recipientMemberId: "dee",
      contribution: { amountMinor: 100_00, currency: "AUD" },
      pot: { amountMinor: 200_00, currency: "AUD" },
      openedAt: new Date(w.clock.now()).toISOString(),
    });
    expect(round.contributions.map((c) => [c.memberId, c.status, c.attempts.map((a) => a.status)])).toEqual([
      ["dee", "awaiting_debit", ["requested"]],
      ["eli", "awaiting_debit", ["requested"]],
    ]);
    expect(round.timeline.data.map((l) => [l.action, l.outcome, l.actor])).toEqual([
      ["open", "applied", "dee"],
    ]);
    expect(await body(await get(`/v1/rounds/${round.id}`, "eli"))).toEqual(round);
    await expectProblem(await post(`/v1/groups/${groupId}/rounds`, "dee"), 409, "round_in_progress");
    const outbox = await db.prisma.outboxEffect.count({ where: { aggregateId: round.id } });
    expect(outbox).toBeGreaterThanOrEqual(3); // two debits and the deadline timer
  });

  it("is not due before the group starts: 409 no_round_due, and the rounds list is empty", async () => {
    const groupId = await w.readyGroup("ann", ["abe"], { due: false });
    await expectProblem(await post(`/v1/groups/${groupId}/rounds`, "ann"), 409, "no_round_due");
    const listed = await body<List<RoundBody>>(await get(`/v1/groups/${groupId}/rounds`, "abe"));
    expect(listed).toMatchObject({ object: "list", data: [], has_more: false });
    expect(await roundCount(groupId)).toBe(0);
  });

  it("does not open while someone in the rotation is not ready: 409 members_not_ready naming who lacks what", async () => {
    const groupId = await w.readyGroup("lu", ["max"]);
    (await useCases.updatePersonReadiness(w.deps, "max", { mandateActive: false }, "stripe"))._unsafeUnwrap();
    const p = await expectProblem(await post(`/v1/groups/${groupId}/rounds`, "lu"), 409, "members_not_ready");
    expect(p.notReady).toEqual([{ memberId: "max", lacks: ["mandate"] }]);
    expect(await roundCount(groupId)).toBe(0);
  });

  it("a platform admin may open it, audited as operator:<id>", async () => {
    const groupId = await w.readyGroup("pia", ["pat"]);
    const res = await postAsOperator(`/v1/groups/${groupId}/rounds`);
    expect(res.status).toBe(201);
    const round = await body<RoundBody>(res);
    expect(round.timeline.data[0]).toMatchObject({ action: "open", actor: "operator:ops_rounds" });
  });

  it("replays a retried POST with the same Idempotency-Key instead of refusing it", async () => {
    const groupId = await w.readyGroup("ida", ["ivo"]);
    const headers = { "idempotency-key": "open-1" };
    const first = await post(`/v1/groups/${groupId}/rounds`, "ida", undefined, headers);
    const again = await post(`/v1/groups/${groupId}/rounds`, "ida", undefined, headers);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(await again.json()).toEqual(await first.json());
    expect(await roundCount(groupId)).toBe(1);
  });
});

describe("reading rounds", () => {
  it("members and platform operators read a round; anyone else gets the answer of a round that does not exist", async () => {
    const groupId = await w.readyGroup("rae", ["rob"]);
    const round = await open(groupId, "rae");
    expect((await get(`/v1/rounds/${round.id}`, "rob")).status).toBe(200);
    const ops = await tokenFor("ops_reader", ["admin"]);
    expect((await w.app.request(`/v1/rounds/${round.id}`, authed(ops))).status).toBe(200);
    const hidden = await expectProblem(await get(`/v1/rounds/${round.id}`, "eve"), 404, "round_not_found");
    const missing = await expectProblem(await get("/v1/rounds/round_missing", "eve"), 404, "round_not_found");
    expect(hidden.detail.replace(round.id, "X")).toBe(missing.detail.replace("round_missing", "X"));
    await expectProblem(await get(`/v1/groups/${groupId}/rounds`, "eve"), 404, "group_not_found");
    await expectProblem(await get(`/v1/rounds/${round.id}/timeline`, "eve"), 404, "round_not_found");
    await expectProblem(await w.app.request(`/v1/rounds/${round.id}`), 401, "unauthenticated");
    await expectProblem(await get("/v1/rounds/bad%20id", "rae"), 400, "invalid_request");
  });

  it("lists a group's rounds oldest first, a page at a time", async () => {
    const groupId = await w.readyGroup("lia", ["leo"]);
    const first = await open(groupId, "lia");
    await w.advance(5 * DAY_MS);
    w.clock.advance(7 * DAY_MS);
    const second = await open(groupId, "lia");
    expect(second.recipientMemberId).toBe("leo");
    const page1 = await body<List<RoundBody>>(await get(`/v1/groups/${groupId}/rounds?limit=1`, "leo"));
    expect(page1.data.map((r) => r.id)).toEqual([first.id]);
    expect(page1.has_more).toBe(true);
    const page2 = await body<List<RoundBody>>(
      await get(`/v1/groups/${groupId}/rounds?limit=1&starting_after=${first.id}`, "leo"),
    );
    expect(page2.data.map((r) => r.id)).toEqual([second.id]);
    expect(page2.has_more).toBe(false);
    const read = await body<RoundBody>(await get(`/v1/rounds/${second.id}`, "leo"));
    expect(page2.data[0]).toEqual({ ...read, timeline: null });
    await expectProblem(await get(`/v1/groups/${groupId}/rounds?limit=0`, "leo"), 400, "invalid_request");
    await expectProblem(await get(`/v1/groups/${groupId}/rounds?limit=101`, "leo"), 400, "invalid_request");
  });

  it("a whole round: attempts, transfers and a timeline of what happened, paged", async () => {
    const groupId = await w.readyGroup("wyn", ["wes", "wil"]);
    const opened = await open(groupId, "wyn");
    await w.advance(4 * DAY_MS);
    const round = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "wes"));
    expect(round.status).toBe("paid_out");
    for (const c of round.contributions) {
      expect(c.status).toBe("succeeded");
      expect(c.attempts).toEqual([
        {
          number: 1,
          status: "succeeded",
          requestedAt: opened.contributions[0]?.attempts[0]?.requestedAt,
          failureCode: null,
          failureClass: null,
        },
      ]);
    }
    expect(round.payouts.map((p) => [p.sourceMemberId, p.status, p.attempt, p.amount])).toEqual(
      ["wes", "wil", "wyn"].map((m) => [m, "created", 1, { amountMinor: 100_00, currency: "AUD" }]),
    );
    expect(round.refunds).toEqual([]);
    const actions = round.timeline.data.map((l) => l.action);
    expect(actions[0]).toBe("open");
    expect(actions.filter((a) => a === "debit_succeeded")).toHaveLength(3);
    expect(actions.filter((a) => a === "transfer_created")).toHaveLength(3);
    expect(round.timeline.has_more).toBe(false);
    expect(round.timeline.url).toBe(`/v1/rounds/${opened.id}/timeline`);
    for (const l of round.timeline.data) expect(l.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const page1 = await body<List<Line>>(await get(`/v1/rounds/${opened.id}/timeline?limit=2`, "wes"));
    expect(page1.data).toEqual(round.timeline.data.slice(0, 2));
    expect(page1.has_more).toBe(true);
    const page2 = await body<List<Line>>(
      await get(`/v1/rounds/${opened.id}/timeline?limit=100&starting_after=${page1.data[1]?.id}`, "wes"),
    );
    expect(page2.data).toEqual(round.timeline.data.slice(2));
    const nowhere = await body<List<Line>>(
      await get(`/v1/rounds/${opened.id}/timeline?starting_after=nope`, "wes"),
    );
    expect(nowhere.data).toEqual([]);
  });
});

describe("retrying a debit", () => {
  it("the member themselves or an admin retries a failed debit; others are refused; nothing changes on refusal", async () => {
    const groupId = await w.readyGroup("rita", ["ron", "ray"]);
    w.gateway.setDebitOutcomes("ron", [{ fail: "account_closed" }, "succeed"]);
    const opened = await open(groupId, "rita");
    await w.advance(3 * DAY_MS + 1);
    const failed = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "ron"));
    const ron = failed.contributions.find((c) => c.memberId === "ron");
    expect(ron?.status).toBe("failed");
    expect(ron?.attempts).toEqual([
      expect.objectContaining({
        number: 1,
        status: "failed",
        failureCode: "account_closed",
        failureClass: "permanent",
      }),
    ]);

    const path = `/v1/rounds/${opened.id}/contributions/ron/retry`;
    await expectProblem(await post(path, "ray"), 403, "not_group_admin");
    await expectProblem(await post(path, "stranger"), 404, "round_not_found");
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/contributions/ray/retry`, "rita"),
      409,
      "contribution_not_retryable",
    );
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/contributions/nobody/retry`, "rita"),
      404,
      "contribution_not_found",
    );
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/contributions/no%20body/retry`, "rita"),
      400,
      "invalid_request",
    );
    // Stripe deactivated the mandate the debit failed on for good: the bank would refuse again.
    (await useCases.updatePersonReadiness(w.deps, "ron", { mandateActive: false }, "stripe"))._unsafeUnwrap();
    const forGood = await post(path, "ron");
    await expectProblem(forGood, 409, "contribution_not_retryable");
    const unchanged = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "rita"));
    expect({ ...unchanged, timeline: null }).toEqual({ ...failed, timeline: null });
    // ron saves new bank details: an active mandate, and the retry is accepted.
    (await useCases.updatePersonReadiness(w.deps, "ron", { mandateActive: true }, "stripe"))._unsafeUnwrap();

    const headers = { "idempotency-key": "retry-ron-1" };
    const retried = await post(path, "ron", undefined, headers);
    expect(retried.status).toBe(200);
    const view = await body<RoundBody>(retried);
    expect(view.contributions.find((c) => c.memberId === "ron")?.attempts.map((a) => a.status)).toEqual([
      "failed",
      "requested",
    ]);
    expect(view.timeline.data.at(-1)).toMatchObject({
      action: "retry_contribution",
      outcome: "applied",
      actor: "ron",
    });
    const replay = await post(path, "ron", undefined, headers);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual(view);

    // A platform admin may retry too (here refused: ron's new debit is in flight).
    await expectProblem(await postAsOperator(path), 409, "contribution_not_retryable");
    await w.advance(4 * DAY_MS);
    expect((await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "ron"))).status).toBe("paid_out");
  });
});

describe("extending the deadline", () => {
  it("admins move it later; the old deadline timer is ignored, visible in the timeline; refusals change nothing", async () => {
    const groupId = await w.readyGroup("eda", ["eno"]);
    w.gateway.setDebitOutcomes("eno", [{ fail: "account_closed" }, "succeed"]);
    const opened = await open(groupId, "eda");
    const path = `/v1/rounds/${opened.id}/extend-deadline`;
    const current = Date.parse(opened.collectionDeadlineAt);
    const later = new Date(current + 5 * DAY_MS).toISOString();

    await expectProblem(await post(path, "eda", {}), 400, "invalid_request");
    await expectProblem(await post(path, "eda", { deadline: "tomorrow" }), 400, "invalid_request");
    await expectProblem(await post(path, "eno", { deadline: later }), 403, "not_group_admin");
    await expectProblem(await post(path, "zed", { deadline: later }), 404, "round_not_found");
    await expectProblem(
      await post(path, "eda", { deadline: opened.collectionDeadlineAt }),
      422,
      "invalid_deadline",
    );
    // Collected contributions must stay refundable: at most 60 days after the round opened.
    const tooLate = await expectProblem(
      await post(path, "eda", { deadline: "9999-12-31T00:00:00Z" }),
      409,
      "deadline_not_extendable",
    );
    expect(tooLate.detail).toMatch(/60 days after the round opened.*latest allowed is \d{4}-/);
    const unchanged = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "eda"));
    expect(unchanged.collectionDeadlineAt).toBe(opened.collectionDeadlineAt);
    expect(unchanged.timeline.data).toHaveLength(1);

    const headers = { "idempotency-key": "extend-1" };
    const extended = await post(path, "eda", { deadline: later }, headers);
    expect(extended.status).toBe(200);
    const extendedView = await body<RoundBody>(extended);
    expect(extendedView.collectionDeadlineAt).toBe(later);
    const replay = await post(path, "eda", { deadline: later }, headers);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual(extendedView);
    expect(
      await db.prisma.auditLogEntry.count({ where: { aggregateId: opened.id, action: "extend_deadline" } }),
    ).toBe(1);

    // Past the old deadline, eno's failed debit can still be retried; the old timer was ignored.
    await w.advance(current - w.clock.now() + DAY_MS);
    const mid = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "eda"));
    expect(mid.status).toBe("collecting");
    expect(mid.timeline.data).toContainEqual(
      expect.objectContaining({
        action: "timer:collection_deadline",
        outcome: "ignored",
        ignoredCode: "timer_no_longer_due",
        detail: "the deadline was extended after this timer was armed",
        actor: "timer",
      }),
    );
    expect((await post(`/v1/rounds/${opened.id}/contributions/eno/retry`, "eno")).status).toBe(200);
    await w.advance(4 * DAY_MS);
    const paid = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "eda"));
    expect(paid.status).toBe("paid_out");
    // The re-armed timer (tagged with the extension) was stored and read back, not parked as malformed.
    const timers = await db.prisma.outboxEffect.findMany({
      where: { aggregateId: opened.id, kind: "schedule_timer" },
    });
    const rearmed = timers.filter((t) => /:timer:collection_deadline:v\d+$/.test(t.id));
    expect(rearmed.map((t) => [t.status, (t.payload as { timer: unknown }).timer])).toEqual([
      ["done", { kind: "collection_deadline", extension: 1 }],
    ]);
    expect(await db.prisma.outboxEffect.count({ where: { aggregateId: opened.id, status: "parked" } })).toBe(
      0,
    );
    await expectProblem(
      await postAsOperator(path, { deadline: new Date(w.clock.now() + 30 * DAY_MS).toISOString() }),
      409,
      "deadline_not_extendable",
    );
  });
});

describe("cancelling a round", () => {
  it("admins cancel: every succeeded contribution is refunded, then the round is cancelled", async () => {
    const groupId = await w.readyGroup("cal", ["cat"]);
    w.gateway.setDebitOutcomes("cat", [{ fail: "account_closed" }]);
    const opened = await open(groupId, "cal");
    await w.advance(3 * DAY_MS + 1);
    const path = `/v1/rounds/${opened.id}/cancel`;
    await expectProblem(await post(path, "cal", { reason: "  " }), 400, "invalid_request");
    await expectProblem(await post(path, "cal", {}), 400, "invalid_request");
    await expectProblem(await post(path, "cat", { reason: "stop" }), 403, "not_group_admin");
    await expectProblem(await post(path, "nobody", { reason: "stop" }), 404, "round_not_found");
    expect((await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "cal"))).status).toBe("collecting");

    const headers = { "idempotency-key": "cancel-1" };
    const cancelled = await post(path, "cal", { reason: "the group agreed to stop" }, headers);
    expect(cancelled.status).toBe(200);
    const view = await body<RoundBody>(cancelled);
    expect(view).toMatchObject({ status: "refunding", cancellationReason: "the group agreed to stop" });
    expect(view.refunds).toEqual([
      { memberId: "cal", status: "requested", amount: { amountMinor: 100_00, currency: "AUD" } },
    ]);
    const replay = await post(path, "cal", { reason: "the group agreed to stop" }, headers);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    const reused = await post(path, "cal", { reason: "another reason" }, headers);
    expect(reused.status).toBe(422);

    await w.runUntilQuiet();
    const done = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "cat"));
    expect(done.status).toBe("cancelled");
    expect(done.refunds).toEqual([
      { memberId: "cal", status: "succeeded", amount: { amountMinor: 100_00, currency: "AUD" } },
    ]);
    expect(done.timeline.data).toContainEqual(
      expect.objectContaining({ action: "cancel", actor: "cal", outcome: "applied" }),
    );
    await expectProblem(await post(path, "cal", { reason: "again" }), 409, "round_not_cancellable");
  });
});

describe("closing a group mid-rotation", () => {
  it("409 rotation_in_progress while members who paid in are owed their pot, for admins and operators, nothing changed; closes once the rotation has paid everyone", async () => {
    const groupId = await w.readyGroup("cor", ["cob", "coc"]);
    await open(groupId, "cor");
    await w.advance(4 * DAY_MS);
    const view = async () =>
      (await get(`/v1/groups/${groupId}`, "cor")).json() as Promise<Record<string, unknown>>;
    const before = await view();
    expect(before).toMatchObject({ status: "active" });
    const version = async () => (await db.prisma.group.findUniqueOrThrow({ where: { id: groupId } })).version;
    const stored = await version();
    const audited = await db.prisma.auditLogEntry.count({ where: { aggregateId: groupId } });
    // Before this rule the close answered 200: cob and coc had paid 100.00 each and were never paid.
    const refused = await expectProblem(
      await post(`/v1/groups/${groupId}/close`, "cor", { reason: "we give up" }),
      409,
      "rotation_in_progress",
    );
    expect(refused.detail).toMatch(/cob, coc have paid into rotation 1 and not yet received their pot/);
    await expectProblem(
      await postAsOperator(`/v1/groups/${groupId}/close`, { reason: "abuse" }),
      409,
      "rotation_in_progress",
    );
    expect(await version()).toBe(stored);
    expect(await db.prisma.auditLogEntry.count({ where: { aggregateId: groupId } })).toBe(audited);
    expect(await view()).toEqual(before);
    // The rotation's last two rounds pay cob and coc: the group completes (one rotation planned).
    for (let i = 0; i < 2; i++) {
      w.clock.advance(7 * DAY_MS);
      await open(groupId, "cor");
      await w.advance(4 * DAY_MS);
    }
    expect(await view()).toMatchObject({ status: "completed" });
    await expectProblem(await post(`/v1/groups/${groupId}/close`, "cor"), 409, "group_not_active");
  });

  it("a round cancelled before any payout of the rotation refunded what it took: the group may close", async () => {
    const groupId = await w.readyGroup("cxa", ["cxb"]);
    const opened = await open(groupId, "cxa");
    await w.advance(DAY_MS);
    expect((await post(`/v1/rounds/${opened.id}/cancel`, "cxa", { reason: "stop" })).status).toBe(200);
    await w.advance(5 * DAY_MS);
    expect((await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "cxa"))).status).toBe("cancelled");
    const closed = await post(`/v1/groups/${groupId}/close`, "cxa", { reason: "refunded, done" });
    expect(closed.status).toBe(200);
    expect(await body<{ status: string }>(closed)).toMatchObject({ status: "closed" });
  });
});

describe("retrying a failed refund", () => {
  it("admins ask again for a refund Stripe refused: a new refund under a new key, the round ends cancelled; refusals change nothing", async () => {
    const groupId = await w.readyGroup("fay", ["fin"]);
    w.gateway.setDebitOutcomes("fin", [{ fail: "account_closed" }]);
    const opened = await open(groupId, "fay");
    await w.advance(3 * DAY_MS + 1);
    const path = `/v1/rounds/${opened.id}/contributions/fay/retry-refund`;
    // Nothing is being refunded yet.
    await expectProblem(await post(path, "fay"), 409, "no_failed_refund");

    // Stripe refuses fay's refund when the round is cancelled: the round stays refunding.
    w.gateway.injectFault(
      "refund",
      "before",
      gatewayError("gateway_definite", "charge_expired_for_refund", "too late to refund"),
    );
    expect((await post(`/v1/rounds/${opened.id}/cancel`, "fay", { reason: "stop" })).status).toBe(200);
    await w.runUntilQuiet();
    const stuck = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "fay"));
    expect(stuck.status).toBe("refunding");
    expect(stuck.refunds).toEqual([
      { memberId: "fay", status: "failed", amount: { amountMinor: 100_00, currency: "AUD" } },
    ]);
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/cancel`, "fay", { reason: "x" }),
      409,
      "round_not_cancellable",
    );

    await expectProblem(await post(path, "fin"), 403, "not_group_admin");
    await expectProblem(await post(path, "stranger"), 404, "round_not_found");
    await expectProblem(
      await post(`/v1/rounds/nope/contributions/fay/retry-refund`, "fay"),
      404,
      "round_not_found",
    );
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/contributions/nobody/retry-refund`, "fay"),
      404,
      "contribution_not_found",
    );
    await expectProblem(
      await post(`/v1/rounds/${opened.id}/contributions/fin/retry-refund`, "fay"),
      409,
      "no_failed_refund",
    );
    const unchanged = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "fay"));
    expect({ ...unchanged, timeline: null }).toEqual({ ...stuck, timeline: null });

    const headers = { "idempotency-key": "retry-refund-fay-1" };
    const retried = await post(path, "fay", undefined, headers);
    expect(retried.status).toBe(200);
    const view = await body<RoundBody>(retried);
    expect(view.status).toBe("refunding");
    expect(view.refunds).toEqual([
      { memberId: "fay", status: "requested", amount: { amountMinor: 100_00, currency: "AUD" } },
    ]);
    expect(view.timeline.data.at(-1)).toMatchObject({
      action: "retry_refund",
      outcome: "applied",
      actor: "fay",
    });
    const replay = await post(path, "fay", undefined, headers);
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(await replay.json()).toEqual(view);

    await w.runUntilQuiet();
    const done = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "fin"));
    expect(done.status).toBe("cancelled");
    expect(done.refunds).toEqual([
      { memberId: "fay", status: "succeeded", amount: { amountMinor: 100_00, currency: "AUD" } },
    ]);
    // One refund at Stripe, made by attempt 2 (its metadata says so).
    expect(
      [...w.gateway.refunds.values()]
        .filter((r) => r.references.roundId === opened.id)
        .map((r) => [r.references.memberId, r.references.attempt, r.status]),
    ).toEqual([["fay", 2, "succeeded"]]);
    // Attempt 1's failure, delivered late, changes nothing.
    (
      await useCases.applyPaymentFact(
        w.deps,
        { reader: w.gateway },
        { kind: "refund_failed", refs: roundPaymentRefs(groupId, opened.id, "fay"), failureCode: "x" },
        "stripe",
      )
    )._unsafeUnwrap();
    const after = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "fay"));
    expect({ ...after, timeline: null }).toEqual({ ...done, timeline: null });
    expect(after.timeline.data.at(-1)).toMatchObject({
      action: "refund_failed",
      outcome: "ignored",
      ignoredCode: "refund_attempt_superseded",
    });
    // Nothing left to retry; a platform admin is refused the same way.
    await expectProblem(await postAsOperator(path), 409, "no_failed_refund");
    // The stored row's state column says so too.
    expect((await db.prisma.round.findUniqueOrThrow({ where: { id: opened.id } })).state).toBe("cancelled");
  });
});

describe("reassigning a blocked payout", () => {
  it("admins give it to another member, who is paid; refusals name why and change nothing", async () => {
    const groupId = await w.readyGroup("ria", ["rex", "rio"]);
    const opened = await open(groupId, "ria");
    const path = `/v1/rounds/${opened.id}/reassign`;
    await expectProblem(await post(path, "ria", { toMemberId: "rex" }), 409, "round_not_blocked");
    // The recipient's account stops receiving: the payout blocks and the group pauses.
    w.gateway.setAccount("acct_ria", false);
    await w.advance(4 * DAY_MS);
    const blocked = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "rex"));
    expect(blocked.status).toBe("payout_blocked");
    expect(blocked.payouts.every((p) => p.status === "failed" && p.failureCode !== null)).toBe(true);

    await expectProblem(await post(path, "ria", {}), 400, "invalid_request");
    await expectProblem(await post(path, "rex", { toMemberId: "rex" }), 403, "not_group_admin");
    await expectProblem(await post(path, "ria", { toMemberId: "nobody" }), 422, "invalid_reassignment");
    await expectProblem(await post(path, "ria", { toMemberId: "ria" }), 422, "invalid_reassignment");
    expect((await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "ria"))).recipientMemberId).toBe(
      "ria",
    );

    const res = await postAsOperator(path, { toMemberId: "rex" });
    expect(res.status).toBe(200);
    const view = await body<RoundBody>(res);
    expect(view).toMatchObject({ status: "paying_out", recipientMemberId: "rex" });
    expect(view.timeline.data.at(-1)).toMatchObject({
      action: "reassign_payout",
      actor: "operator:ops_rounds",
    });
    await w.runUntilQuiet();
    const paid = await body<RoundBody>(await get(`/v1/rounds/${opened.id}`, "ria"));
    expect(paid.status).toBe("paid_out");
    expect(paid.payouts.map((p) => [p.status, p.attempt])).toEqual([
      ["created", 2],
      ["created", 2],
      ["created", 2],
    ]);
    const group = await body<{ status: string }>(await get(`/v1/groups/${groupId}`, "ria"));
    expect(group.status).toBe("active");
  });
});

describe("the OpenAPI document", () => {
  it("describes every rounds route", async () => {
    const doc = await body<{ paths: Record<string, Record<string, unknown>> }>(
      await w.app.request("/v1/openapi.json"),
    );
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/groups/{groupId}/rounds",
        "/v1/rounds/{roundId}",
        "/v1/rounds/{roundId}/timeline",
        "/v1/rounds/{roundId}/contributions/{memberId}/retry",
        "/v1/rounds/{roundId}/extend-deadline",
        "/v1/rounds/{roundId}/reassign",
        "/v1/rounds/{roundId}/cancel",
        "/v1/rounds/{roundId}/contributions/{memberId}/retry-refund",
        "/v1/groups/{groupId}/audit",
      ]),
    );
    expect(Object.keys(doc.paths["/v1/groups/{groupId}/rounds"] ?? {}).sort()).toEqual(["get", "post"]);
  });
});
