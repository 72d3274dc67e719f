/**
 * The redrive's progress. On a terminal: one line rewritten in place (records sent / total, rate, ETA), cleared
 * before any line that stays and drawn again after it. Elsewhere (a pipe, a CI log): one line per invocation, as
 * before, so a log keeps what was sent where.
 */

/** What progress is drawn on: process.stderr, or a fake in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(chunk: string): unknown;
}

export interface Progress {
  /** The records to send, once they are known (read again, or carried). */
  setTotal(total: number): void;
  /** A line that stays: a problem, a deletion, a summary of a source. */
  line(text: string): void;
  /** An invocation's records were sent (whatever the answer): `text` is its line when not on a terminal. */
  sent(records: number, text?: string): void;
  /** Clears the progress line, if any. */
  end(): void;
}

const CLEAR = '\r\x1b[K';

/** "1:05", "1:02:03". */
export function duration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

/** The progress line: "redrive: 120/500 records (24%), 40.0 records/s, ETA 0:10". */
export function progressText(sent: number, total: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? (sent * 1000) / elapsedMs : 0;
  const pct = total ? Math.floor((sent * 100) / total) : 100;
  const eta = rate > 0 && total > sent ? `, ETA ${duration((total - sent) / rate)}` : '';
  return `redrive: ${sent}/${total} records (${pct}%), ${rate.toFixed(1)} records/s${eta}`;
}

/**
 * Progress on `tty` when it is a terminal; otherwise every line (and each invocation's) goes to `err`.
 * `now` is for tests.
 */
export function createProgress(o: { tty?: ProgressStream; err: (line: string) => void; now?: () => number }): Progress {
  const now = o.now ?? Date.now;
  const tty = o.tty?.isTTY ? o.tty : undefined;
  // The rate counts from when the sending starts (setTotal), not from the reading before it.
  let start: number | undefined;
  let total = 0;
  let sent = 0;
  let drawn = false;
  const draw = () => {
    if (!tty || start === undefined) return;
    const text = progressText(sent, total, now() - start);
    const width = tty.columns && tty.columns > 1 ? tty.columns - 1 : text.length;
    tty.write(`${CLEAR}${text.slice(0, width)}`);
    drawn = true;
  };
  const clear = () => {
    if (drawn) tty!.write(CLEAR);
    drawn = false;
  };
  return {
    setTotal(n) {
      total = n;
      start ??= now();
      draw();
    },
    line(text) {
      clear();
      o.err(text);
      draw();
    },
    sent(records, text) {
      sent += records;
      if (tty) draw();
      else if (text) o.err(text);
    },
    end() {
      clear();
    },
  };
}
