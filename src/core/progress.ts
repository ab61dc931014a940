import cliProgress from 'cli-progress';

/** Reports progress of long work: a bar on a terminal, a plain line every 10% otherwise. */
export interface Progress {
  update(done: number): void;
  stop(): void;
}

export function progressBar(label: string, total: number, unit: 'bytes' | 'items' = 'items'): Progress {
  const stream = process.stderr;
  const fmt = (n: number) => (unit === 'bytes' ? `${(n / 1024 ** 2).toFixed(1)} MB` : String(n));
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {done}/{all} eta {eta}s`, hideCursor: true, stream },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total || 1, 0, { done: fmt(0), all: total ? fmt(total) : '?' });
    return {
      update: (done) => bar.update(done, { done: fmt(done), all: total ? fmt(total) : '?' }),
      stop: () => bar.stop(),
    };
  }
  let shown = -1;
  return {
    update(done) {
      const tenth = total ? Math.floor((10 * done) / total) : -1;
      if (tenth > shown) {
        shown = tenth;
        stream.write(`${label}: ${fmt(done)}${total ? ` of ${fmt(total)} (${tenth * 10}%)` : ''}\n`);
      }
    },
    stop() {},
  };
}
