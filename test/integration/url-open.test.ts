import * as fs from 'fs';
import * as path from 'path';
import { useSandbox, waitFor } from '../helpers/cli';

// $BROWSER as the convention has it: a command with arguments, `%s` where the URL goes.
const box = useSandbox();

async function openedWith(browserVar: (script: string) => string): Promise<{ args: string[]; url: string }> {
  const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
  const opened = path.join(box.dir, 'opened');
  const script = path.join(box.dir, 'my browser.sh');
  fs.writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > ${JSON.stringify(opened)}.tmp && mv ${JSON.stringify(opened)}.tmp ${JSON.stringify(opened)}\n`, {
    mode: 0o755,
  });
  const r = box.run(['url', '-s', 'dev', '-n', 'web', '--open', '--json'], { env: { BROWSER: browserVar(script) } });
  expect(r.json).toMatchObject({ success: true, url: made.url, open: { opened: true } });
  await waitFor('the browser to be called', () => fs.existsSync(opened));
  return { args: fs.readFileSync(opened, 'utf8').trimEnd().split('\n'), url: made.url };
}

test('BROWSER with arguments and %s: the URL goes where %s is', async () => {
  const { args, url } = await openedWith((script) => `'${script}' --new-tab %s --profile=100%%:other-browser`);
  expect(args).toEqual(['--new-tab', url, '--profile=100%']);
});

test('BROWSER with arguments and no %s: the URL comes last', async () => {
  const { args, url } = await openedWith((script) => `"${script}" --new-window`);
  expect(args).toEqual(['--new-window', url]);
});
