import * as fs from 'fs';
import * as path from 'path';
import { DEV_SERVERS, findDevServer, planPortFlag } from '../../../lib/core/dev-servers';

const words = (line: string) => line.split(' ');

describe('planPortFlag: a command line', () => {
  test.each<[string, string[] | null]>([
    ['vite', ['--port', '{port}', '--strictPort']],
    ['vite --host 127.0.0.1', ['--port', '{port}', '--strictPort']],
    ['vite build', null],
    ['vite preview', ['--port', '{port}', '--strictPort']],
    ['./node_modules/.bin/vite', ['--port', '{port}', '--strictPort']],
    ['node node_modules/vite/bin/vite.js', ['--port', '{port}', '--strictPort']],
    ['npx vite', ['--port', '{port}', '--strictPort']],
    ['npx -y vite@7 --host', ['--port', '{port}', '--strictPort']],
    ['npx --package @angular/cli ng serve', ['--port', '{port}']],
    ['pnpm exec astro dev', ['--port', '{port}']],
    ['pnpm dlx wrangler dev', ['--port', '{port}']],
    ['yarn dlx storybook dev', ['--port', '{port}', '--exact-port']],
    ['bunx next dev', null],
    ['env NODE_ENV=development vite', ['--port', '{port}', '--strictPort']],
    ['astro dev', ['--port', '{port}']],
    ['astro build', null],
    ['ng serve', ['--port', '{port}']],
    ['ng build', null],
    ['wrangler dev', ['--port', '{port}']],
    ['wrangler deploy', null],
    ['storybook dev', ['--port', '{port}', '--exact-port']],
    ['storybook build', null],
    ['start-storybook', ['--port', '{port}']],
    ['python manage.py runserver', ['{port}']],
    ['python3 manage.py runserver --noreload', ['{port}']],
    ['python3 manage.py runserver 0:8000', null],
    ['python3 manage.py migrate', null],
    ['rails server', ['-p', '{port}']],
    ['bin/rails s', ['-p', '{port}']],
    ['bundle exec rails s', ['-p', '{port}']],
    ['rails console', null],
    ['flask run', ['--port', '{port}']],
    ['flask --app hello run', ['--port', '{port}']],
    ['python -m flask run -p 5001', null],
    ['uvicorn main:app --reload', ['--port', '{port}']],
    ['python3 -m uvicorn main:app', ['--port', '{port}']],
    ['hugo server', ['--port', '{port}']],
    ['hugo', null],
    ['next dev', null],
    ['next build', null],
    ['nuxi dev', ['--port', '{port}']],
    ['webpack serve', ['--port', '{port}']],
    ['webpack', null],
    ['webpack-dev-server', ['--port', '{port}']],
    ['gatsby develop', ['-p', '{port}']],
    ['docusaurus start', ['--port', '{port}']],
    ['http-server dist', null],
    ['jekyll serve', ['--port', '{port}']],
    ['python3 -m http.server', ['{port}']],
    ['python3 -m http.server --bind ::1', ['{port}']],
    ['python3 -m http.server 8080', null],
    ['vite --strictPort', ['--port', '{port}']],
    ['vite --port 4000', null],
    ['vite --port=4000', null],
    ['next dev -p 4000', null],
    ['next start', null],
    ['vite --port {port}', null],
    ['node server.js', null],
    ['python3 app.py', null],
    ['sh -c vite', null],
  ])('%s', (line, append) => {
    const plan = planPortFlag(words(line), null);
    expect(plan?.append ?? null).toEqual(append);
  });
});

