// The payment-attempt limits from the environment: the documented defaults, overrides, and
// every wrong variable named at once with the rest of the API's configuration.
import { describe, expect, it } from "vitest";
import { readApiConfig } from "../../src/env.js";
import { HttpConfigError } from "../../src/http/config.js";
import {
  defaultPaymentAttemptLimits,
  PAYMENT_ATTEMPT_VARIABLES,
  readPaymentAttemptLimits,
} from "../../src/http/payment-attempt-config.js";

const base = {
  STRIPE_WEBHOOK_SECRET: "whsec_x",
  STRIPE_SECRET_KEY: "sk_test_x",
  SUSU_JWT_SECRET: "s".repeat(32),
};
const MINUTE = 60_000;

describe("payment-attempt limits configuration", () => {
  it("defaults to 10 per person per hour, 5 per card per hour, 20 per email per day, 3 card failures per day", () => {
    expect(readApiConfig(base).paymentAttempts).toEqual({
      perPerson: { max: 10, windowMs: 60 * MINUTE },
      perCard: { max: 5, windowMs: 60 * MINUTE },
      perCustomerEmail: { max: 20, windowMs: 24 * 60 * MINUTE },
      cardFailures: { max: 3, windowMs: 24 * 60 * MINUTE },
    });
    expect(defaultPaymentAttemptLimits()).toEqual(readApiConfig(base).paymentAttempts);
  });

  it("reads overrides; 0 turns a limit off; an empty value is unset", () => {
    const read = readPaymentAttemptLimits({
      SUSU_PAYMENT_ATTEMPTS_PER_PERSON: "0",
      SUSU_PAYMENT_ATTEMPTS_PER_EMAIL: " 7 ",
      SUSU_PAYMENT_ATTEMPTS_PER_EMAIL_WINDOW_MINUTES: "90",
      SUSU_PAYMENT_CARD_FAILURES_MAX: "",
    });
    expect(read).toEqual({
      limits: expect.objectContaining({
        perPerson: { max: 0, windowMs: 60 * MINUTE },
        perCustomerEmail: { max: 7, windowMs: 90 * MINUTE },
        cardFailures: { max: 3, windowMs: 24 * 60 * MINUTE },
      }),
    });
  });

  it("names every wrong variable, together with the API's other problems", () => {
    let error: unknown;
    try {
      readApiConfig({
        ...base,
        PORT: "70000",
        SUSU_PAYMENT_ATTEMPTS_PER_CARD: "-1",
        SUSU_PAYMENT_CARD_FAILURES_WINDOW_MINUTES: "20000",
        SUSU_PAYMENT_ATTEMPTS_PER_PERSON_WINDOW_MINUTES: "an hour",
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(HttpConfigError);
    expect((error as HttpConfigError).problems.map((p) => p.variable).sort()).toEqual(
      [
        "PORT",
        "SUSU_PAYMENT_ATTEMPTS_PER_CARD",
        "SUSU_PAYMENT_ATTEMPTS_PER_PERSON_WINDOW_MINUTES",
        "SUSU_PAYMENT_CARD_FAILURES_WINDOW_MINUTES",
      ].sort(),
    );
    expect(PAYMENT_ATTEMPT_VARIABLES).toHaveLength(8);
  });
});
