import * as fs from 'fs';
import * as path from 'path';
import { useSandbox, type Sandbox } from '../helpers/cli';

const box = useSandbox();

describe('a near miss of a known type is refused, not made a type', () => {
  const files = (b: Sandbox) => (fs.existsSync(b.home) ? fs.readdirSync(b.home).sort() : []);

  test.each([
    ['dve', 'dev'],
    ['Dev', 'dev'],
    ['databse', 'database'],
  ])('-s %s: did you mean %s? nothing written', (typo, type) => {
    box.run(['allocate', '-s', 'api', '--persistent']); // files exist, so "nothing written" means something
    const before = files(box);
    const state = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
    const r = box.run(['allocate', '-s', typo, '--json']);
    expect(r.code).toBe(16);
    expect(r.json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { serviceType: typo, didYouMean: type } });
    expect(files(box)).toEqual(before);
    expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(state);
    const human = box.run(['allocate', '-s', typo]);
    expect(human.stderr).toContain(`did you mean '${type}'?`);
    expect(human.stderr).toContain('--new-type');
    // styxy run refuses it too, before starting anything.
    const run = box.run(['run', '-s', typo, '--json', '--', 'node', '-e', 'process.stdout.write("started")']);
    expect([run.code, run.json.error.code]).toEqual([125, 'SIMILAR_SERVICE_TYPE']);
    expect(run.stdout).not.toContain('started');
  });

  test('--new-type creates it anyway; names far from every type are auto-allocated as before', () => {
    const r = box.run(['allocate', '-s', 'dve', '--new-type', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ autoAllocated: true, serviceType: 'dve' });
    // From then on dve is a known type: no flag needed.
    expect(box.run(['allocate', '-s', 'dve', '--json']).json.autoAllocated).toBe(false);
    for (const name of ['grafana', 'jaeger']) expect(box.run(['allocate', '-s', name, '--json']).json).toMatchObject({ success: true, autoAllocated: true });
    // An auto-allocated type is known too: its typo is refused.
    expect(box.run(['allocate', '-s', 'grafna', '--json']).json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { didYouMean: 'grafana' } });
    const run = box.run(['run', '-s', 'Grafana', '--new-type', '--', 'node', '-e', 'process.stdout.write(process.env.STYXY_SERVICE_TYPE)']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Grafana');
  });
});
