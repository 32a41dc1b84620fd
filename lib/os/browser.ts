/** What became of asking for a URL to be opened in a browser. */
export type OpenOutcome = { opened: true; opener: string } | { opened: false; opener?: string; reason: string };

/** How long an opener has to fail before it is taken to have handed the URL on (xdg-open returns at once). */
const OPENER_GRACE_MS = 2_000;

/**
 * Opens `url` with `$BROWSER` when set, else the platform's opener (`open` on macOS,
 * `xdg-open` elsewhere). Never throws: a missing opener, or one that fails at once (xdg-open on a
 * machine with no browser), is an outcome the caller reports.
 */
export function openInBrowser(url: string, env: NodeJS.ProcessEnv = process.env): Promise<OpenOutcome> {
  const opener = env.BROWSER?.split(':')[0]?.trim() || (process.platform === 'darwin' ? 'open' : 'xdg-open');
  const { spawn } = require('child_process') as typeof import('child_process');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: OpenOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const child = spawn(opener, [url], { stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      child.unref();
      finish({ opened: true, opener });
    }, OPENER_GRACE_MS);
    child.once('error', (err: NodeJS.ErrnoException) =>
      finish({ opened: false, opener, reason: err.code === 'ENOENT' ? `${opener} is not installed` : `${opener} could not start: ${err.message}` }),
    );
    child.once('exit', (code, signal) => {
      if (code === 0) finish({ opened: true, opener });
      else finish({ opened: false, opener, reason: `${opener} failed (${signal ?? `exit status ${code}`})` });
    });
  });
}
