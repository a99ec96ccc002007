// The simulation's end-of-run checks: each reads susu's database and the Stripe emulator (through
// the official SDK and its control endpoints) and compares what it finds with what must hold.
// A check never trusts susu's own view of Stripe: the emulator's objects are listed and
// grouped by the metadata susu wrote on them.

/** Every object of a Stripe list, through the SDK's auto-pagination. */
async function all(list) {
  const out = [];
  for await (const item of list) out.push(item);
  return out;
}

const n = (v) => Number(v ?? 0);

/**
 * Runs every check. `expected` is what the run drove: `{ rounds, members, rotations, groups }`
 * for the rounds flow, `{ held }` (payments) for the held flow, `{ charges, sellerPayments }`
 * for marketplace charges. Returns rows `{ check, expected, found, pass }`.
 */
export async function runChecks({ pg, stripe, control, flow = "rounds", expected }) {
  const rows = [];
  const add = (check, want, found, pass = String(want) === String(found)) =>
    rows.push({ check, expected: String(want), found: String(found), pass });
  const q = async (sql, params = []) => (await pg.query(sql, params)).rows;
  if (flow === "marketplace") {
    await ledgerChecks(q, add, {
      check: "in-flight and seller payable accounts not zero",
      patterns: ["marketplace:%:in_flight", "marketplace:%:seller_payable:%"],
    });
    await marketplaceChecks(q, stripe, add, expected);
    return finish(q, control, rows, add);
  }

  const rounds = flow === "rounds";
  // --- the work itself ----------------------------------------------------------------------
  if (rounds) {
    const [{ paid }] = await q(`SELECT count(*) AS paid FROM rounds WHERE state = 'paid_out'`);
    add("rounds paid out", expected.rounds, n(paid));
    const [{ other }] = await q(`SELECT count(*) AS other FROM rounds WHERE state <> 'paid_out'`);
    add("rounds in any other state", 0, n(other));
  } else {
    const [{ released }] = await q(
      `SELECT count(*) AS released FROM held_payments WHERE status = 'released'`,
    );
    add("held payments released", expected.held, n(released));
    const [{ other }] = await q(`SELECT count(*) AS other FROM held_payments WHERE status <> 'released'`);
    add("held payments in any other state", 0, n(other));
  }

  await ledgerChecks(q, add, {
    check: rounds ? "round pots and in-flight accounts not zero" : "holds and seller payables not zero",
    patterns: ["round:%:pot", "round:%:in_flight", "held:%:hold", "held:%:seller_payable"],
  });
  // Money in: what the round debits collected, or what customers paid for held payments.
  const [{ collected }] = rounds
    ? await q(
        `SELECT coalesce(sum(amount_minor), 0) AS collected FROM contribution_attempts WHERE status = 'succeeded'`,
      )
    : await q(
        `SELECT coalesce(sum(amount_minor), 0) AS collected FROM held_payments WHERE status = 'released'`,
      );
  const [{ ledgerPaid }] = await q(`
    SELECT coalesce(sum(CASE WHEN direction = 'debit' THEN amount_minor ELSE -amount_minor END), 0) AS "ledgerPaid"
    FROM ledger_postings WHERE account_id LIKE 'round:%:payouts:%' OR account_id LIKE 'held:%:seller'`);
  if (rounds) add("ledger: paid out = contributions collected (minor)", n(collected), n(ledgerPaid));
  else {
    const [{ net }] = await q(
      `SELECT coalesce(sum(amount_minor - fee_minor), 0) AS net FROM held_payments WHERE status = 'released'`,
    );
    add("ledger: paid to sellers = amounts − fees (minor)", n(net), n(ledgerPaid));
  }

  if (rounds) await roundChecks(q, stripe, add, expected);
  else await heldChecks(q, stripe, add);
  const intents = await all(stripe.paymentIntents.list({ limit: 100 }));
  const transfers = await all(stripe.transfers.list({ limit: 100 }));
  const attemptIds = new Set(
    (await q(`SELECT effect_id FROM contribution_attempts`)).map((r) => r.effect_id),
  );
  const heldIds = new Set((await q(`SELECT id FROM held_payments`)).map((r) => r.id));
  const transferIds = new Set((await q(`SELECT effect_id FROM payout_transfers`)).map((r) => r.effect_id));
  add(
    "PaymentIntents that susu did not ask for",
    0,
    intents.filter(
      (pi) => !attemptIds.has(pi.metadata?.effect_id) && !heldIds.has(pi.metadata?.held_payment_id),
    ).length,
  );
  add(
    "transfers that susu did not ask for",
    0,
    transfers.filter(
      (t) => !transferIds.has(t.metadata?.effect_id) && !heldIds.has(t.metadata?.held_payment_id),
    ).length,
  );

  // --- susu's ledger against the emulator's money -----------------------------------------------
  const succeeded = intents.filter((pi) => pi.status === "succeeded");
  add(
    rounds
      ? "Stripe: succeeded debits (minor) = susu contributions collected"
      : "Stripe: succeeded payments (minor) = held payments' amounts",
    n(collected),
    succeeded.reduce((s, pi) => s + pi.amount, 0),
  );
  const transferred = transfers.reduce((s, t) => s + t.amount - t.amount_reversed, 0);
  add("Stripe: transferred net of reversals (minor) = ledger paid out", n(ledgerPaid), transferred);
  const accounts = await q(`SELECT connected_account_id FROM people WHERE connected_account_id IS NOT NULL`);
  let connected = 0;
  for (const { connected_account_id: account } of accounts) {
    const balance = await stripe.balance.retrieve({}, { stripeAccount: account });
    for (const part of [...balance.available, ...balance.pending]) connected += part.amount;
  }
  add("Stripe: connected accounts' balances (minor) = ledger paid out", n(ledgerPaid), connected);
  return finish(q, control, rows, add);
}

