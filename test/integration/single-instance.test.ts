import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import {
  BIN,
  closeServer,
  freePortBlock,
  killAndWait,
  leaseEnded,
  listen,
  markingFirstConnect,
  sleeper,
  until,
  useSandbox,
  type Sandbox,
} from '../helpers/cli';
import { readmeRecipe } from '../helpers/readme';

const box = useSandbox();

const aiAllocations = (b: Sandbox) => b.run(['list', '-s', 'ai', '--json']).json.allocations;

test('the first allocation of ai is new; a second returns it with existing, instance, PID and message', () => {
  const owner = sleeper();
  const first = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(owner.pid), '--json']).json;
  expect(first).toMatchObject({ success: true, existing: false, singleInstance: true });
  const second = box.run(['allocate', '-s', 'ai', '-n', 'other', '--json', '--project', box.dir]);
  expect(second.code).toBe(0);
  expect(second.json).toMatchObject({
    success: true,
    port: first.port,
    lockId: first.lockId,
    existing: true,
    reused: false,
    existingInstanceId: 'rag',
    existingPid: owner.pid,
    allocatedAt: first.allocatedAt,
    message: "Service 'ai' only allows single instance",
  });
  expect(aiAllocations(box)).toHaveLength(1);
  owner.kill('SIGKILL');
});

test('human output, -q and --env for an existing instance', () => {
  const owner = sleeper();
  const first = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(owner.pid), '--json']).json;
  const human = box.run(['allocate', '-s', 'ai', '-n', 'rag2']).stdout;
  expect(human).toContain("Service 'ai' only allows single instance");
  expect(human).toContain(`Existing instance 'rag' is running on port ${first.port} (PID ${owner.pid})`);
  expect(box.run(['allocate', '-s', 'ai', '-q']).stdout).toBe(`${first.port}\n`);
  const env = box.run(['allocate', '-s', 'ai', '--env']).stdout;
  expect(env).toContain("export STYXY_EXISTING='1';");
  expect(env).toContain(`export PORT='${first.port}';`);
  expect(box.run(['list']).stdout).toContain('ai [single]');
  owner.kill('SIGKILL');
});

test('5 processes asking at once, from different owners and projects, get one port and one allocation', async () => {
  const owners = Array.from({ length: 5 }, () => sleeper());
  const projects = owners.map((_, i) => {
    const dir = path.join(box.dir, `p${i}`);
    fs.mkdirSync(dir);
    return dir;
  });
  const results = await Promise.all(
    owners.map((o, i) => box.start(['allocate', '-s', 'ai', '-n', `agent${i}`, '--pid', String(o.pid), '--json'], { cwd: projects[i] as string })),
  );
  expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
  expect(new Set(results.map((r) => r.json.port)).size).toBe(1);
  expect(results.filter((r) => r.json.existing === true)).toHaveLength(4);
  expect(results.filter((r) => r.json.existing === false)).toHaveLength(1);
  expect(aiAllocations(box)).toHaveLength(1);
  owners.forEach((o) => o.kill('SIGKILL'));
});

test('release, the owner dying, cleanup --force and a lease ending each free the type; no orphan survives', async () => {
  // release
  const a = box.run(['allocate', '-s', 'ai', '--persistent', '--json']).json;
  expect(box.run(['release', '-s', 'ai', '--json']).json.released[0].lockId).toBe(a.lockId);
  const b = box.run(['allocate', '-s', 'ai', '--persistent', '--json']).json;
  expect(b).toMatchObject({ existing: false });
  expect(b.lockId).not.toBe(a.lockId);
  // cleanup --force: nothing listens on the port
  expect(box.run(['cleanup', '--force', '--yes', '--json']).json.unused.map((x: { lockId: string }) => x.lockId)).toEqual([b.lockId]);
  // owner dying
  const owner = sleeper();
  const c = box.run(['allocate', '-s', 'ai', '--pid', String(owner.pid), '--json']).json;
  expect(c.existing).toBe(false);
  await killAndWait(owner);
  const d = box.run(['allocate', '-s', 'ai', '--ttl', '1s', '--json']).json;
  expect(d).toMatchObject({ existing: false, pruned: 1 });
  // a lease ending (plain cleanup reports it)
  await leaseEnded(box, d.lockId);
  expect(box.run(['cleanup', '--json']).json.pruned.map((x: { lockId: string }) => x.lockId)).toEqual([d.lockId]);
  expect(box.run(['allocate', '-s', 'ai', '--json']).json.existing).toBe(false);
  expect(box.readState().allocations.filter((x: { serviceType: string }) => x.serviceType === 'ai')).toHaveLength(1);
});

