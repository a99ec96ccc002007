// `npm run -s token -- --sub ana [--role admin] [--role service] [--ttl 86400]`: prints a
// bearer token signed with SUSU_JWT_SECRET (HS256, issuer "susu") that the API accepts.
// Only the token goes to stdout, so `TOKEN=$(npm run -s token -- --sub ana)` works. The
// secret is read from the environment, never from the command line (shell history, ps).
import { existsSync, readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { MINT_TTL_MAX_SECONDS, mintToken, ROLES, type Role } from "../src/http/auth.js";

const usage = `usage: npm run -s token -- --sub <person id> [--role ${ROLES.join("|")}]... [--ttl <seconds>]
  Roles: member (the default: a person, who acts as themselves and on the groups they admin);
  service (a client app's backend or an operator tool: sees what operators see, may scrape
  /metrics, asks for held payments and charges for its users, but is refused 403 admin_only
  the commands only a platform admin gives on what is not its own: a group's, a round's or a
  member's admin commands, money on someone's payment, ledger adjustments, plans, setting
  parked work aside, resolving tickets; and, being no person, 403 person_only what a person
  does as themselves: creating or joining a group, /v1/people/me, subscribing, paying or being
  paid as itself); admin (a platform admin, a person: all of that).
  SUSU_JWT_SECRET (at least 32 characters) is the API's secret; unset, the secret \`npm start\`
  made for the embedded defaults is used (SUSU_JWT_SECRET_FILE, default .data/jwt-secret).`;

function fail(message: string): never {
  console.error(`${message}\n${usage}`);
  process.exit(2);
}

let values: { sub?: string; role?: string[]; ttl?: string; help?: boolean };
try {
  ({ values } = parseArgs({
    options: {
      sub: { type: "string" },
      role: { type: "string", multiple: true },
      ttl: { type: "string", default: "86400" },
      help: { type: "boolean", short: "h" },
    },
  }));
} catch (error) {
  fail(error instanceof Error ? error.message : String(error));
}
if (values.help) {
  console.log(usage);
  process.exit(0);
}
// `npm start` on embedded defaults keeps its secret in a file (see scripts/stack.mjs).
const embeddedSecret =
  process.env.SUSU_JWT_SECRET_FILE ?? new URL("../../../.data/jwt-secret", import.meta.url).pathname;
const secret =
  process.env.SUSU_JWT_SECRET ??
  (existsSync(embeddedSecret) ? readFileSync(embeddedSecret, "utf8").trim() : undefined);
if (secret === undefined || secret.length < 32)
  fail("SUSU_JWT_SECRET is not set or shorter than 32 characters.");
if (values.sub === undefined || values.sub === "") fail("--sub is required.");
const roles = (values.role ?? ["member"]).map((role) => {
  if (!(ROLES as readonly string[]).includes(role)) fail(`unknown role "${role}".`);
  return role as Role;
});
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MINT_TTL_MAX_SECONDS)
  fail(`--ttl must be a whole number of seconds from 1 to ${MINT_TTL_MAX_SECONDS}.`);

console.log(await mintToken({ subject: values.sub, roles, ttlSeconds }, secret));