/**
 * The ledger, whatever the flow: every transaction balances in each currency, debits equal
 * credits per currency, every account's balance is the sum of its postings, and the accounts
 * matching `mustBeZero.patterns` (SQL LIKE patterns: money on its way) are all zero.
 */
async function ledgerChecks(q, add, mustBeZero) {
  const unbalanced = await q(`
    SELECT transaction_id, currency FROM ledger_postings
    GROUP BY transaction_id, currency
    HAVING sum(CASE WHEN direction = 'debit' THEN amount_minor ELSE -amount_minor END) <> 0`);
  add("ledger transactions unbalanced", 0, unbalanced.length);
  const perCurrency = await q(`
    SELECT currency,
           sum(CASE WHEN direction = 'debit' THEN amount_minor ELSE 0 END) AS debits,
           sum(CASE WHEN direction = 'credit' THEN amount_minor ELSE 0 END) AS credits
    FROM ledger_postings GROUP BY currency ORDER BY currency`);
  for (const c of perCurrency)
    add(`ledger ${c.currency.trim()} debits − credits`, 0, n(c.debits) - n(c.credits));
  if (perCurrency.length === 0) add("ledger has postings", "yes", "no", false);
  const drift = await q(`
    SELECT a.id, a.currency FROM ledger_accounts a
    LEFT JOIN ledger_postings p ON p.account_id = a.id AND p.currency = a.currency
    GROUP BY a.id, a.currency, a.balance_minor
    HAVING a.balance_minor <> coalesce(sum(CASE WHEN p.direction = 'debit' THEN p.amount_minor ELSE -p.amount_minor END), 0)`);
  add("ledger accounts whose balance ≠ their postings", 0, drift.length);
  const [{ open }] = await q(
    `SELECT count(*) AS open FROM ledger_accounts WHERE id LIKE ANY($1) AND balance_minor <> 0`,
    [mustBeZero.patterns],
  );
  add(mustBeZero.check, 0, n(open));
}

