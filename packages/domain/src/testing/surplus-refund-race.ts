/**
 * What can happen to a surplus charge once Stripe created its refund (`pending`, the charge's
 * money taken): the member disputes it (`dispute`), the refund `succeeds` or `fails`, fails
 * after its success (`fails_later`), and the dispute closes `won` or `lost`.
 */
export type SurplusRaceStep = "dispute" | "succeeds" | "fails" | "fails_later" | "won" | "lost";

/**
 * Every order of those steps Stripe allows, each with a dispute and one outcome of the refund:
 * a failure after a success only after it, a closure only after the dispute (31 orders).
 */
export function surplusRaceOrders(): SurplusRaceStep[][] {
  const all: SurplusRaceStep[][] = [];
  const allowed = (order: readonly SurplusRaceStep[]): boolean => {
    const at = (s: SurplusRaceStep) => order.indexOf(s);
    const closedAfter = (["won", "lost"] as const).every((c) => at(c) < 0 || at(c) > at("dispute"));
    return closedAfter && (at("fails_later") < 0 || at("fails_later") > at("succeeds"));
  };
  const permute = (left: readonly SurplusRaceStep[], done: readonly SurplusRaceStep[]): void => {
    if (left.length === 0) {
      if (allowed(done)) all.push([...done]);
      return;
    }
    for (const s of left)
      permute(
        left.filter((x) => x !== s),
        [...done, s],
      );
  };
  const outcomes: SurplusRaceStep[][] = [["succeeds"], ["succeeds", "fails_later"], ["fails"]];
  const closures: SurplusRaceStep[][] = [[], ["won"], ["lost"]];
  for (const outcome of outcomes)
    for (const closure of closures) permute(["dispute", ...outcome, ...closure], []);
  return all;
}
