/**
 * Structured JSON logs, one object per line: `{"time", "level", "event", ...}`.
 * Events are stable names (`server_started`, `request_failed`, ...); fields
 * never carry secrets.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, event: string, fields?: Record<string, unknown>): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function jsonLogger(
  out: { write(text: string): unknown },
  options: { level?: LogLevel; now?: () => number } = {},
): Logger {
  const min = ORDER[options.level ?? 'info'];
  const now = options.now ?? (() => Date.now());
  return {
    log(level, event, fields = {}) {
      if (ORDER[level] < min) return;
      out.write(JSON.stringify({ time: new Date(now()).toISOString(), level, event, ...fields }) + '\n');
    },
  };
}

export const silentLogger: Logger = { log() {} };

/**
 * Whether the `count`-th failure in a row is logged: the 1st, 10th, 100th…,
 * so that a failure repeated on every write (a full disk) is told without
 * flooding the log as well.
 */
export function isLoggedFailure(count: number): boolean {
  return /^10*$/.test(String(count));
}
