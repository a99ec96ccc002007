// The scheduler's environment: one error naming every wrong variable; blanks are unset.
import { describe, expect, it } from "vitest";
import { readSchedulerEnv, SchedulerConfigError } from "../src/env.js";

/** What readSchedulerEnv refuses in `env` (beside a Stripe key), one problem per variable; none: []. */
function problems(env: Record<string, string>) {
  try {
    readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", ...env });
  } catch (error) {
    return (error as SchedulerConfigError).problems;
  }
  return [];
}

describe("readSchedulerEnv", () => {
  it("defaults the metrics endpoint to 127.0.0.1:9464 and takes 0 (a free port)", () => {
    expect(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" })).toMatchObject({
      SUSU_SCHEDULER_METRICS_PORT: 9464,
      SUSU_SCHEDULER_METRICS_HOST: "127.0.0.1",
    });
    const env = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_SCHEDULER_METRICS_PORT: "0" });
    expect(env.SUSU_SCHEDULER_METRICS_PORT).toBe(0);
    // An empty value (`FOO=` in an env file) is unset, not "nothing".
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_SCHEDULER_METRICS_PORT: " " })
        .SUSU_SCHEDULER_METRICS_PORT,
    ).toBe(9464);
  });

  it("works 8 webhook events at once unless told 1 to 256", () => {
    expect(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }).SUSU_WEBHOOK_CONCURRENCY).toBe(16);
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_WEBHOOK_CONCURRENCY: "32" })
        .SUSU_WEBHOOK_CONCURRENCY,
    ).toBe(32);
    for (const wrong of ["0", "257", "1.5", "many"])
      expect(
        () => readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_WEBHOOK_CONCURRENCY: wrong }),
        wrong,
      ).toThrow(SchedulerConfigError);
  });

  it("names every wrong or missing variable in one error", () => {
    let thrown: unknown;
    try {
      readSchedulerEnv({
        SUSU_SCHEDULER_METRICS_PORT: "70000",
        SUSU_DISPATCH_INTERVAL_MS: "fast",
        LOG_LEVEL: "loud",
        STRIPE_SECRET_KEY: "",
      });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SchedulerConfigError);
    const error = thrown as SchedulerConfigError;
    expect(error.problems.map((p) => p.variable).sort()).toEqual([
      "LOG_LEVEL",
      "STRIPE_SECRET_KEY",
      "SUSU_DISPATCH_INTERVAL_MS",
      "SUSU_SCHEDULER_METRICS_PORT",
    ]);
    expect(error.message).toContain("invalid configuration (4 problems)");
    expect(error.message).toContain("SUSU_SCHEDULER_METRICS_PORT: must be a port number (0-65535)");
  });

  it("reads how long a marketplace payment may wait for the customer: 24 hours by default, 5 minutes to 7 days", () => {
    expect(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }).SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS).toBe(
      86_400,
    );
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS: "900" })
        .SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS,
    ).toBe(900);
    for (const bad of ["60", "604801", "1.5", "soon"]) {
      let thrown: unknown;
      try {
        readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS: bad });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as SchedulerConfigError).problems.map((p) => p.variable)).toEqual([
        "SUSU_MARKETPLACE_ACTION_EXPIRY_SECONDS",
      ]);
    }
  });

  it("runs the reconciliation daily at 06:15 UTC (after the margin after the day) unless told another cron or off", () => {
    expect(readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" }).SUSU_RECONCILE_CRON).toBe("15 6 * * *");
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_RECONCILE_CRON: "0 6 * * 1" })
        .SUSU_RECONCILE_CRON,
    ).toBe("0 6 * * 1");
    expect(
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_RECONCILE_CRON: "off" }).SUSU_RECONCILE_CRON,
    ).toBe("off");
    expect(() => readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_RECONCILE_CRON: "daily" })).toThrow(
      /SUSU_RECONCILE_CRON: must be a 5-field cron expression or "off"/,
    );
  });

  it("runs open-ticket reconciliation days again within 35 days, 5 a run, unless told other bounds or 0", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    expect(readSchedulerEnv(key)).toMatchObject({
      SUSU_RECONCILE_RERUN_DAYS: 35,
      SUSU_RECONCILE_RERUNS_PER_RUN: 5,
    });
    expect(
      readSchedulerEnv({ ...key, SUSU_RECONCILE_RERUN_DAYS: "0", SUSU_RECONCILE_RERUNS_PER_RUN: "12" }),
    ).toMatchObject({ SUSU_RECONCILE_RERUN_DAYS: 0, SUSU_RECONCILE_RERUNS_PER_RUN: 12 });
    expect(() => readSchedulerEnv({ ...key, SUSU_RECONCILE_RERUN_DAYS: "400" })).toThrow(
      /SUSU_RECONCILE_RERUN_DAYS: must be a whole number from 0 to 366/,
    );
    expect(() => readSchedulerEnv({ ...key, SUSU_RECONCILE_RERUNS_PER_RUN: "2.5" })).toThrow(
      /SUSU_RECONCILE_RERUNS_PER_RUN: must be a whole number from 0 to 50/,
    );
  });

  it("reads the e-mail settings: SMTP only with a From address, admins as a checked list, a real locale and zone", () => {
    const none = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" });
    expect(none).toMatchObject({
      SUSU_ADMIN_EMAILS: [],
      SUSU_MAIL_LOCALE: "en-AU",
      SUSU_MAIL_TIME_ZONE: "Australia/Sydney",
    });
    expect(none.SUSU_SMTP_URL).toBeUndefined();
    const env = readSchedulerEnv({
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_SMTP_URL: "smtp://127.0.0.1:1025",
      SUSU_MAIL_FROM: "susu <no-reply@example.com>",
      SUSU_ADMIN_EMAILS: " ops@example.com,, lead@example.com ",
    });
    expect(env).toMatchObject({
      SUSU_SMTP_URL: "smtp://127.0.0.1:1025",
      SUSU_MAIL_FROM: "susu <no-reply@example.com>",
      SUSU_ADMIN_EMAILS: ["ops@example.com", "lead@example.com"],
    });
    expect(() =>
      readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x", SUSU_SMTP_URL: "smtp://127.0.0.1:1025" }),
    ).toThrow(/SUSU_MAIL_FROM: is required when SUSU_SMTP_URL is set/);
    let thrown: unknown;
    try {
      readSchedulerEnv({
        STRIPE_SECRET_KEY: "sk_test_x",
        SUSU_SMTP_URL: "http://mail.example.com",
        SUSU_MAIL_FROM: "nobody",
        SUSU_ADMIN_EMAILS: "ops@example.com, not-an-address",
        SUSU_MAIL_LOCALE: "en_AU!",
        SUSU_MAIL_TIME_ZONE: "Mars/Olympus",
      });
    } catch (error) {
      thrown = error;
    }
    expect((thrown as SchedulerConfigError).problems).toEqual([
      { variable: "SUSU_SMTP_URL", message: "must be an smtp:// or smtps:// URL" },
      {
        variable: "SUSU_MAIL_FROM",
        message: "must be an address, e.g. no-reply@example.com or susu <no-reply@example.com>",
      },
      { variable: "SUSU_ADMIN_EMAILS", message: "not an e-mail address: not-an-address" },
      { variable: "SUSU_MAIL_LOCALE", message: "must be a BCP 47 locale, e.g. en-AU" },
      { variable: "SUSU_MAIL_TIME_ZONE", message: "must be an IANA time zone, e.g. Australia/Sydney" },
    ]);
  });

  it("reads the notification settings: defaults, and refuses a public URL that is not http(s) or a zero attempt limit", () => {
    const defaults = readSchedulerEnv({ STRIPE_SECRET_KEY: "sk_test_x" });
    expect({
      window: defaults.SUSU_ADMIN_ALERT_WINDOW_MINUTES,
      attempts: defaults.SUSU_NOTIFY_MAX_ATTEMPTS,
      base: defaults.SUSU_NOTIFY_RETRY_BASE_MS,
      timeout: defaults.SUSU_NOTIFY_TIMEOUT_MS,
      publicUrl: defaults.SUSU_PUBLIC_URL,
    }).toEqual({ window: 60, attempts: 8, base: 30_000, timeout: 10_000, publicUrl: undefined });
    let error: unknown;
    try {
      readSchedulerEnv({
        STRIPE_SECRET_KEY: "sk_test_x",
        SUSU_PUBLIC_URL: "ftp://x.example",
        SUSU_NOTIFY_MAX_ATTEMPTS: "0",
      });
    } catch (e) {
      error = e;
    }
    expect((error as SchedulerConfigError).problems.map((p) => p.variable).sort()).toEqual([
      "SUSU_NOTIFY_MAX_ATTEMPTS",
      "SUSU_PUBLIC_URL",
    ]);
  });

  it("reads the dispatcher's concurrency (16 by default) and sizes the pool to it and the webhook processor's unless told", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    expect(readSchedulerEnv(key)).toMatchObject({ SUSU_DISPATCH_CONCURRENCY: 16, SUSU_DB_POOL_SIZE: 28 });
    expect(readSchedulerEnv({ ...key, SUSU_DISPATCH_CONCURRENCY: "4" })).toMatchObject({
      SUSU_DISPATCH_CONCURRENCY: 4,
      SUSU_DB_POOL_SIZE: 16,
    });
    expect(
      readSchedulerEnv({ ...key, SUSU_DISPATCH_CONCURRENCY: "4", SUSU_DB_POOL_SIZE: "40" }),
    ).toMatchObject({
      SUSU_DB_POOL_SIZE: 40,
    });
    for (const wrong of ["0", "257", "1.5", "many"])
      expect(problems({ SUSU_DISPATCH_CONCURRENCY: wrong })).toEqual([
        { variable: "SUSU_DISPATCH_CONCURRENCY", message: "must be a whole number from 1 to 256" },
      ]);
    for (const wrong of ["0", "501", "x"])
      expect(problems({ SUSU_DB_POOL_SIZE: wrong })).toEqual([
        { variable: "SUSU_DB_POOL_SIZE", message: "must be a whole number from 1 to 500" },
      ]);
    expect(problems({ SUSU_DISPATCH_CONCURRENCY: "32", SUSU_DB_POOL_SIZE: "16" })).toEqual([
      {
        variable: "SUSU_DB_POOL_SIZE",
        message:
          "must be at least SUSU_DISPATCH_CONCURRENCY (32): each effect in flight commits on a connection of its own",
      },
    ]);
  });

  it("reads how many notification deliveries are sent at once (SUSU_NOTIFY_CONCURRENCY, 8 by default)", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    expect(readSchedulerEnv(key).SUSU_NOTIFY_CONCURRENCY).toBe(8);
    expect(readSchedulerEnv({ ...key, SUSU_NOTIFY_CONCURRENCY: " 32 " }).SUSU_NOTIFY_CONCURRENCY).toBe(32);
    expect(readSchedulerEnv({ ...key, SUSU_NOTIFY_CONCURRENCY: "" }).SUSU_NOTIFY_CONCURRENCY).toBe(8);
    for (const wrong of ["0", "257", "1.5", "many"])
      expect(problems({ SUSU_NOTIFY_CONCURRENCY: wrong })).toEqual([
        { variable: "SUSU_NOTIFY_CONCURRENCY", message: "must be a whole number from 1 to 256" },
      ]);
  });

  it("sends webhooks to public https endpoints only unless SUSU_NOTIFY_ENDPOINT_ADDRESSES is any (development, tests)", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    const read = (value?: string) =>
      readSchedulerEnv({ ...key, ...(value === undefined ? {} : { SUSU_NOTIFY_ENDPOINT_ADDRESSES: value }) })
        .SUSU_NOTIFY_ENDPOINT_ADDRESSES;
    expect([read(), read(" "), read("public"), read(" any ")]).toEqual(["public", "public", "public", "any"]);
    for (const wrong of ["yes", "true", "ANY"])
      expect(problems({ SUSU_NOTIFY_ENDPOINT_ADDRESSES: wrong })).toEqual([
        { variable: "SUSU_NOTIFY_ENDPOINT_ADDRESSES", message: "must be public or any" },
      ]);
  });

  it("keeps half the webhook slots' connections and 4 open while idle unless told how many (SUSU_DB_POOL_MIN, at most the pool)", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    expect(readSchedulerEnv(key)).toMatchObject({ SUSU_DB_POOL_SIZE: 28, SUSU_DB_POOL_MIN: 12 });
    expect(readSchedulerEnv({ ...key, SUSU_WEBHOOK_CONCURRENCY: "32" })).toMatchObject({
      SUSU_DB_POOL_SIZE: 36,
      SUSU_DB_POOL_MIN: 20,
    });
    // Half of an odd count rounds up.
    expect(readSchedulerEnv({ ...key, SUSU_WEBHOOK_CONCURRENCY: "7" })).toMatchObject({
      SUSU_DB_POOL_SIZE: 24,
      SUSU_DB_POOL_MIN: 8,
    });
    expect(
      readSchedulerEnv({ ...key, SUSU_DISPATCH_CONCURRENCY: "2", SUSU_DB_POOL_SIZE: "6" }),
    ).toMatchObject({ SUSU_DB_POOL_MIN: 6 });
    expect(readSchedulerEnv({ ...key, SUSU_DB_POOL_MIN: "0" })).toMatchObject({ SUSU_DB_POOL_MIN: 0 });
    expect(readSchedulerEnv({ ...key, SUSU_DB_POOL_MIN: " 28 " })).toMatchObject({ SUSU_DB_POOL_MIN: 28 });
    expect(readSchedulerEnv({ ...key, SUSU_DB_POOL_MIN: "" })).toMatchObject({ SUSU_DB_POOL_MIN: 12 });
    for (const wrong of ["-1", "501", "2.5", "all"])
      expect(problems({ SUSU_DB_POOL_MIN: wrong })).toEqual([
        { variable: "SUSU_DB_POOL_MIN", message: "must be a whole number from 0 to 500" },
      ]);
    expect(problems({ SUSU_DB_POOL_SIZE: "20", SUSU_DB_POOL_MIN: "21" })).toEqual([
      {
        variable: "SUSU_DB_POOL_MIN",
        message: "must be at most SUSU_DB_POOL_SIZE (20): the pool keeps no more than it may open",
      },
    ]);
  });

  it("plans the pool's named statements once per connection unless told otherwise (SUSU_DB_PLAN_CACHE_MODE)", () => {
    const key = { STRIPE_SECRET_KEY: "sk_test_x" };
    expect(readSchedulerEnv(key).SUSU_DB_PLAN_CACHE_MODE).toBe("force_generic_plan");
    expect(readSchedulerEnv({ ...key, SUSU_DB_PLAN_CACHE_MODE: "" }).SUSU_DB_PLAN_CACHE_MODE).toBe(
      "force_generic_plan",
    );
    for (const mode of ["auto", "force_generic_plan", "force_custom_plan"])
      expect(readSchedulerEnv({ ...key, SUSU_DB_PLAN_CACHE_MODE: ` ${mode} ` }).SUSU_DB_PLAN_CACHE_MODE).toBe(
        mode,
      );
    for (const wrong of ["generic", "AUTO", "force_generic_plan; DROP TABLE people", "-c x=1"])
      expect(problems({ SUSU_DB_PLAN_CACHE_MODE: wrong })).toEqual([
        {
          variable: "SUSU_DB_PLAN_CACHE_MODE",
          message: "must be auto, force_generic_plan or force_custom_plan",
        },
      ]);
  });
});
