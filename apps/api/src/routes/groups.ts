import {
  CADENCES,
  CURRENCY_CODES,
  type CurrencyCode,
  PAYOUT_ORDER_METHODS,
  type UseCaseDeps,
  useCases,
} from "@susu/domain";
import { Hono } from "hono";
import { z } from "zod";
import { bodySchema } from "../input.js";
import { problem, useCaseProblem, validationProblem } from "../problem.js";
import { groupViewOf, roundView } from "../views.js";

const idSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only");
const displayName = z.string().trim().min(1).max(100);

const createGroupSchema = bodySchema(
  z.object({
    name: z.string().trim().min(1).max(100),
    currency: z.enum(CURRENCY_CODES as [CurrencyCode, ...CurrencyCode[]]),
    contributionMinor: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    cadence: z.enum(CADENCES as [string, ...string[]]).transform((c) => c as (typeof CADENCES)[number]),
    startsAt: z.iso.datetime({ offset: true }).transform((s) => Date.parse(s)),
    payoutOrderMethod: z
      .enum(PAYOUT_ORDER_METHODS as [string, ...string[]])
      .transform((m) => m as (typeof PAYOUT_ORDER_METHODS)[number]),
    rotationsPlanned: z.number().int().min(1).max(12).optional(),
    creator: z.object({ id: idSchema.optional(), displayName }),
  }),
);

const joinSchema = bodySchema(z.object({ id: idSchema.optional(), displayName }));
const orderSchema = bodySchema(
  z.union([
    z.object({ memberIds: z.array(idSchema).min(1).max(50) }),
    z.object({ seed: z.string().min(8).max(128) }),
    z.object({ method: z.enum(["join_order", "reverse_join_order"]) }),
  ]),
);
const swapSchema = bodySchema(z.object({ counterparty: idSchema }));
const acceptSwapSchema = bodySchema(z.object({ proposedBy: idSchema }));
const reassignSchema = bodySchema(z.object({ toMemberId: idSchema }));

/** The member acting, from the `X-Susu-Member` header (a placeholder until authentication lands). */
function actorOf(header: string | undefined): string | undefined {
  const parsed = idSchema.safeParse(header);
  return parsed.success ? parsed.data : undefined;
}

/** `/groups`: create and manage savings groups and start their rounds. */
export function groupRoutes(deps: UseCaseDeps) {
  const app = new Hono();
  const viewOf = groupViewOf(deps);

  const body = async (req: Request): Promise<unknown> => {
    try {
      return await req.json();
    } catch {
      return undefined;
    }
  };

  app.post("/", async (c) => {
    const parsed = createGroupSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const { rotationsPlanned, creator, ...rest } = parsed.data;
    const created = await useCases
      .createGroup(deps, {
        ...rest,
        ...(rotationsPlanned !== undefined ? { rotationsPlanned } : {}),
        creator: {
          displayName: creator.displayName,
          ...(creator.id !== undefined ? { id: creator.id } : {}),
        },
      })
      .andThen(viewOf);
    return created.match(
      (g) => c.json(g, 201, { location: `/groups/${g.id}` }),
      (e) => useCaseProblem(c, e),
    );
  });

  app.get("/:groupId", async (c) => {
    const found = await useCases.loadGroup(deps, c.req.param("groupId")).andThen(viewOf);
    return found.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  app.get("/:groupId/rounds", async (c) => {
    const listed = await useCases
      .loadGroup(deps, c.req.param("groupId"))
      .andThen((g) => deps.rounds.listRoundsOfGroup(g.id));
    return listed.match(
      (rounds) => c.json({ data: rounds.map(roundView) }),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/members", async (c) => {
    const parsed = joinSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const joined = await useCases
      .joinGroup(deps, c.req.param("groupId"), {
        displayName: parsed.data.displayName,
        ...(parsed.data.id !== undefined ? { id: parsed.data.id } : {}),
      })
      .andThen(viewOf);
    return joined.match(
      (g) => c.json(g, 201),
      (e) => useCaseProblem(c, e),
    );
  });

  // Every route below acts on behalf of a member.
  app.use("/:groupId/*", async (c, next) => {
    if (c.req.method !== "GET" && !(c.req.method === "POST" && c.req.path.endsWith("/members"))) {
      if (actorOf(c.req.header("x-susu-member")) === undefined)
        return problem(c, 401, "actor_required", "name the acting member in the X-Susu-Member header");
    }
    await next();
  });

  app.delete("/:groupId/members/:memberId", async (c) => {
    const actor = actorOf(c.req.header("x-susu-member"));
    if (actor !== c.req.param("memberId")) return problem(c, 403, "not_self", "members leave for themselves");
    const left = await useCases.leaveGroup(deps, c.req.param("groupId"), actor).andThen(viewOf);
    return left.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  app.put("/:groupId/payout-order", async (c) => {
    const parsed = orderSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const groupId = c.req.param("groupId");
    const o = parsed.data;
    const changed = await ("memberIds" in o
      ? useCases.setPayoutOrder(deps, groupId, actor, o.memberIds)
      : "seed" in o
        ? useCases.drawPayoutOrder(deps, groupId, actor, o.seed)
        : useCases.usePayoutOrderMethod(deps, groupId, actor, o.method)
    ).andThen(viewOf);
    return changed.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/swaps", async (c) => {
    const parsed = swapSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const proposed = await useCases
      .proposeSwap(deps, c.req.param("groupId"), actor, parsed.data.counterparty)
      .andThen(viewOf);
    return proposed.match(
      (g) => c.json(g, 201),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/swaps/accept", async (c) => {
    const parsed = acceptSwapSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const accepted = await useCases
      .acceptSwap(deps, c.req.param("groupId"), actor, parsed.data.proposedBy)
      .andThen(viewOf);
    return accepted.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/activate", async (c) => {
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const activated = await useCases.activateGroup(deps, c.req.param("groupId"), actor).andThen(viewOf);
    return activated.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/resume", async (c) => {
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const resumed = await useCases.resumeGroup(deps, c.req.param("groupId"), actor).andThen(viewOf);
    return resumed.match(
      (g) => c.json(g),
      (e) => useCaseProblem(c, e),
    );
  });

  // Opens the group's due round now, without waiting for the scheduler's cron. Only an
  // admin of the group may (not_admin, 403; someone outside the group: member_not_found,
  // 404), and the audit log names them.
  app.post("/:groupId/rounds", async (c) => {
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const started = await useCases.startRound(deps, c.req.param("groupId"), { memberId: actor });
    return started.match(
      (d) => c.json(roundView(d.state), 201, { location: `/rounds/${d.state.id}` }),
      (e) => useCaseProblem(c, e),
    );
  });

  app.post("/:groupId/payout/reassign", async (c) => {
    const parsed = reassignSchema.safeParse(await body(c.req.raw));
    if (!parsed.success) return validationProblem(c, parsed.error);
    const actor = actorOf(c.req.header("x-susu-member")) ?? "";
    const reassigned = await useCases.reassignPayout(
      deps,
      c.req.param("groupId"),
      actor,
      parsed.data.toMemberId,
    );
    return reassigned.match(
      (d) => c.json(roundView(d.state)),
      (e) => useCaseProblem(c, e),
    );
  });

  return app;
}
