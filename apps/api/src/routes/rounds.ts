import { type UseCaseDeps, useCases } from "@susu/domain";
import { Hono } from "hono";
import { useCaseProblem } from "../problem.js";
import { roundView } from "../views.js";

/** `/rounds`: read a round and its contributions. */
export function roundRoutes(deps: UseCaseDeps) {
  const app = new Hono();
  app.get("/:roundId", async (c) => {
    const found = await deps.rounds.getRound(c.req.param("roundId"));
    if (found.isErr()) return useCaseProblem(c, found.error);
    return found.value
      ? c.json(roundView(found.value))
      : useCaseProblem(c, useCases.notFound("round", c.req.param("roundId")));
  });
  return app;
}
