import * as fs from 'fs';
import * as path from 'path';
import { freePortBlock, killAndWait, sleeper, useSandbox } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

const box = useSandbox();

describe('hints recommend only what is safe; cleanup --force asks', () => {
  test('RANGE_EXHAUSTED hints: no cleanup --force; the config set they name works as printed', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { web: { port_range: [base, base] } } });
    expect(box.run(['allocate', '-s', 'web', '--persistent']).code).toBe(0);
    const r = box.run(['allocate', '-s', 'web', '--json']);
    expect(r.json.error.code).toBe('RANGE_EXHAUSTED');
    const hints: string[] = r.json.error.suggestions;
    expect(hints.join('\n')).not.toMatch(/--force/);
    expect(hints.join('\n')).toContain('styxy list -v -s web');
    const widen = hints.map((h) => /styxy (config set \S+ \S+)$/.exec(h)?.[1]).find(Boolean) as string;
    expect(widen).toBe(`config set service-types.web.port-range ${base}-${base + 10}`);
    expect(box.run([...widen.split(' '), '--json']).code).toBe(0);
    expect(box.run(['allocate', '-s', 'web', '--json']).json).toMatchObject({ success: true, port: base + 1 });
  });

  test('doctor does not recommend cleanup --force for unused ports', () => {
    box.run(['allocate', '-s', 'dev', '--persistent']);
    const r = box.run(['doctor', '--json']);
    expect(JSON.stringify(r.json)).toContain('unused ports');
    expect(JSON.stringify(r.json)).not.toMatch(/--force/);
  });

  test('without a terminal, cleanup --force needs --yes: CONFIRMATION_REQUIRED, nothing dropped', async () => {
    const owner = sleeper();
    try {
      const persistent = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
      const live = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
      const before = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
      const r = box.run(['cleanup', '--force', '--json']);
      expect(r.code).toBe(7);
      expect(r.json.error.code).toBe('CONFIRMATION_REQUIRED');
      expect(r.json.error.details.wouldDrop.map((a: { lockId: string }) => a.lockId).sort()).toEqual([persistent.lockId, live.lockId].sort());
      const human = box.run(['cleanup', '--force']);
      expect(human.code).toBe(7);
      expect(human.stderr).toMatch(/1 persistent, 1 with a live owner/);
      expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(before);
      const yes = box.run(['cleanup', '--force', '--yes', '--json']);
      expect(yes.code).toBe(0);
      expect(yes.json.unused).toHaveLength(2);
      expect(box.readState().allocations).toEqual([]);
      // Nothing to drop: no question, no --yes needed.
      expect(box.run(['cleanup', '--force', '--json']).code).toBe(0);
    } finally {
      await killAndWait(owner);
    }
  });

  (hasPty() ? test : test.skip)('on a terminal, cleanup --force lists what it drops and asks; only yes drops', async () => {
    const owner = sleeper();
    try {
      const persistent = box.run(['allocate', '-s', 'dev', '-n', 'keep', '--persistent', '--json']).json;
      box.run(['allocate', '-s', 'dev', '-n', 'served', '--pid', String(owner.pid), '--json']);
      const no = runInPty(box, ['cleanup', '--force'], { prompt: '[y/N]', answer: 'n' });
      expect(no.answered).toBe(true);
      expect(no.code).toBe(7);
      expect(no.output).toContain('would drop 2 allocation(s)');
      expect(no.output).toMatch(new RegExp(`${persistent.port}\\s+dev/keep\\s+persistent`));
      expect(no.output).toMatch(new RegExp(`dev/served\\s+owner PID ${owner.pid} \\(sleep 600\\), still running`));
      expect(box.readState().allocations).toHaveLength(2);
      const yes = runInPty(box, ['cleanup', '--force'], { prompt: '[y/N]', answer: 'y' });
      expect(yes.code).toBe(0);
      expect(yes.output).toContain(`Dropped port ${persistent.port} (dev/keep): nothing listening`);
      expect(box.readState().allocations).toEqual([]);
    } finally {
      await killAndWait(owner);
    }
  });
});