/** Rounds: nobody paid twice; one PaymentIntent per debit attempt, one transfer per contribution charge. */
async function roundChecks(q, stripe, add, expected) {
  const twice = await q(`
    SELECT group_id, rotation, recipient_member_id FROM rounds WHERE state = 'paid_out'
    GROUP BY group_id, rotation, recipient_member_id HAVING count(*) > 1`);
  add("members paid twice in a rotation", 0, twice.length);
  const [{ slots }] = await q(`
    SELECT count(*) AS slots FROM (
      SELECT DISTINCT group_id, rotation, recipient_member_id FROM rounds WHERE state = 'paid_out') s`);
  add("(member, rotation) pairs paid", expected.groups * expected.members * expected.rotations, n(slots));

  // --- Stripe's side, listed through the SDK ---------------------------------------------------
  const attempts = await q(
    `SELECT effect_id, stripe_payment_intent_id, amount_minor FROM contribution_attempts`,
  );
  const intents = await all(stripe.paymentIntents.list({ limit: 100 }));
  const intentsByEffect = groupBy(intents, (pi) => pi.metadata?.effect_id);
  add("debit attempts (susu)", expected.rounds * expected.members, attempts.length);
  add(
    "PaymentIntents at Stripe for susu's debit attempts",
    attempts.length,
    attempts.filter((a) => intentsByEffect.has(a.effect_id)).length,
  );
  add(
    "debit attempts with more than one PaymentIntent",
    0,
    [...intentsByEffect.values()].filter((list) => list.length > 1).length,
  );
  const transfersDb = await q(`SELECT effect_id, amount_minor, status FROM payout_transfers`);
  const transfers = await all(stripe.transfers.list({ limit: 100 }));
  const transfersByEffect = groupBy(transfers, (t) => t.metadata?.effect_id);
  add("payout transfers (susu)", expected.rounds * expected.members, transfersDb.length);
  add(
    "transfers at Stripe for susu's payout transfers",
    transfersDb.length,
    transfersDb.filter((t) => transfersByEffect.has(t.effect_id)).length,
  );
  add(
    "contribution charges with more than one transfer",
    0,
    [...transfersByEffect.values()].filter((list) => list.length > 1).length,
  );
}

/** Held payments: one PaymentIntent per payment, one transfer per released payment. */
async function heldChecks(q, stripe, add) {
  const payments = await q(`SELECT id, payment_intent_id, status FROM held_payments`);
  const intents = groupBy(
    await all(stripe.paymentIntents.list({ limit: 100 })),
    (pi) => pi.metadata?.held_payment_id,
  );
  const transfers = groupBy(
    await all(stripe.transfers.list({ limit: 100 })),
    (t) => t.metadata?.held_payment_id,
  );
  add(
    "held payments whose PaymentIntent is at Stripe",
    payments.length,
    payments.filter((p) => (intents.get(p.id) ?? []).some((pi) => pi.id === p.payment_intent_id)).length,
  );
  add(
    "held payments with more than one PaymentIntent",
    0,
    [...intents.values()].filter((l) => l.length > 1).length,
  );
  const released = payments.filter((p) => p.status === "released");
  add(
    "released payments with one transfer at Stripe",
    released.length,
    released.filter((p) => transfers.get(p.id)?.length === 1).length,
  );
  add(
    "held payments with more than one transfer",
    0,
    [...transfers.values()].filter((l) => l.length > 1).length,
  );
}

/**
 * Marketplace charges: each settled (or refunded whole) with its refunds done; one
 * PaymentIntent per charge; one transfer per (charge, seller) — Stripe's own for a
 * destination charge, susu's for each share of a split — and none susu did not cause; and
 * the money at Stripe (captured, refunded, in the sellers' connected accounts) equal to the
 * ledger's.
 */