test('scenario: three sessions start at once; the first releases; a SIGKILLed holder is replaced', async () => {
  // Three "agent sessions": shells that each allocate ai/rag and then keep running.
  const session = () =>
    spawn('bash', ['-c', `node ${BIN} allocate -s ai -n rag --json; exec sleep 600`], { env: box.env, cwd: box.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const sessions = [session(), session(), session()];
  const answers = await Promise.all(sessions.map((s) => new Promise<any>((r) => s.stdout!.once('data', (d) => r(JSON.parse(String(d)))))));
  expect(new Set(answers.map((a) => a.port)).size).toBe(1);
  expect(answers.filter((a) => !a.existing)).toHaveLength(1);
  const holderIndex = answers.findIndex((a) => !a.existing);
  const holder = answers[holderIndex];
  expect(holder.owner.pid).toBe(sessions[holderIndex]!.pid);

  // The first session releases: the next caller claims a new allocation.
  box.run(['release', holder.lockId]);
  const next = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(sessions[(holderIndex + 1) % 3]!.pid), '--json']).json;
  expect(next).toMatchObject({ existing: false });
  expect(next.lockId).not.toBe(holder.lockId);

  // Its owner is SIGKILLed: the next caller gets a new allocation, not the dead one.
  await killAndWait(sessions[(holderIndex + 1) % 3]!);
  const after = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--json']).json;
  expect(after).toMatchObject({ existing: false, pruned: 1 });
  expect(after.lockId).not.toBe(next.lockId);
  await Promise.all(sessions.map((s) => killAndWait(s)));
});

