import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import { EmulatorControl } from "./control/client.js";
import { ControlRoutes } from "./control/routes.js";
import { Engine } from "./core/engine.js";
import { type EmulatorOptions, resolveOptions } from "./core/options.js";
import { MAIN_CLOCK } from "./core/scheduler.js";
import { Faults } from "./http/faults.js";
import { IdempotencyKeys } from "./http/idempotency.js";
import { Router } from "./http/router.js";
import { ApiPipeline } from "./http/server.js";
import { Persistence } from "./persistence.js";
import { registerAccounts } from "./resources/accounts.js";
import { registerApplicationFees } from "./resources/application-fees.js";
import { registerBalance } from "./resources/balance.js";
import { registerBilling } from "./resources/billing.js";
import { registerCatalog } from "./resources/catalog.js";
import { registerCharges } from "./resources/charges.js";
import { registerCheckout } from "./resources/checkout.js";
import { registerCustomers } from "./resources/customers.js";
import { createEndpoint, newWebhookSecret, registerEvents } from "./resources/events.js";
import { registerExternalAccounts } from "./resources/external-accounts.js";
import { registerMandates } from "./resources/mandates.js";
import { registerPaymentIntents } from "./resources/payment-intents.js";
import { registerPaymentMethods } from "./resources/payment-methods.js";
import { registerPayouts } from "./resources/payouts.js";
import { registerSetupIntents } from "./resources/setup-intents.js";
import { registerTransfers } from "./resources/transfers.js";
import { createStripeClient, type StripeClientOptions } from "./stripe-client.js";
import { WebhookDispatcher } from "./webhooks/dispatcher.js";

/** Id of the endpoint made from the `webhookUrl` option. */
export const CONFIGURED_ENDPOINT_ID = "we_emulatorconfigured00000";

export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:12111`. */
  url: string;
  port: number;
  host: string;
  secretKey: string;
  /** Signing secret of the `webhookUrl` endpoint (set even without one, for tests that sign themselves). */
  webhookSecret: string;
  control: EmulatorControl;
  /** A `Stripe` SDK client pointed at this emulator. */
  stripe(options?: StripeClientOptions): Stripe;
  /** Stops listening, ends held connections and saves state if `dataDir` is set. */
  stop(): Promise<void>;
}

/** Starts an emulator: an HTTP server speaking Stripe's API, with its own clock and state. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const resolved = resolveOptions(options);
  const engine = new Engine(resolved);
  const router = new Router();
  registerCustomers(router, engine);
  registerPaymentMethods(router, engine);
  registerMandates(router, engine);
  registerSetupIntents(router, engine);
  registerPaymentIntents(router, engine);
  registerCharges(router, engine);
  registerBalance(router, engine);
  registerAccounts(router, engine);
  registerExternalAccounts(router, engine);
  registerTransfers(router, engine);
  registerApplicationFees(router, engine);
  registerPayouts(router, engine);
  registerEvents(router, engine);
  registerCatalog(router, engine);
  registerCheckout(router, engine);
  registerBilling(router, engine);

  const dispatcher = new WebhookDispatcher(engine);
  engine.addPart(dispatcher);
  const keys = new IdempotencyKeys();
  engine.addPart(keys);
  const faults = new Faults();
  const webhookSecret = resolved.webhookSecret ?? newWebhookSecret();

  const installConfiguredEndpoint = (): void => {
    if (!resolved.webhookUrl) return;
    const existing = engine.store.record<Stripe.WebhookEndpoint>(CONFIGURED_ENDPOINT_ID);
    if (existing) {
      existing.obj.url = resolved.webhookUrl;
      existing.obj.secret = webhookSecret;
      existing.obj.enabled_events = [...resolved.webhookEnabledEvents];
      return;
    }
    createEndpoint(engine, {
      id: CONFIGURED_ENDPOINT_ID,
      url: resolved.webhookUrl,
      enabledEvents: [...resolved.webhookEnabledEvents],
      description: "Configured at emulator startup (webhookUrl)",
      metadata: {},
      apiVersion: null,
      secret: webhookSecret,
      meta: { platformEvents: true, connectEvents: true },
    });
  };

  const settleDue = (): void => {
    engine.runDue();
    dispatcher.pump();
  };

  const advanceClock = (to: number): number => {
    const ran = engine.advance(MAIN_CLOCK, to);
    keys.prune(engine.now(), resolved.idempotencyRetentionSeconds);
    dispatcher.clockAdvanced();
    engine.changed();
    return ran;
  };

  const persistence = resolved.dataDir ? new Persistence(engine, resolved.dataDir) : null;
  if (persistence?.load()) {
    // A restarted dev stack resumes where it was, catching up to the real time.
    const realNow = Math.floor(Date.now() / 1000);
    if (realNow > engine.now()) advanceClock(realNow);
  }
  installConfiguredEndpoint();

  const control = new ControlRoutes({
    engine,
    faults,
    dispatcher,
    advanceClock,
    reset: () => {
      faults.clear();
      dispatcher.setChaos(resolved.webhookChaos);
      engine.reset(options.startTime ?? Math.floor(Date.now() / 1000));
      installConfiguredEndpoint();
      engine.changed();
    },
    configuredEndpoint: () =>
      resolved.webhookUrl
        ? { id: CONFIGURED_ENDPOINT_ID, url: resolved.webhookUrl, secret: webhookSecret }
        : null,
    afterChange: () => {
      settleDue();
      engine.changed();
    },
  });
  const pipeline = new ApiPipeline(engine, router, faults, keys, control, settleDue);
  const server: Server = createServer(pipeline.listener);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(resolved.port, resolved.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = resolved.host.includes(":") ? `[${resolved.host}]` : resolved.host;
  const url = `http://${hostForUrl}:${address.port}`;
  engine.baseUrl = url;
  resolved.log?.(`stripe emulator listening on ${url}`);

  let stopped = false;
  return {
    url,
    port: address.port,
    host: resolved.host,
    secretKey: resolved.secretKey,
    webhookSecret,
    control: new EmulatorControl(url),
    stripe: (clientOptions = {}) => createStripeClient({ url, secretKey: resolved.secretKey }, clientOptions),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      pipeline.releaseHanging();
      dispatcher.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      persistence?.save();
    },
  };
}