async function marketplaceChecks(q, stripe, add, expected) {
  const charges = await q(
    `SELECT id, status, payment_intent_id, transfer_group,
            (SELECT count(*) FROM jsonb_array_elements(snapshot -> 'refunds') r) AS refunds,
            (SELECT count(*) FROM jsonb_array_elements(snapshot -> 'refunds') r
              WHERE r ->> 'status' = 'succeeded') AS refunds_succeeded
     FROM marketplace_charges`,
  );
  add("marketplace charges (susu)", expected.charges, charges.length);
  add(
    "charges settled or refunded whole",
    expected.charges,
    charges.filter((c) => c.status === "settled" || c.status === "refunded").length,
  );
  const refunds = charges.reduce((s, c) => s + n(c.refunds), 0);
  add(
    "refunds succeeded (of those asked for)",
    refunds,
    charges.reduce((s, c) => s + n(c.refunds_succeeded), 0),
  );
  if (refunds === 0) add("refunds asked for", "some", "none", false);
  // A reversal the seller's balance did not cover opens a ticket; the run's operator retries
  // it once the balance covers it and resolves the ticket.
  const [{ open }] = await q(
    `SELECT count(*) AS open FROM support_tickets WHERE kind = 'reversal_failed' AND status = 'open'`,
  );
  add("reversal_failed tickets still open", 0, n(open));

  const chargeIds = new Set(charges.map((c) => c.id));
  const intents = await all(stripe.paymentIntents.list({ limit: 100 }));
  const intentsOf = groupBy(intents, (pi) => pi.metadata?.marketplace_charge_id);
  add(
    "charges whose PaymentIntent is at Stripe",
    charges.length,
    charges.filter((c) => (intentsOf.get(c.id) ?? []).some((pi) => pi.id === c.payment_intent_id)).length,
  );
  add(
    "charges with more than one PaymentIntent",
    0,
    [...intentsOf.values()].filter((l) => l.length > 1).length,
  );
  add(
    "PaymentIntents that susu did not ask for",
    0,
    intents.filter((pi) => !chargeIds.has(pi.metadata?.marketplace_charge_id)).length,
  );

  const transfers = await all(stripe.transfers.list({ limit: 100 }));
  const transfersOf = groupBy(transfers, (t) => `${t.transfer_group} ${t.destination}`);
  const shares = await q(
    `SELECT c.transfer_group, s.connected_account_id FROM marketplace_charge_sellers s
     JOIN marketplace_charges c ON c.id = s.charge_id`,
  );
  const paidTimes = shares.map(
    (s) => (transfersOf.get(`${s.transfer_group} ${s.connected_account_id}`) ?? []).length,
  );
  add("(charge, seller) shares (susu)", expected.sellerPayments, shares.length);
  add("shares with one transfer at Stripe", shares.length, paidTimes.filter((k) => k === 1).length);
  add("shares with more than one transfer", 0, paidTimes.filter((k) => k > 1).length);
  const shareKeys = new Set(shares.map((s) => `${s.transfer_group} ${s.connected_account_id}`));
  add(
    "transfers at Stripe that pay no share (susu did not ask for)",
    0,
    transfers.filter((t) => !shareKeys.has(`${t.transfer_group} ${t.destination}`)).length,
  );
  add("transfers at Stripe = shares", shares.length, transfers.length);

  // --- susu's ledger against the emulator's money -----------------------------------------------
  const ledger = async (pattern) =>
    n(
      (
        await q(`SELECT coalesce(sum(balance_minor), 0) AS total FROM ledger_accounts WHERE id LIKE $1`, [
          pattern,
        ])
      )[0].total,
    );
  const succeeded = intents.filter(
    (pi) => pi.status === "succeeded" && chargeIds.has(pi.metadata?.marketplace_charge_id),
  );
  add(
    "Stripe: captured (minor) = ledger paid in",
    -(await ledger("marketplace:%:paid_in")),
    succeeded.reduce((s, pi) => s + pi.amount_received, 0),
  );
  let refunded = 0;
  let refundsDiffer = 0;
  const refundsInLedger = new Map(
    (await q(`SELECT id, balance_minor FROM ledger_accounts WHERE id LIKE 'marketplace:%:refunds'`)).map(
      (a) => [a.id, n(a.balance_minor)],
    ),
  );
  for (const pi of succeeded) {
    const charge = await stripe.charges.retrieve(pi.latest_charge);
    refunded += charge.amount_refunded;
    const chargeId = pi.metadata?.marketplace_charge_id;
    const inLedger = refundsInLedger.get(`marketplace:${chargeId}:refunds`) ?? 0;
    if (charge.amount_refunded !== inLedger) {
      refundsDiffer += 1;
      // What differs, for whoever reads the run's output.
      const [row] = await q(
        `SELECT snapshot -> 'refunds' AS refunds FROM marketplace_charges WHERE id = $1`,
        [chargeId],
      );
      const atStripe = await all(stripe.refunds.list({ charge: charge.id, limit: 100 }));
      console.error(
        `[sim] ${chargeId}: refunded ${charge.amount_refunded} at Stripe, ${inLedger} in the ledger; Stripe's refunds ${JSON.stringify(
          atStripe.map((r) => ({ id: r.id, amount: r.amount, status: r.status, metadata: r.metadata })),
        )}; susu's ${JSON.stringify(row?.refunds)}`,
      );
    }
  }
  add("Stripe: refunded (minor) = ledger refunds", await ledger("marketplace:%:refunds"), refunded);
  add("charges whose refunds at Stripe ≠ the ledger's", 0, refundsDiffer);
  // Per seller: what the ledger says they were paid (their `seller:<s>` accounts across the
  // charges) against their connected account's balance at Stripe.
  const paidTo = new Map();
  for (const a of await q(
    `SELECT id, balance_minor FROM ledger_accounts WHERE id LIKE 'marketplace:%:seller:%'`,
  )) {
    const seller = a.id.slice(a.id.lastIndexOf(":seller:") + ":seller:".length);
    paidTo.set(seller, (paidTo.get(seller) ?? 0) + n(a.balance_minor));
  }
  const sellers = await q(
    `SELECT DISTINCT seller_person_id, connected_account_id FROM marketplace_charge_sellers`,
  );
  let paid = 0;
  let connected = 0;
  let differ = 0;
  for (const { seller_person_id: seller, connected_account_id: account } of sellers) {
    const balance = await stripe.balance.retrieve({}, { stripeAccount: account });
    const atStripe = [...balance.available, ...balance.pending].reduce((sum, part) => sum + part.amount, 0);
    const inLedger = paidTo.get(seller) ?? 0;
    paid += inLedger;
    connected += atStripe;
    if (atStripe !== inLedger) differ += 1;
  }
  add("Stripe: sellers' connected balances (minor) = ledger paid to sellers", paid, connected);
  add("sellers whose connected balance ≠ what the ledger paid them", 0, differ);
}

