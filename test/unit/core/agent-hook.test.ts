import { findServerCommand, instanceName, planServerRewrite, type RewriteFacts } from '../../../lib/core/agent-hook';
import { readShellLine } from '../../../lib/core/shell-line';

const SCRIPTS = {
  dev: 'vite',
  start: 'node server.js',
  serve: 'vite preview',
  preview: 'vite preview --port 4173',
  storybook: 'storybook dev',
  build: 'vite build',
  web: 'next dev',
  test: 'vitest',
  lint: 'eslint .',
  docs: 'docusaurus start',
};

const FACTS: RewriteFacts = { scripts: SCRIPTS, relativeDir: '', styxy: 'styxy', session: 'claude-code:s1' };

/** The rewritten line for `line`, or null when the hook leaves it alone. */
function rewrite(line: string, facts: Partial<RewriteFacts> = {}): string | null {
  const found = findServerCommand(line);
  if (found.kind !== 'found') return null;
  return planServerRewrite(line, found.server, { ...FACTS, ...facts })?.line ?? null;
}

const S = 'STYXY_SESSION=claude-code:s1 styxy start';

describe('the hook rewrites a server start, and only that', () => {
  test.each<[string, string]>([
    ['npm run dev', `${S} -s dev -n dev -- npm run dev`],
    ['npm start', `${S} -s dev -n start -- npm start`],
    ['npm run start', `${S} -s dev -n start -- npm run start`],
    ['pnpm dev', `${S} -s dev -n dev -- pnpm dev`],
    ['pnpm run dev', `${S} -s dev -n dev -- pnpm run dev`],
    ['yarn dev', `${S} -s dev -n dev -- yarn dev`],
    ['yarn storybook', `${S} -s storybook -n storybook -- yarn storybook`],
    ['bun run dev', `${S} -s dev -n dev -- bun run dev`],
    ['npm run serve', `${S} -s dev -n serve -- npm run serve`],
    ['npm run web', `${S} -s dev -n web -- npm run web`],
    ['npm run docs', `${S} -s docs -n docs -- npm run docs`],
    ['npm run dev -- --host', `${S} -s dev -n dev -- npm run dev -- --host`],
    ['npx vite', `${S} -s dev -n vite -- npx vite`],
    ['vite', `${S} -s dev -n vite -- vite`],
    ['npx next dev', `${S} -s dev -n next -- npx next dev`],
    ['next dev', `${S} -s dev -n next -- next dev`],
    ['astro dev', `${S} -s dev -n astro -- astro dev`],
    ['nuxt dev', `${S} -s dev -n nuxt -- nuxt dev`],
    ['python -m http.server', `${S} -s dev -n http.server -- python -m http.server`],
    ['python3 -m http.server --bind 127.0.0.1', `${S} -s dev -n http.server -- python3 -m http.server --bind 127.0.0.1`],
    // A variable as an option's value is the option's (the bind address), not the port.
    ['python3 -m http.server -b $HOST', `${S} -s dev -n http.server -- python3 -m http.server -b $HOST`],
    ['uvicorn app:app --reload', `${S} -s api -n uvicorn -- uvicorn app:app --reload`],
    ['flask run', `${S} -s api -n flask -- flask run`],
    ['flask --app hello run', `${S} -s api -n flask -- flask --app hello run`],
    ['rails s', `${S} -s api -n rails -- rails s`],
    ['bin/rails server', `${S} -s api -n rails -- bin/rails server`],
    ['python manage.py runserver', `${S} -s api -n manage -- python manage.py runserver`],
    ['wrangler dev', `${S} -s functions -n wrangler -- wrangler dev`],
    ['npx wrangler dev', `${S} -s functions -n wrangler -- npx wrangler dev`],
    ['npx expo start', `${S} -s dev -n expo --port-flag --port -- npx expo start`],
    ['npx storybook dev', `${S} -s storybook -n storybook -- npx storybook dev`],
    // Compound lines: the rest stays byte for byte.
    ['cd web && npm run dev', `cd web && ${S} -s dev -n dev -- npm run dev`],
    ['npm install && npm run dev', `npm install && ${S} -s dev -n dev -- npm run dev`],
    ['npm run build && npm start', `npm run build && ${S} -s dev -n start -- npm start`],
    ['npm run dev &', `${S} -s dev -n dev -- npm run dev`],
    // Redirections stay with the server in `sh -c`; start cannot see a dev server through it, so
    // the port flag goes inside ({port} is replaced by start), where the tool needs one.
    ['npm run dev > dev.log 2>&1 &', `${S} -s dev -n dev -- sh -c 'exec npm run dev -- --port {port} --strictPort > dev.log 2>&1'`],
    ['nohup npm run dev > dev.log 2>&1 &', `${S} -s dev -n dev -- sh -c 'exec npm run dev -- --port {port} --strictPort > dev.log 2>&1'`],
    ['npm start > app.log 2>&1 &', `${S} -s dev -n start -- sh -c 'exec npm start > app.log 2>&1'`],
    ['python3 -m http.server > h.log 2>&1 &', `${S} -s dev -n http.server -- sh -c 'exec python3 -m http.server {port} > h.log 2>&1'`],
    ['npx expo start > e.log &', `${S} -s dev -n expo -- sh -c 'exec npx expo start --port {port} > e.log'`],
    [
      'nohup npx vite >/tmp/v.log 2>&1 & sleep 3; curl -s localhost:5173',
      `${S} -s dev -n vite -- sh -c 'exec npx vite --port {port} --strictPort >/tmp/v.log 2>&1'; sleep 3; curl -s localhost:5173`,
    ],
    // bash's &> and &>> become what sh reads the same way (dash reads `&>f` as `&` then `>f`).
    ['npm start &> app.log &', `${S} -s dev -n start -- sh -c 'exec npm start >app.log 2>&1'`],
    ['npm start &>>app.log', `${S} -s dev -n start -- sh -c 'exec npm start >>app.log 2>&1'`],
    // A disown after the `&` goes with it: with nothing in the background it would fail the line.
    ['npm start > app.log 2>&1 & disown', `${S} -s dev -n start -- sh -c 'exec npm start > app.log 2>&1'`],
    ['npm start & disown -h %1; echo ok', `${S} -s dev -n start -- npm start; echo ok`],
    ['npm start & disown && curl -s localhost:3000', `${S} -s dev -n start -- npm start && curl -s localhost:3000`],
    // A PORT set after the server is not the server's.
    ['npm run dev; export PORT=4000', `${S} -s dev -n dev -- npm run dev; export PORT=4000`],
    ['export NODE_ENV=development && npm run dev', `export NODE_ENV=development && ${S} -s dev -n dev -- npm run dev`],
    ['NODE_ENV=development npm run dev', `NODE_ENV=development ${S} -s dev -n dev -- npm run dev`],
    ['npm run dev  # the web app', `${S} -s dev -n dev -- npm run dev  # the web app`],
    ['cd "my app" && npm run dev', `cd "my app" && ${S} -s dev -n dev -- npm run dev`],
    ['npm run dev\n', `${S} -s dev -n dev -- npm run dev\n`],
  ])('%j', (line, expected) => {
    expect(rewrite(line)).toBe(expected);
  });

  test.each<[string, string]>([
    // Nothing that starts a server.
    ['ls -la', 'no-server'],
    ['npm install', 'no-server'],
    ['npm test', 'no-server'],
    ['npm run build', 'no-server'],
    ['npm run lint', 'no-server'],
    ['vite build', 'no-server'],
    ['npx vitest run', 'no-server'],
    ['git commit -m "npm run dev"', 'no-server'],
    ['echo npm run dev', 'no-server'],
    ['grep -r vite src', 'no-server'],
    ['cat package.json', 'no-server'],
    ['pnpm install', 'no-server'],
    ['yarn add vite', 'no-server'],
    ['bun server.ts', 'no-server'],
    ['styxy start -s dev -- npm run dev', 'no-server'],
    ['timeout 10 npm run dev', 'no-server'],
    // Help and version: printed at once, nothing served.
    ['npx vite --help', 'no-server'],
    ['vite -v', 'no-server'],
    ['npm run dev -- --help', 'no-server'],
    ['npm start --help', 'no-server'],
    ['python3 -m http.server -h', 'no-server'],
    ['next dev --version', 'no-server'],
    ['uvicorn --help', 'no-server'],
    // A port the command names itself: the agent means that port.
    ['PORT=4000 npm run dev', 'port-given'],
    ['export PORT=4000 && npm run dev', 'port-given'],
    ['export HOST=0.0.0.0 PORT=4000; cd web && npm run dev', 'port-given'],
    ['PORT=4000; export PORT; npm run dev', 'port-given'],
    ['npx vite --port 4000', 'port-given'],
    ['vite --port=4000', 'port-given'],
    ['python3 -m http.server 8000', 'port-given'],
    ['npm run dev -- --port 4000', 'port-given'],
    ['next dev -p 3005', 'port-given'],
    ['uvicorn app:app --port 9000', 'port-given'],
    ['python manage.py runserver 8001', 'port-given'],
    // The forms `run` itself reads as a port (one reader for both): an address with its port.
    ['python manage.py runserver [::1]:8001', 'port-given'],
    ['python manage.py runserver 0:8001', 'port-given'],
    // Shell this reader does not follow with certainty.
    ['$(npm bin)/vite', 'unreadable'],
    ['(cd web && npm run dev)', 'unreadable'],
    ['{ npm run dev; }', 'unreadable'],
    ['if true; then npm run dev; fi', 'unreadable'],
    ['npm run dev <<EOF\nx\nEOF', 'unreadable'],
    ['npm run dev "unclosed', 'unreadable'],
    ['echo `vite`', 'unreadable'],
    // A pipe: the output goes somewhere the agent chose.
    ['npm run dev | tee dev.log', 'pipeline'],
    // Two servers in one line.
    ['npm run dev & npx storybook dev', 'several-servers'],
    // A directory the hook cannot know.
    ['cd $WEB && npm run dev', 'directory-unknown'],
    ['cd - && npm run dev', 'directory-unknown'],
    // Opted out.
    ['STYXY_HOOK=off npm run dev', 'opted-out'],
    ['npm run dev # styxy:off', 'opted-out'],
    ['npm --prefix web run dev', 'no-server'],
    ['pnpm --filter web dev', 'no-server'],
    // npm's own options after the script's name: another package's script, or every package's.
    ['npm run dev -w web', 'no-server'],
    ['npm run dev --workspace=web', 'no-server'],
    ['npm run dev --workspaces', 'no-server'],
    ['npm run dev --prefix web', 'no-server'],
    ['npm start --prefix web', 'no-server'],
  ])('left alone: %j (%s)', (line, reason) => {
    const found = findServerCommand(line);
    expect(found).toEqual({ kind: 'leave', reason });
  });

  test.each<[string, Partial<RewriteFacts>]>([
    // The script is not in package.json (npm would fail as it is), or there is no package.json.
    ['npm run dev', { scripts: {} }],
    ['npm run dev', { scripts: null }],
    // The script names its own port.
    ['npm run preview', {}],
    ['npm run dev', { scripts: { dev: 'vite --port 5173 --strictPort' } }],
    ['npm run dev', { scripts: { dev: 'PORT=4000 node server.js' } }],
    // A script of another name that runs no known server.
    ['npm run watch', { scripts: { watch: 'tsc -w' } }],
    // A dev or start script that only builds or watches: it would be ended for never listening.
    ['npm run dev', { scripts: { dev: 'tsup --watch' } }],
    ['npm run dev', { scripts: { dev: 'vite build --watch' } }],
    ['npm start', { scripts: { start: 'tsc -w' } }],
    ['pnpm dev', { scripts: { dev: 'rm -rf dist && npx tsc --watch' } }],
    // Redirected into `sh -c`, which sees only exported variables: a value from the agent's shell stays there.
    ['npm run dev > $LOG 2>&1 &', {}],
    ['npm run dev -- --host $HOST > dev.log &', {}],
  ])('found but left alone once package.json is read: %j %j', (line, facts) => {
    expect(findServerCommand(line).kind).toBe('found');
    expect(rewrite(line, facts)).toBeNull();
  });

  test('the folder below the project root names the instance, the cd steps are reported, and no session means no --session', () => {
    const found = findServerCommand('cd apps/web && npm run dev');
    expect(found.kind === 'found' && found.server.cd).toEqual(['apps/web']);
    expect(rewrite('cd apps/web && npm run dev', { relativeDir: 'apps/web', session: undefined, styxy: "'/opt/styxy/bin/styxy'" })).toBe(
      "cd apps/web && '/opt/styxy/bin/styxy' start -s dev -n apps-web-dev -- npm run dev",
    );
  });

  test('a script that runs a watcher beside a server, or a tool not known either way, is still a server', () => {
    expect(rewrite('npm run dev', { scripts: { dev: 'tsc -w & vite' } })).toBe(`${S} -s dev -n dev -- npm run dev`);
    expect(rewrite('npm run dev', { scripts: { dev: 'nodemon server.js' } })).toBe(`${S} -s dev -n dev -- npm run dev`);
  });

  test('the per-command opt-out and the session are quoted as shell words', () => {
    expect(rewrite('npm run dev', { session: "claude-code:a b'c" })).toBe(`STYXY_SESSION='claude-code:a b'\\''c' styxy start -s dev -n dev -- npm run dev`);
  });
});

