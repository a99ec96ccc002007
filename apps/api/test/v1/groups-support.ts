// What the groups, members and onboarding tests share: an app on a real PostgreSQL
// database (one per test file), tokens by person, and requests that read their answer.
import { PrismaStore } from "@susu/adapters";
import { useTestDatabase } from "@susu/adapters/testing";
import { DAY_MS, type UseCaseDeps, useCaseDepsOn, useCases } from "@susu/domain";
import { FakePaymentGateway, ManualClock, SequentialIds } from "@susu/domain/testing";
import { beforeAll, expect } from "vitest";
import type { Role } from "../../src/http/auth.js";
import { authed, testApp, tokenFor } from "../support/app.js";

/** A problem document or any JSON answer, loosely typed for assertions. */
// biome-ignore lint/suspicious/noExplicitAny: test answers are checked field by field
export type Body = any;

/** An app for one test file on its own database, with the clock, gateway and use cases behind it. */
export function groupsTestbed() {
  const db = useTestDatabase();
  const clock = new ManualClock(Date.UTC(2026, 5, 1));
  const gateway = new FakePaymentGateway(() => clock.now());
  const bed = {
    db,
    clock,
    gateway,
    deps: undefined as unknown as UseCaseDeps,
    app: undefined as unknown as ReturnType<typeof testApp>,
    /** Sends a request as `who` (a person id; undefined: no token), with `roles`. */
    async send(
      who: string | undefined,
      method: string,
      path: string,
      body?: unknown,
      options: { roles?: Role[]; headers?: Record<string, string> } = {},
    ): Promise<{ status: number; body: Body; headers: Headers }> {
      const init =
        who === undefined
          ? {
              method,
              headers: body !== undefined ? { "content-type": "application/json", ...options.headers } : {},
              ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            }
          : authed(await tokenFor(who, options.roles ?? ["member"]), method, body, options.headers ?? {});
      const res = await bed.app.request(path, init);
      const text = await res.text();
      return { status: res.status, body: text === "" ? undefined : JSON.parse(text), headers: res.headers };
    },
    /** A forming group created by `creator`, joined by `members`; returns its id. */
    async group(creator: string, members: string[] = [], overrides: Record<string, unknown> = {}) {
      const created = await bed.send(
        creator,
        "POST",
        "/v1/groups",
        newGroup(clock.now(), creator, overrides),
      );
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      const id: string = created.body.id;
      for (const m of members) {
        const joined = await bed.send(m, "POST", `/v1/groups/${id}/members`, {
          displayName: m.toUpperCase(),
        });
        expect(joined.status, JSON.stringify(joined.body)).toBe(201);
      }
      return id;
    },
    /**
     * Records a person's finished onboarding as Stripe's webhooks would (a mandate, then an
     * account that can receive, unless `payouts` is false).
     */
    async onboarded(personId: string, options: { payouts?: boolean } = {}) {
      gateway.setAccount(`acct_${personId}`, options.payouts !== false);
      (
        await useCases.updatePersonPayment(
          bed.deps,
          personId,
          {
            customerId: `cus_${personId}`,
            debit: {
              paymentMethodId: `pm_${personId}`,
              mandateId: `mandate_${personId}`,
              mandateActive: true,
            },
            connectedAccountId: `acct_${personId}`,
          },
          "stripe",
        )
      )._unsafeUnwrap();
      if (options.payouts !== false)
        (
          await useCases.updatePersonReadiness(bed.deps, personId, { payoutsEnabled: true }, "stripe")
        )._unsafeUnwrap();
    },
    /** The stored group's version: unchanged when a request was refused. */
    async version(groupId: string): Promise<number> {
      return (await db.prisma.group.findUniqueOrThrow({ where: { id: groupId } })).version;
    },
  };
  beforeAll(() => {
    const store = new PrismaStore(db.prisma);
    bed.deps = useCaseDepsOn(store, { clock, ids: new SequentialIds() });
    bed.app = testApp({ useCases: bed.deps, gateway, prisma: db.prisma });
  });
  return bed;
}

/** A valid create-group body. */
export function newGroup(now: number, creator: string, overrides: Record<string, unknown> = {}) {
  return {
    name: "Friday savers",
    currency: "AUD",
    contributionMinor: 100_00,
    cadence: "weekly",
    startsAt: new Date(now + DAY_MS).toISOString(),
    payoutOrderMethod: "join_order",
    displayName: creator.toUpperCase(),
    ...overrides,
  };
}

/** Expects a problem document with `status` and `code`. */
export function expectProblem(
  res: { status: number; body: Body; headers: Headers },
  status: number,
  code: string,
) {
  expect(res.status, `${code}: ${JSON.stringify(res.body)}`).toBe(status);
  expect(res.headers.get("content-type")).toBe("application/problem+json");
  expect(res.body).toMatchObject({ status, code, type: `https://susu.dev/problems/${code}` });
}

/** Expects a 400 `invalid_request` naming each of `fields` (paths such as `name`). */
export function expectInvalid(res: { status: number; body: Body; headers: Headers }, fields: string[]) {
  expectProblem(res, 400, "invalid_request");
  const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
  for (const f of fields) expect(paths, JSON.stringify(paths)).toContainEqual(expect.stringContaining(f));
}
