/**
 * What the benches share: embedded PostgreSQL in a throw-away data folder, and open rounds
 * to read made through the use cases.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  applyMigrations,
  createPrismaClient,
  PrismaStore,
  RandomIds,
  resolveDatabaseUrl,
} from "@susu/adapters";
import { DAY_MS, useCaseDepsOn, useCases } from "@susu/domain";
import { ManualClock, onboardThroughUseCases } from "@susu/domain/testing";

/**
 * Embedded PostgreSQL in a new data folder under the system's temporary folder (its name
 * starting with `prefix`), migrated. The caller closes `database` and removes `dir`.
 */
export async function embeddedPostgres(prefix: string, databaseName: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const database = await resolveDatabaseUrl({
    env: { SUSU_PG_DATA_DIR: dir },
    embeddedDatabase: databaseName,
  });
  await applyMigrations(database.connectionString);
  return { dir, database };
}

/**
 * One open round for each of `admins`, made through the use cases with a clock of their own,
 * as the scheduler and Stripe's webhooks would: a weekly AUD group named `name` created by
 * the admin (Ana), joined by `<admin>_b` (Ben), both onboarded, activated, and its first
 * round started a day on, at its start. Returns the rounds' ids, in the admins' order.
 */
export async function seedOpenRounds(
  connectionString: string,
  admins: readonly string[],
  name: string,
): Promise<string[]> {
  const prisma = createPrismaClient(connectionString);
  const store = new PrismaStore(prisma);
  const clock = new ManualClock(Date.now());
  const deps = useCaseDepsOn(store, { clock, ids: new RandomIds() });
  const roundIds: string[] = [];
  for (const admin of admins) {
    const group = (
      await useCases.createGroup(deps, {
        name,
        currency: "AUD",
        contributionMinor: 100_00,
        cadence: "weekly",
        payoutOrderMethod: "join_order",
        startsAt: clock.now() + DAY_MS,
        creator: { id: admin, displayName: "Ana" },
      })
    )._unsafeUnwrap();
    (await useCases.joinGroup(deps, group.id, { id: `${admin}_b`, displayName: "Ben" }))._unsafeUnwrap();
    for (const person of [admin, `${admin}_b`]) await onboardThroughUseCases(deps, person);
    (await useCases.activateGroup(deps, group.id, admin))._unsafeUnwrap();
    clock.advance(DAY_MS);
    roundIds.push((await useCases.startRound(deps, group.id, { memberId: admin }))._unsafeUnwrap().state.id);
  }
  await prisma.$disconnect();
  return roundIds;
}