describe('instanceName', () => {
  test.each<[string, string, string]>([
    ['', 'dev', 'dev'],
    ['web', 'dev', 'web-dev'],
    ['apps/web', 'dev:web', 'apps-web-dev-web'],
    ['.', 'start', 'start'],
    ['-x', 'dev', 'x-dev'],
    ['a'.repeat(80), 'dev', `${'a'.repeat(59)}-dev`],
    ['', '@@@', 'server'],
  ])('%j + %j → %j', (dir, name, expected) => {
    expect(instanceName(dir, name)).toBe(expected);
  });
});

describe('readShellLine', () => {
  test('splits simple commands at the operators, keeps where each word stands', () => {
    const line = `cd 'a b' && FOO=1 npm run dev >log 2>&1 & echo "x y" | cat; true`;
    const parsed = readShellLine(line)!;
    expect(parsed.commands.map((c) => c.words.map((w) => w.value))).toEqual([
      ['cd', 'a b'],
      ['FOO=1', 'npm', 'run', 'dev'],
      ['echo', 'x y'],
      ['cat'],
      ['true'],
    ]);
    expect(parsed.commands.map((c) => c.after?.op ?? null)).toEqual(['&&', '&', '|', ';', null]);
    expect(parsed.commands[1]!.redirects.map((r) => line.slice(r.start, r.end))).toEqual(['>log', '2>&1']);
    expect(parsed.commands.map((c) => line.slice(c.start, c.end))).toEqual(["cd 'a b'", 'FOO=1 npm run dev >log 2>&1', 'echo "x y"', 'cat', 'true']);
  });

  test('a $ expansion marks its word as unknown', () => {
    const parsed = readShellLine('cd "$HOME/x" && ls $DIR')!;
    expect(parsed.commands.map((c) => c.words.map((w) => w.dynamic))).toEqual([
      [false, true],
      [false, true],
    ]);
  });
});
