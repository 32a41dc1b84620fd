import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { freePortBlock, killAndWait, useSandbox } from '../helpers/cli';

const box = useSandbox();

// A window title, a cleared screen or a clipboard write hidden in a name, a path or a command line
// must not reach the terminal: human output escapes control characters; --json keeps them (JSON escapes them).

describe('control characters from outside are shown escaped in human output', () => {
  // A window title, a clear screen, an OSC 52 clipboard write and a C1 CSI.
  const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u001b]52;c;ZWNobyBwd25lZA==\u0007\u009b31m';
  // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/; // any control character but the newline
  const ESCAPED = '\\x1b]0;pwned\\x07';

  const clean = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
  };

  test('config show: a type description', () => {
    box.writeConfig({ service_types: { evil: { port_range: [20000, 20009], description: `x${EVIL}` } } });
    const r = box.run(['config', 'show']);
    expect(r.code).toBe(0);
    clean(r);
    expect(r.stdout).toContain(`x${ESCAPED}`);
    // --json is for programs: the description is in it, as JSON escapes it.
    expect(box.run(['config', 'show', '--json']).json.config.service_types.evil.description).toBe(`x${EVIL}`);
  });

  test('list -v, check and scan: a command line and a path', async () => {
    const [port] = [await freePortBlock(1)];
    const project = path.join(box.dir, `p${EVIL}`);
    fs.mkdirSync(project);
    const server = spawn(process.execPath, ['-e', 'require("net").createServer().listen(+process.argv[1], "127.0.0.1")', String(port), EVIL], {
      stdio: 'ignore',
    });
    try {
      const deadline = Date.now() + 10_000;
      while (box.run(['check', String(port), '--json']).json?.listening !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(box.run(['allocate', '-s', 'dev', '--pid', String(server.pid), '--project', project, '--json']).code).toBe(0);
      const list = box.run(['list', '-v']);
      expect(list.code).toBe(0);
      clean(list);
      expect(list.stdout).toContain('\\x1b]0;pwned');
      const check = box.run(['check', String(port)]);
      clean(check);
      expect(check.stdout).toContain(ESCAPED);
      const scan = box.run(['scan', '--start', String(port), '--end', String(port)]);
      clean(scan);
      expect(scan.stdout).toContain(ESCAPED);
    } finally {
      await killAndWait(server);
    }
  });

  test('check: an owner whose command line starts with escapes', async () => {
    // Owner lines are cut at 60 characters: the escapes come first, so they are in what is shown.
    const owner = spawn('sleep', ['30'], { argv0: `x${EVIL}`, stdio: 'ignore' });
    try {
      const r = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']);
      expect(r.code).toBe(0);
      const check = box.run(['check', String(r.json.port)]);
      expect(check.code).toBe(0);
      clean(check);
      expect(check.stdout).toContain(`Owner: PID ${owner.pid} (x${ESCAPED}`);
    } finally {
      await killAndWait(owner);
    }
  });

  test('doctor and error messages: a path', () => {
    const home = path.join(box.dir, `h${EVIL}`);
    expect(box.run(['allocate', '-s', 'dev', '--persistent'], { env: { STYXY_HOME: home } }).code).toBe(0);
    const doctor = box.run(['doctor'], { env: { STYXY_HOME: home } });
    clean(doctor);
    expect(doctor.stdout).toContain(ESCAPED);
    // A warning that quotes a path: the unusable state moved aside.
    fs.writeFileSync(path.join(home, 'state.json'), '{', { mode: 0o600 });
    const moved = box.run(['list'], { env: { STYXY_HOME: home } });
    expect(moved.stderr).toContain('state.json was unusable');
    clean(moved);
    expect(moved.stderr).toContain(ESCAPED);
    const missing = box.run(['config', 'validate', path.join(box.dir, `f${EVIL}.json`)]);
    expect(missing.code).toBe(8);
    clean(missing);
    expect(missing.stderr).toContain(ESCAPED);
  });
});