test('a user-defined single type in config.json behaves the same, and config set can switch it', () => {
  box.writeConfig({ service_types: { rag: { port_range: [21500, 21509], instance_behavior: 'single' } } });
  const first = box.run(['allocate', '-s', 'rag', '--persistent', '--json']).json;
  expect(box.run(['allocate', '-s', 'rag', '--json']).json).toMatchObject({ existing: true, port: first.port });
  const set = box.run(['config', 'set', 'service-types.rag.instance-behavior', 'multi', '--json']);
  expect(set.json).toMatchObject({ success: true, value: 'multi', previous: 'single' });
  expect(JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).service_types.rag).toEqual({
    port_range: [21500, 21509],
    instance_behavior: 'multi',
  });
  expect(box.run(['allocate', '-s', 'rag', '--json']).json).toMatchObject({ existing: false });
  expect(box.run(['config', 'set', 'service-types.dev.instance-behavior', 'single', '--json']).json.success).toBe(true);
  box.run(['allocate', '-s', 'dev', '--persistent']);
  expect(box.run(['allocate', '-s', 'dev', '--json']).json.existing).toBe(true);
  expect(box.run(['config', 'set', 'service-types.rag.instance-behavior', 'maybe', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  expect(box.run(['config', 'set', 'service-types.nope.instance-behavior', 'single', '--json']).json.error.code).toBe('UNKNOWN_SERVICE_TYPE');
});

describe('--wait-ready', () => {
  test('waits until the existing instance accepts connections', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { llm: { port_range: [base, base + 1], instance_behavior: 'single' } } });
    const first = box.run(['allocate', '-s', 'llm', '--persistent', '--json']).json;
    const probing = path.join(box.dir, 'probing');
    const waiting = box.start(['allocate', '-s', 'llm', '--wait-ready', '10', '--json'], { env: markingFirstConnect(box, probing) });
    // It waits from before its first probe: once that probe is seen, 300 ms more without a
    // listener is 300 ms it has waited, however long it took to start.
    await until(() => fs.existsSync(probing), 'the first probe of the port');
    const firstProbe = Number(fs.readFileSync(probing, 'utf8'));
    await until(() => Date.now() > firstProbe + 300, '300 ms after the first probe');
    const server = await listen(first.port, '::1').catch(() => listen(first.port, '127.0.0.1'));
    try {
      const r = await waiting;
      expect(r.code).toBe(0);
      expect(r.json).toMatchObject({ existing: true, ready: true, port: first.port });
      // ready: true is only said after a connection was accepted, and the server listened only
      // after the sleep; how long the wait took depends on when the child started (load).
      expect(r.json.waitedMs).toBeGreaterThan(0);
    } finally {
      await closeServer(server);
    }
  });

  test('fails with WAIT_TIMEOUT when nothing listens in time; --env fails the eval', async () => {
    box.run(['allocate', '-s', 'ai', '--persistent']);
    const r = box.run(['allocate', '-s', 'ai', '--wait-ready', '0.5', '--json']);
    expect(r.code).toBe(14);
    expect(r.json.error.code).toBe('WAIT_TIMEOUT');
    expect(r.json.error.details.port).toBeGreaterThanOrEqual(11400);
    expect(box.run(['allocate', '-s', 'ai', '--wait-ready', '0.2', '--env']).stdout).toBe('false;\n');
    expect(box.run(['allocate', '-s', 'ai', '--wait-ready', 'soon', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  });

  test('a fresh allocation does not wait', () => {
    const r = box.run(['allocate', '-s', 'ai', '--wait-ready', '5', '--json']);
    expect(r.json).toMatchObject({ existing: false });
    expect(r.json.ready).toBeUndefined();
  });
});

describe('the README recipe that replaces a flock start script', () => {
  test('two agents run it at once: one server starts, the other learns its port; once the server ends, nobody is told it runs', async () => {
    const script = readmeRecipe('flock-replacement');
    expect(script).toContain('exec python -m rag_service --port "$PORT"');
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { ai: { port_range: [base, base + 1], preferred_ports: [base] } } });
    const server = path.join(box.dir, 'server.js');
    fs.writeFileSync(
      server,
      "const port = Number(process.argv[process.argv.indexOf('--port') + 1]);\n" +
        "setTimeout(() => require('net').createServer((s) => s.end()).listen(port), 300);\n",
    );
    const file = path.join(box.dir, 'rag-service-startup.sh');
    fs.writeFileSync(file, script.replace('exec python -m rag_service --port "$PORT"', `exec node ${server} --port "$PORT"`));
    const binDir = path.join(box.dir, 'bin');
    fs.mkdirSync(binDir);
    fs.symlinkSync(BIN, path.join(binDir, 'styxy'));
    const env = { ...box.env, PATH: `${binDir}:${process.env.PATH}` };

    const agents = [0, 1].map(() => spawn('sh', [file], { env, cwd: box.cwd, stdio: ['ignore', 'pipe', 'pipe'] }));
    const outputs = agents.map((a) => {
      let out = '';
      a.stdout!.on('data', (d) => (out += d));
      return () => out;
    });
    // The agent that starts nothing exits 0 once the other one's server accepts connections.
    const exited = await Promise.race(agents.map((a, i) => new Promise<[number, number | null]>((r) => a.once('exit', (code) => r([i, code])))));
    const [doneIndex, code] = exited;
    expect(code).toBe(0);
    expect(outputs[doneIndex]!()).toBe(`RAG service already running on port ${base}\n`);
    const serverAgent = agents[1 - doneIndex]!;
    expect(serverAgent.exitCode).toBeNull();

    const list = box.run(['list', '--json']).json.allocations;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ port: base, serviceType: 'ai', owner: { kind: 'process', pid: serverAgent.pid } });

    await killAndWait(serverAgent, 'SIGTERM');
    // Nothing listens now. The port is reserved for the script's next run, and while the grace
    // lasts the type stays taken: another caller is answered with the reserved instance, so a
    // second instance is never started beside the one about to come back.
    expect(box.run(['list', '--json']).json.allocations[0].owner).toMatchObject({ pid: serverAgent.pid, reservedUntil: expect.any(String) });
    expect(box.run(['allocate', '-s', 'ai', '-n', 'other', '--json']).json).toMatchObject({ existing: true, port: base, existingInstanceId: 'rag' });
    expect(box.run(['allocate', '-s', 'ai', '-n', 'rag', '--json']).json).toMatchObject({ existing: false, reused: true, port: base });
  });
});
