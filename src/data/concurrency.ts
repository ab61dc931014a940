/** Runs at most `n` tasks at once; the rest wait their turn in order. */
export function limiter(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  if (!(Number.isInteger(n) && n >= 1)) throw new Error(`fastvision internal: concurrency must be a whole number ≥ 1, got ${String(n)}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  return async (task) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await task();
    } finally {
      release();
    }
  };
}

/** `fn` over `items` with at most `n` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const limit = limiter(n);
  return Promise.all(items.map((item, i) => limit(() => fn(item, i))));
}
