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
  const fromEnv = env.BROWSER === undefined ? null : browserCommand(env.BROWSER, url);
  const command = fromEnv ?? [process.platform === 'darwin' ? 'open' : 'xdg-open', url];
  const opener = command[0] as string;
  const args = command.slice(1);
  const { spawn } = require('child_process') as typeof import('child_process');
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: OpenOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(outcome);
    };
    const child = spawn(opener, args, { stdio: 'ignore', detached: true });
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

/**
 * `$BROWSER` as the convention has it (sensible-browser, Python's webbrowser): a `:`-separated list
 * of commands, of which the first is used; a command may have arguments (`firefox --new-tab`,
 * quoted words kept whole) and `%s` where the URL goes (`%%` is a `%`); without `%s` the URL is
 * the last argument. Run without a shell, so nothing in it is expanded. Null when it names no
 * command.
 */
export function browserCommand(browser: string, url: string): string[] | null {
  const entry = browser.split(':')[0] ?? '';
  const words: string[] = [];
  for (const m of entry.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)) words.push(m[1] ?? m[2] ?? m[3] ?? '');
  if (words.length === 0 || words[0] === '') return null;
  let placed = false;
  const argv = words.map((word) =>
    word.replace(/%[s%]/g, (token) => {
      if (token === '%%') return '%';
      placed = true;
      return url;
    }),
  );
  return placed ? argv : [...argv, url];
}
