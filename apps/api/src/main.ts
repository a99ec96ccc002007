import { serve } from "@hono/node-server";
import { resolveDatabaseUrl } from "@susu/adapters";
import { createApp } from "./app.js";
import { createContainer, TOKENS } from "./container.js";
import { readApiEnv } from "./env.js";

// The API process: parse config, bind adapters, serve. Everything else is in createApp.
const env = readApiEnv();
const database = await resolveDatabaseUrl();
const container = createContainer({
  databaseUrl: database.connectionString,
  stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
  stripeSecretKey: env.STRIPE_SECRET_KEY,
  ...(env.STRIPE_API_URL !== undefined ? { stripeApiUrl: env.STRIPE_API_URL } : {}),
});
const app = createApp(container.get(TOKENS.apiDeps));
const server = serve({ fetch: app.fetch, port: env.PORT, hostname: env.HOST }, (info) => {
  console.log(
    JSON.stringify({ level: "info", service: "susu-api", msg: "listening", port: info.port, host: env.HOST }),
  );
});

async function shutdown(): Promise<void> {
  server.close();
  await container.get(TOKENS.close)();
  await database.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