describe('planPortFlag: a package.json script', () => {
  const scripts = {
    dev: 'vite',
    'dev:host': 'vite --host 127.0.0.1',
    chained: 'tsc -b && vite',
    piped: 'vite | tee log',
    background: 'vite &',
    fixed: 'vite --port 4000',
    nested: 'npm run dev',
    'nested-pnpm': 'pnpm dev',
    serve: 'python3 -m http.server',
    'serve-env': 'python3 -m http.server --bind 127.0.0.1 $PORT',
    'serve-braced': 'python3 -m http.server ${PORT}',
    'serve-default': 'python3 -m http.server ${PORT:-8000}',
    'serve-host': 'python3 -m http.server --bind $HOST',
    django: 'python manage.py runserver 127.0.0.1:$PORT',
    env: 'NODE_ENV=development astro dev',
    server: 'node server.js',
    start: 'next start',
  };
  test.each<[string, string[] | null]>([
    ['npm run dev', ['--', '--port', '{port}', '--strictPort']],
    ['npm run dev -- --host', ['--port', '{port}', '--strictPort']],
    ['npm run --silent dev', ['--', '--port', '{port}', '--strictPort']],
    ['npm run-script dev:host', ['--', '--port', '{port}', '--strictPort']],
    ['npm start', null],
    ['npm run chained', ['--', '--port', '{port}', '--strictPort']],
    ['npm run piped', null],
    ['npm run background', null],
    ['npm run fixed', null],
    ['npm run dev -- --port 4000', null],
    ['npm run nested', ['--', '--', '--port', '{port}', '--strictPort']],
    ['npm run nested-pnpm', ['--', '--port', '{port}', '--strictPort']],
    ['npm run serve', ['--', '{port}']],
    ['npm run serve-env', null],
    ['npm run serve-braced', null],
    ['npm run serve-default', null],
    ['npm run serve-host', ['--', '{port}']],
    ['npm run django', null],
    ['npm run env', ['--', '--port', '{port}']],
    ['npm run server', null],
    ['npm run missing', null],
    ['npm install', null],
    ['pnpm dev', ['--port', '{port}', '--strictPort']],
    ['pnpm run dev', ['--port', '{port}', '--strictPort']],
    ['pnpm dev --port 4000', null],
    ['pnpm install', null],
    ['yarn dev', ['--port', '{port}', '--strictPort']],
    ['yarn run dev', ['--port', '{port}', '--strictPort']],
    ['bun run dev', ['--port', '{port}', '--strictPort']],
  ])('%s', (line, append) => {
    expect(planPortFlag(words(line), scripts)?.append ?? null).toEqual(append);
  });

  test('without a package.json, a script is not guessed', () => {
    expect(planPortFlag(words('npm run dev'), null)).toBeNull();
  });

  test('the plan names the tool', () => {
    expect(planPortFlag(words('npm run dev'), scripts)?.tool).toBe('Vite');
  });
});

test('every tool in the table is found by one of its program names', () => {
  for (const server of DEV_SERVERS) {
    const sub = {
      Astro: 'dev',
      'Angular CLI': 'serve',
      wrangler: 'dev',
      Storybook: 'dev',
      'Django runserver': 'runserver',
      Rails: 'server',
      Flask: 'run',
      Hugo: 'server',
      'Next.js': 'dev',
      Nuxt: 'dev',
      'webpack-dev-server': 'serve',
      Gatsby: 'develop',
      Docusaurus: 'start',
      Jekyll: 'serve',
    }[server.tool];
    for (const name of server.programs) {
      const line = [...name.replace(/^manage\.py$/, 'python manage.py').split(' '), ...(sub ? [sub] : [])];
      expect([line.join(' '), findDevServer(line)?.server.tool]).toEqual([line.join(' '), server.tool]);
    }
  }
});

test("docs/run.md's table has one row per tool, with the port as the rule gives it", () => {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'docs', 'run.md'), 'utf8');
  const table = readme.slice(readme.indexOf('| tool | recognised as |'));
  const rows = table.slice(0, table.indexOf('\n\n')).split('\n').slice(2);
  const tools = rows.map((row) => row.split('|')[1]!.trim());
  expect(tools).toEqual(DEV_SERVERS.map((s) => s.tool));
  for (const server of DEV_SERVERS) {
    const row = rows[tools.indexOf(server.tool)]!;
    const given = server.readsPort ? '`PORT` (nothing added)' : server.port.kind === 'flag' ? `\`${server.port.flag} N\`` : '`N` (argument)';
    expect([server.tool, row.split('|')[3]!.trim()]).toEqual([server.tool, given]);
    if (server.strict) expect([server.tool, row.includes(`\`${server.strict.flag}\` added too`)]).toEqual([server.tool, true]);
  }
});
