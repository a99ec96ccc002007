/**
 * Waits for `promise` at most `ms` (a rejection counts as settled); never rejects. The timer
 * does not keep the process alive, and is cleared as soon as `promise` settles.
 */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, Math.max(0, ms));
    timer.unref();
  });
  await Promise.race([promise.then(noop, noop), late]);
  clearTimeout(timer);
}

function noop(): void {}
