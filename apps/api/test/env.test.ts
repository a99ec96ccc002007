import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import { heldPaymentPolicyOf, marketplacePolicyOf, readApiConfig } from "../src/env.js";
import { HttpConfigError } from "../src/http/config.js";

describe("readApiConfig", () => {
  it("names every missing or wrong variable of the API and its HTTP layer in one error", () => {
    let error: unknown;
    try {
      readApiConfig({ PORT: "70000", SUSU_RATE_LIMIT_PER_MINUTE: "many" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HttpConfigError);
    const variables = (error as HttpConfigError).problems.map((p) => p.variable);
    expect(variables).toEqual(
      expect.arrayContaining([
        "PORT",
        "STRIPE_WEBHOOK_SECRET",
        "STRIPE_SECRET_KEY",
        "SUSU_RATE_LIMIT_PER_MINUTE",
        "SUSU_JWT_SECRET",
      ]),
    );
    expect((error as Error).message).toContain("STRIPE_SECRET_KEY");
  });

  it("takes API_PROCESSES as a whole number from 1 to 64 or auto (one per CPU), 1 when unset or blank, and names it otherwise", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const processes = (value?: string) =>
      readApiConfig({ ...base, ...(value === undefined ? {} : { API_PROCESSES: value }) }).env.API_PROCESSES;
    expect([processes(), processes(""), processes("2"), processes("64")]).toEqual([1, 1, 2, 64]);
    expect(processes("auto")).toBe(Math.min(64, availableParallelism()));
    for (const wrong of ["0", "65", "2.5", "two", "-1"]) {
      let error: unknown;
      try {
        processes(wrong);
      } catch (e) {
        error = e;
      }
      expect((error as HttpConfigError).problems, wrong).toEqual([
        { variable: "API_PROCESSES", message: "must be a whole number from 1 to 64, or auto" },
      ]);
    }
  });

  it("takes the database pool size and the webhook batching as bounded whole numbers (blank: the default), and names them otherwise", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    expect(readApiConfig(base).env).toMatchObject({
      API_DB_POOL_SIZE: 10,
      SUSU_WEBHOOK_BATCH_MAX: 64,
      SUSU_WEBHOOK_BATCH_WAIT_MS: 0,
    });
    expect(
      readApiConfig({
        ...base,
        API_DB_POOL_SIZE: "40",
        SUSU_WEBHOOK_BATCH_MAX: " ",
        SUSU_WEBHOOK_BATCH_WAIT_MS: "5",
      }).env,
    ).toMatchObject({ API_DB_POOL_SIZE: 40, SUSU_WEBHOOK_BATCH_MAX: 64, SUSU_WEBHOOK_BATCH_WAIT_MS: 5 });
    // How many stay open idle: all of them unless set (main.ts), 0 to keep none.
    expect(readApiConfig(base).env.API_DB_POOL_MIN).toBeUndefined();
    expect(readApiConfig({ ...base, API_DB_POOL_MIN: "0" }).env.API_DB_POOL_MIN).toBe(0);
    expect(readApiConfig({ ...base, API_DB_POOL_MIN: "3" }).env.API_DB_POOL_MIN).toBe(3);
    expect(() => readApiConfig({ ...base, API_DB_POOL_MIN: "-1" })).toThrow(HttpConfigError);
    let error: unknown;
    try {
      readApiConfig({
        ...base,
        API_DB_POOL_SIZE: "0",
        SUSU_WEBHOOK_BATCH_MAX: "lots",
        SUSU_WEBHOOK_BATCH_WAIT_MS: "2.5",
      });
    } catch (e) {
      error = e;
    }
    expect((error as HttpConfigError).problems).toEqual([
      { variable: "API_DB_POOL_SIZE", message: "must be a whole number from 1 to 1000" },
      { variable: "SUSU_WEBHOOK_BATCH_MAX", message: "must be a whole number from 1 to 1000" },
      { variable: "SUSU_WEBHOOK_BATCH_WAIT_MS", message: "must be a whole number from 0 to 1000" },
    ]);
  });

  it("reads a complete environment", () => {
    const config = readApiConfig({
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    });
    expect(config.env).toMatchObject({ PORT: 3000, HOST: "127.0.0.1", LOG_LEVEL: "info" });
    expect(config.http.auth.sharedSecret).toBe("s".repeat(32));
  });

  it("takes the connected accounts' payout schedule, manual by default, and names it when it is not one", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const schedule = (value?: string) =>
      readApiConfig({ ...base, ...(value === undefined ? {} : { SUSU_CONNECTED_PAYOUT_SCHEDULE: value }) })
        .env.SUSU_CONNECTED_PAYOUT_SCHEDULE;
    expect(schedule()).toEqual({ interval: "manual" });
    expect(schedule("weekly:friday")).toEqual({ interval: "weekly", weeklyAnchor: "friday" });
    let error: unknown;
    try {
      schedule("hourly");
    } catch (e) {
      error = e;
    }
    expect((error as HttpConfigError).problems).toEqual([
      {
        variable: "SUSU_CONNECTED_PAYOUT_SCHEDULE",
        message: "must be manual, daily, weekly:<monday…sunday> or monthly:<1-31>",
      },
    ]);
  });

  it("takes the held payments' dispute windows in seconds (72 h and 1 h by default) and refuses them out of order", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const policy = (extra: Record<string, string>) =>
      heldPaymentPolicyOf(readApiConfig({ ...base, ...extra }).env);
    expect(policy({})).toMatchObject({ disputeWindowMs: 72 * 3_600_000, disputeWindowMinMs: 3_600_000 });
    expect(policy({ SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS: "60" })).toMatchObject({
      disputeWindowMinMs: 60_000,
    });
    const problems = (extra: Record<string, string>) => {
      try {
        readApiConfig({ ...base, ...extra });
        return [];
      } catch (e) {
        return (e as HttpConfigError).problems.map((p) => p.variable);
      }
    };
    expect(
      problems({ SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS: "7200", SUSU_HELD_DISPUTE_WINDOW_SECONDS: "3600" }),
    ).toEqual(["SUSU_HELD_DISPUTE_WINDOW_MIN_SECONDS"]);
    expect(problems({ SUSU_HELD_DISPUTE_WINDOW_SECONDS: "0" })).toEqual(["SUSU_HELD_DISPUTE_WINDOW_SECONDS"]);
  });

  it("takes the platform's settlement currencies (AUD by default, blank too; a list, any case, repeats once) for held payments and marketplace charges, and names unknown or empty ones", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const env = (extra: Record<string, string>) => readApiConfig({ ...base, ...extra }).env;
    expect(heldPaymentPolicyOf(env({})).settlementCurrencies).toEqual(["AUD"]);
    expect(marketplacePolicyOf(env({})).settlementCurrencies).toEqual(["AUD"]);
    expect(
      heldPaymentPolicyOf(env({ SUSU_SETTLEMENT_CURRENCIES: " aud, usd,AUD " })).settlementCurrencies,
    ).toEqual(["AUD", "USD"]);
    const problems = (value: string) => {
      try {
        readApiConfig({ ...base, SUSU_SETTLEMENT_CURRENCIES: value });
        return [];
      } catch (e) {
        return (e as HttpConfigError).problems.map((p) => `${p.variable}: ${p.message}`);
      }
    };
    expect(problems("AUD,XYZ")).toEqual([
      "SUSU_SETTLEMENT_CURRENCIES: names currencies susu does not know: XYZ",
    ]);
    expect(problems(" , ")).toEqual([
      "SUSU_SETTLEMENT_CURRENCIES: must name at least one currency, e.g. AUD or AUD,USD",
    ]);
    // Blank is unset, as for the other variables.
    expect(heldPaymentPolicyOf(env({ SUSU_SETTLEMENT_CURRENCIES: " " })).settlementCurrencies).toEqual([
      "AUD",
    ]);
  });

  it("takes SUSU_DEFAULT_TIME_ZONE as an IANA name (unset or blank: Australia/Sydney), and names it otherwise", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const read = (value?: string) =>
      readApiConfig({ ...base, ...(value === undefined ? {} : { SUSU_DEFAULT_TIME_ZONE: value }) }).env
        .SUSU_DEFAULT_TIME_ZONE;
    expect([read(), read(" "), read("europe/london")]).toEqual([
      "Australia/Sydney",
      "Australia/Sydney",
      "Europe/London",
    ]);
    let error: unknown;
    try {
      read("Mars/Base");
    } catch (e) {
      error = e;
    }
    expect((error as HttpConfigError).problems.map((p) => p.variable)).toEqual(["SUSU_DEFAULT_TIME_ZONE"]);
  });

  it("takes SUSU_DEFAULT_ENTITLEMENTS as JSON entitlements (unset or blank: everything), and names it otherwise", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const read = (value?: string) =>
      readApiConfig({ ...base, ...(value === undefined ? {} : { SUSU_DEFAULT_ENTITLEMENTS: value }) }).env
        .SUSU_DEFAULT_ENTITLEMENTS;
    expect([read(), read("")]).toEqual([undefined, undefined]);
    expect(read('{"createGroups":false,"maxOpenGroups":1,"sellBookings":false}')).toEqual({
      createGroups: false,
      maxOpenGroups: 1,
      sellBookings: false,
    });
    for (const wrong of ["yes", "{}", '{"createGroups":true,"maxOpenGroups":-1,"sellBookings":true}']) {
      let error: unknown;
      try {
        read(wrong);
      } catch (e) {
        error = e;
      }
      expect((error as HttpConfigError).problems.map((p) => p.variable)).toEqual([
        "SUSU_DEFAULT_ENTITLEMENTS",
      ]);
    }
  });

  it("takes notification endpoints at public https addresses only unless SUSU_NOTIFY_ENDPOINT_ADDRESSES is any (blank: public), and names it otherwise", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    const read = (value?: string) =>
      readApiConfig({ ...base, ...(value === undefined ? {} : { SUSU_NOTIFY_ENDPOINT_ADDRESSES: value }) })
        .env.SUSU_NOTIFY_ENDPOINT_ADDRESSES;
    expect([read(), read(""), read("public"), read("any")]).toEqual(["public", "public", "public", "any"]);
    let error: unknown;
    try {
      read("yes");
    } catch (e) {
      error = e;
    }
    expect((error as HttpConfigError).problems).toEqual([
      { variable: "SUSU_NOTIFY_ENDPOINT_ADDRESSES", message: "must be public or any" },
    ]);
  });

  it("reads the admins' notice settings as the scheduler does (an admin's reconciliation run tells them), blank as unset, and names wrong ones", () => {
    const base = {
      STRIPE_WEBHOOK_SECRET: "whsec_x",
      STRIPE_SECRET_KEY: "sk_test_x",
      SUSU_JWT_SECRET: "s".repeat(32),
    };
    expect(readApiConfig({ ...base, SUSU_SMTP_URL: " " }).adminNotice).toEqual({
      SUSU_ADMIN_EMAILS: [],
      SUSU_MAIL_LOCALE: "en-AU",
      SUSU_MAIL_TIME_ZONE: "Australia/Sydney",
      SUSU_ADMIN_ALERT_WINDOW_MINUTES: 60,
    });
    expect(
      readApiConfig({
        ...base,
        SUSU_SMTP_URL: "smtp://127.0.0.1:1025",
        SUSU_ADMIN_EMAILS: "ops@example.com, lead@example.com",
        SUSU_PUBLIC_URL: "https://api.example.com",
      }).adminNotice,
    ).toMatchObject({
      SUSU_SMTP_URL: "smtp://127.0.0.1:1025",
      SUSU_ADMIN_EMAILS: ["ops@example.com", "lead@example.com"],
      SUSU_PUBLIC_URL: "https://api.example.com",
    });
    let error: unknown;
    try {
      readApiConfig({
        ...base,
        SUSU_ADMIN_EMAILS: "ops@example.com, nobody",
        SUSU_MAIL_TIME_ZONE: "Mars/Olympus",
      });
    } catch (e) {
      error = e;
    }
    expect((error as HttpConfigError).problems.map((p) => p.variable)).toEqual([
      "SUSU_ADMIN_EMAILS",
      "SUSU_MAIL_TIME_ZONE",
    ]);
  });
});