/** Webhooks and the outbox, whatever the flow; then the rows and the run's figures. */
async function finish(q, control, rows, add) {
  // --- webhooks -----------------------------------------------------------------------------------
  const deliveries = await control.webhookDeliveries();
  const delivered = new Set(deliveries.filter((d) => d.state === "succeeded").map((d) => d.eventId));
  const notDelivered = new Set(
    deliveries.filter((d) => d.state !== "succeeded" && !delivered.has(d.eventId)).map((d) => d.eventId),
  );
  add("events the emulator could not deliver", 0, notDelivered.size);
  const inbox = await q(`SELECT id, status FROM webhook_events`);
  const byStatus = (s) => inbox.filter((r) => r.status === s).length;
  const accounted = byStatus("processed") + byStatus("ignored") + byStatus("parked");
  add("events delivered = inbox processed + ignored + parked", delivered.size, accounted);
  const inboxIds = new Set(inbox.map((r) => r.id));
  add("delivered events missing from the inbox", 0, [...delivered].filter((id) => !inboxIds.has(id)).length);
  add("inbox events still pending (received or failed)", 0, byStatus("received") + byStatus("failed"));
  add("inbox events parked", 0, byStatus("parked"));

  // --- the outbox ---------------------------------------------------------------------------------
  const [{ pending, parked }] = await q(`
    SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
           count(*) FILTER (WHERE status = 'parked') AS parked FROM outbox_effects`);
  add("outbox effects still pending", 0, n(pending));
  add("outbox effects parked", 0, n(parked));

  // Timers susu's aggregates set (pg-boss jobs) that ran: collection deadlines and the like,
  // reached by the run's clock (a figure, not a check: how many depends on the nudges).
  const [{ timers }] = await q(
    `SELECT count(*) AS timers FROM pgboss.job WHERE name = 'round-timer' AND state = 'completed'`,
  );

  return {
    rows,
    stats: {
      timersRun: n(timers),
      events: delivered.size,
      deliveries: deliveries.length,
      duplicateDeliveries: deliveries.filter((d) => d.duplicate).length,
      lateDeliveries: deliveries.filter((d) => d.lateUntilMs !== null).length,
      failedAttempts: deliveries.reduce((s, d) => s + d.attempts.filter((a) => a.status !== 200).length, 0),
      inboxIgnored: byStatus("ignored"),
    },
  };
}

function groupBy(items, key) {
  const out = new Map();
  for (const item of items) {
    const k = key(item);
    if (k === undefined) continue;
    out.set(k, [...(out.get(k) ?? []), item]);
  }
  return out;
}

/** The checks as a fixed-width table. */
export function formatTable(rows) {
  const head = ["check", "expected", "found", "result"];
  const lines = rows.map((r) => [r.check, r.expected, r.found, r.pass ? "pass" : "FAIL"]);
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const fmt = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ");
  return [fmt(head), widths.map((w) => "-".repeat(w)).join("  "), ...lines.map(fmt)].join("\n");
}
