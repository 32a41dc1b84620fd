import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, closeServer, fillDisk, freePortBlock, listen, sleeper, useSandbox, withTmpfs } from '../helpers/cli';

const box = useSandbox();

const configPath = () => path.join(box.home, 'config.json');
const readConfig = () => JSON.parse(fs.readFileSync(configPath(), 'utf8'));
const auditEvents = () =>
  fs
    .readFileSync(path.join(box.home, 'audit.log'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

/** Every file under $STYXY_HOME with its bytes (the lock's own files aside). */
function snapshot(dir = box.home): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d)) {
      const full = path.join(d, name);
      if (name.startsWith('state.json.lock')) continue;
      if (fs.statSync(full).isDirectory()) walk(full);
      else out[path.relative(dir, full)] = fs.readFileSync(full, 'base64');
    }
  };
  if (fs.existsSync(dir)) walk(dir);
  return out;
}

/** A config whose auto-allocation bounds are a block of ports nothing listens on, so ranges are exact. */
async function boundedConfig(extra: Record<string, unknown> = {}, size = 400): Promise<number> {
  const base = await freePortBlock(size, 12000, 32000);
  box.writeConfig({ auto_allocation: { min_port: base, max_port: base + size - 1 }, ...extra });
  return base;
}

describe('the grafana scenario on a fresh install', () => {
  test('a range for grafana, a port from it; a second instance gets the next port of the same range', () => {
    const first = box.run(['allocate', '-s', 'grafana', '-n', 'main', '--json']);
    expect(first.code).toBe(0);
    const a = first.json;
    expect(a).toMatchObject({
      success: true,
      serviceType: 'grafana',
      instanceId: 'main',
      autoAllocated: true,
      message: "New service type 'grafana' auto-configured",
    });
    const [low, high] = a.newRange;
    expect(high - low + 1).toBe(10);
    // after the highest built-in range (ai 11400-11499) and its gap of 10, inside 10000-65000
    expect(low).toBeGreaterThanOrEqual(11510);
    expect(high).toBeLessThanOrEqual(65000);
    expect(a.port).toBeGreaterThanOrEqual(low);
    expect(a.port).toBeLessThanOrEqual(high);
    expect(a.autoAllocation).toMatchObject({ placement: 'after', chunkSize: 10, rule: null });

    const second = box.run(['allocate', '-s', 'grafana', '-n', 'second', '--json']).json;
    expect(second).toMatchObject({ success: true, autoAllocated: false, serviceType: 'grafana' });
    expect(second.newRange).toBeUndefined();
    expect(second.port).toBeGreaterThan(a.port);
    expect(second.port).toBeLessThanOrEqual(high);

    const grafana = readConfig().service_types.grafana;
    expect(grafana).toMatchObject({ port_range: [low, high], auto_allocated: { by: expect.any(String), rule: null } });
    expect(Date.parse(grafana.auto_allocated.at)).not.toBeNaN();
    const events = auditEvents().filter((e) => e.action === 'auto-allocate');
    expect(events).toEqual([
      expect.objectContaining({
        serviceType: 'grafana',
        range: [low, high],
        chunkSize: 10,
        placement: 'after',
        rule: null,
        user: expect.any(String),
        pid: expect.any(Number),
        timestamp: expect.any(String),
      }),
    ]);
    expect(box.run(['config', 'validate']).code).toBe(0);
    const audit = box.run(['audit', '--action', 'auto-allocate', '--json']).json;
    expect(audit.events).toHaveLength(1);
    expect(audit.events[0].serviceType).toBe('grafana');
    expect(box.run(['config', 'show', '--json']).json.config.service_types.grafana.port_range).toEqual([low, high]);
  });

  test('human output names the new type, its range and the port', () => {
    const r = box.run(['allocate', '-s', 'grafana']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/New service type 'grafana' automatically configured\n {3}Range: (\d+)-(\d+) \(10 ports; placement after\)/);
    expect(r.stdout).toMatch(/Allocated port: \d+/);
  });
});

describe('placement against the real machine', () => {
  test('exact ranges inside the configured bounds: before, a full after falling back, smart by category', async () => {
    const base = await boundedConfig();
    expect(box.run(['config', 'auto-allocation', 'set-rule', 'db-*', '--chunk-size', '5', '--placement', 'before']).code).toBe(0);
    const db = box.run(['allocate', '-s', 'db-orders', '--json']).json;
    // no range inside the bounds yet: the top of them
    expect(db).toMatchObject({ newRange: [base + 395, base + 399], autoAllocation: { rule: 'db-*', chunkSize: 5, placement: 'before' } });
    // after: nothing fits above db-orders inside the bounds, so before is used, 10 ports clear of it
    const tempo = box.run(['allocate', '-s', 'tempo', '--json']).json;
    expect(tempo).toMatchObject({ newRange: [base + 375, base + 384], autoAllocation: { placement: 'before', requestedPlacement: 'after' } });
    expect(tempo.autoAllocation.tried[0]).toMatch(/^after: /);
    // smart: loki is a monitoring tool like tempo, so it goes next to tempo
    box.run(['config', 'auto-allocation', 'set-rule', 'loki', '--placement', 'smart']);
    const loki = box.run(['allocate', '-s', 'loki', '--json']).json;
    expect(loki).toMatchObject({ newRange: [base + 355, base + 364], autoAllocation: { placement: 'smart', rule: 'loki' } });
    expect(loki.autoAllocation.reason).toContain("next to 'tempo'");
  });

  test('a port something listens on (IPv4 or IPv6) is never inside a new range', async () => {
    const base = await boundedConfig();
    const dry = box.run(['allocate', '-s', 'jaeger', '--dry-run', '--json']).json;
    expect(dry.newRange).toEqual([base, base + 9]);
    const server = await listen(base + 4, '127.0.0.1');
    try {
      const real = box.run(['allocate', '-s', 'jaeger', '--json']).json;
      expect(real.newRange).toEqual([base + 5, base + 14]);
    } finally {
      await closeServer(server);
    }
  });

  test('a preferred start from a rule is tried first, whatever the placement', async () => {
    const base = await boundedConfig({}, 400);
    const start = base + 200;
    box.run(['config', 'set', 'auto-allocation-rule', 'monitoring-*', '--chunk-size', '20', '--preferred-range', String(start), '--placement', 'smart']);
    expect(box.run(['allocate', '-s', 'monitoring-loki', '--json']).json).toMatchObject({
      newRange: [start, start + 19],
      autoAllocation: { placement: 'preferred-start', requestedPlacement: 'smart', rule: 'monitoring-*' },
    });
  });

  test('no room anywhere: AUTO_ALLOCATION_FAILED says what was tried, and nothing is written', async () => {
    box.writeConfig({ auto_allocation: { min_port: 20000, max_port: 20005 } });
    const before = snapshot();
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(6);
    expect(r.json.error.code).toBe('AUTO_ALLOCATION_FAILED');
    expect(r.json.error.message).toMatch(/No room for a 10-port range for 'grafana' in 20000-20005.*Tried: after.*before.*smart/);
    expect(r.json.error.details.tried).toHaveLength(3);
    const after = snapshot();
    delete after['audit.log'];
    expect(after).toEqual(before);
  });
});

describe('what auto-allocation writes', () => {
  test("the user's config keeps every key it had; the backup is the old file, byte for byte", async () => {
    const base = await boundedConfig({
      service_types: { mine: { port_range: [7100, 7109], description: 'mine', examples: ['x'] } },
      auto_allocation_rules: { 'zz-*': { chunk_size: 3 } },
    });
    const oldText = fs.readFileSync(configPath(), 'utf8');
    const old = JSON.parse(oldText);
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(0);
    const now = readConfig();
    expect(now.service_types.mine).toEqual(old.service_types.mine);
    expect(now.auto_allocation).toEqual({ min_port: base, max_port: base + 399 });
    expect(now.auto_allocation_rules).toEqual(old.auto_allocation_rules);
    const backups = fs.readdirSync(path.join(box.home, 'backups'));
    expect(backups).toHaveLength(1);
    expect(fs.readFileSync(path.join(box.home, 'backups', backups[0] as string), 'utf8')).toBe(oldText);
  });

  test('--dry-run answers like the real thing and writes nothing', () => {
    const r = box.run(['allocate', '-s', 'grafana', '--dry-run', '--json']);
    expect(r.json).toMatchObject({ success: true, dryRun: true, autoAllocated: true, newRange: expect.any(Array) });
    expect(fs.existsSync(configPath())).toBe(false);
    expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  });

  test('port_docs_path gets one markdown row per new type', async () => {
    const base = await boundedConfig();
    fs.mkdirSync(path.join(box.home, 'docs'));
    expect(box.run(['config', 'set', 'auto-allocation.port-docs-path', 'docs/PORTS.md']).code).toBe(0);
    box.run(['allocate', '-s', 'grafana', '-q']);
    box.run(['allocate', '-s', 'jaeger', '-q']);
    const day = new Date().toISOString().slice(0, 10);
    const docs = fs.readFileSync(path.join(box.home, 'docs', 'PORTS.md'), 'utf8');
    expect(docs).toContain('| Service type | Range | Note |');
    expect(docs).toContain(`| grafana | ${base}-${base + 9} | Auto-allocated ${day} |\n`);
    expect(docs).toContain(`| jaeger | ${base + 20}-${base + 29} | Auto-allocated ${day} |\n`);
  });

  test('auto-allocation disabled: UNKNOWN_SERVICE_TYPE, and enabling it again works', () => {
    expect(box.run(['config', 'auto-allocation', 'disable']).code).toBe(0);
    const before = snapshot();
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(4);
    expect(r.json.error).toMatchObject({
      code: 'UNKNOWN_SERVICE_TYPE',
      suggestions: expect.arrayContaining([expect.stringContaining('auto-allocation enable')]),
    });
    expect(snapshot()).toEqual(before);
    expect(box.run(['config', 'auto-allocation', 'enable']).code).toBe(0);
    expect(box.run(['allocate', '-s', 'grafana', '--json']).json.autoAllocated).toBe(true);
  });
});

describe('rollback: a failure before the commit leaves config, state, docs and backups as they were', () => {
  const faults = [
    ['the state write fails after config.json was written', 'before-rename:state.json'],
    ['the config write fails before its rename', 'before-rename:config.json'],
    ['the config write fails after its rename', 'after-rename:config.json'],
    ['the backup fails', 'during-backup'],
  ];
  test.each(faults)('%s', async (_name, point) => {
    await boundedConfig({ auto_allocation_rules: { 'keep-*': { chunk_size: 2 } } });
    fs.mkdirSync(path.join(box.home, 'docs'));
    box.run(['config', 'set', 'auto-allocation.port-docs-path', 'docs/PORTS.md']);
    expect(box.run(['allocate', '-s', 'grafana', '--persistent', '-q']).code).toBe(0);
    const before = snapshot();
    const r = box.run(['allocate', '-s', 'jaeger', '--json'], { env: { STYXY_TEST_FAIL_AT: point } });
    expect(r.json.error.code).toBe('WRITE_FAILED');
    expect(r.code).toBe(13);
    const after = snapshot();
    // The audit log records only what committed, so it is unchanged too.
    expect(after).toEqual(before);
    expect(box.run(['allocate', '-s', 'jaeger', '--json']).json.autoAllocated).toBe(true);
  });

  test.each(faults.map(([, point]) => point as string))(
    'undo-auto-allocation --force (its state written first), an I/O error at %s: nothing changed',
    (point) => {
      expect(box.run(['allocate', '-s', 'grafana', '--persistent', '-q']).code).toBe(0);
      expect(box.run(['allocate', '-s', 'dev', '--persistent', '-q']).code).toBe(0);
      const before = snapshot();
      const r = box.run(['config', 'undo-auto-allocation', 'grafana', '--force', '--json'], { env: { STYXY_TEST_FAIL_AT: point } });
      expect([r.code, r.json.error.code]).toEqual([13, 'WRITE_FAILED']);
      expect(snapshot()).toEqual(before);
      const again = box.run(['config', 'undo-auto-allocation', 'grafana', '--force', '--json']);
      expect([again.code, again.json.released.length]).toEqual([0, 1]);
    },
  );

  test('permission denied while backing up the config (as a non-root user): WRITE_FAILED, nothing changed', () => {
    const asNobody = (args: string[]) =>
      spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, ...args], {
        cwd: box.cwd,
        env: box.env,
        encoding: 'utf8',
      });
    if (process.getuid?.() !== 0 || asNobody(['--version']).status !== 0) {
      console.warn('skipped: needs root and setpriv to run as another user');
      return;
    }
    fs.mkdirSync(box.home, { mode: 0o700 });
    fs.chownSync(box.home, 65534, 65534);
    fs.chmodSync(box.dir, 0o755);
    expect(asNobody(['config', 'set', 'auto-allocation.gap-size', '5']).status).toBe(0);
    expect(asNobody(['config', 'set', 'auto-allocation.gap-size', '6']).status).toBe(0);
    fs.chmodSync(path.join(box.home, 'backups'), 0o500);
    const before = snapshot();
    const r = asNobody(['allocate', '-s', 'grafana', '--json']);
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'WRITE_FAILED', message: expect.stringContaining('permission denied') });
    expect(r.status).toBe(13);
    expect(snapshot()).toEqual(before);
    fs.chmodSync(path.join(box.home, 'backups'), 0o700);
    expect(JSON.parse(asNobody(['allocate', '-s', 'grafana', '--json']).stdout).autoAllocated).toBe(true);
  });

  test('a full disk while writing the config: WRITE_FAILED, everything byte-identical, no temp files', () => {
    withTmpfs(box.dir, (mount) => {
      const home = path.join(mount, 'home');
      const env = { STYXY_HOME: home };
      fs.mkdirSync(home, { mode: 0o700 });
      // A config of two pages, so that its backup fits in what is left but the new file does not.
      const padding = { service_types: { pad: { port_range: [7000, 7001], description: 'x'.repeat(450), examples: Array(10).fill('y'.repeat(190)) } } };
      fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(padding, null, 2), { mode: 0o600 });
      expect(box.run(['allocate', '-s', 'api', '--persistent', '-q'], { env }).code).toBe(0);
      for (const leave of [0, 8192]) {
        const before = snapshot(home);
        const filler = fillDisk(mount);
        if (leave) fs.truncateSync(filler, fs.statSync(filler).size - leave);
        const r = box.run(['allocate', '-s', 'grafana', '--json'], { env });
        expect(r.json?.error?.code).toBe('WRITE_FAILED');
        expect(snapshot(home)).toEqual(before);
        expect(fs.readdirSync(home).filter((f) => f.includes('.tmp-'))).toEqual([]);
        fs.unlinkSync(filler);
      }
      expect(box.run(['allocate', '-s', 'grafana', '--json'], { env }).json.autoAllocated).toBe(true);
      expect(box.run(['config', 'validate'], { env }).code).toBe(0);
    });
  });
});

describe('confirmation mode', () => {
  beforeEach(() => {
    box.writeConfig({ auto_allocation: { require_confirmation: true } });
  });

  test('--json, --env and no terminal: CONFIRMATION_REQUIRED with the proposal, nothing written', () => {
    const before = snapshot();
    const json = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(json.code).toBe(7);
    expect(json.json.error).toMatchObject({
      code: 'CONFIRMATION_REQUIRED',
      details: { proposal: { serviceType: 'grafana', range: expect.any(Array), placement: 'after', reason: expect.any(String) } },
    });
    const env = box.run(['allocate', '-s', 'grafana', '--env']);
    expect(env.code).toBe(7);
    expect(env.stdout).toBe('false;\n');
    const plain = box.run(['allocate', '-s', 'grafana']);
    expect(plain.code).toBe(7);
    expect(plain.stderr).toMatch(/Auto-allocation needs confirmation: ports \d+-\d+ \(10\) for new service type 'grafana'/);
    const after = snapshot();
    delete after['audit.log'];
    expect(after).toEqual(before);
  });

  test('--yes accepts', () => {
    const r = box.run(['allocate', '-s', 'grafana', '--yes', '--json']);
    expect(r.code).toBe(0);
    expect(r.json.autoAllocated).toBe(true);
    expect(readConfig().service_types.grafana).toBeDefined();
  });

  /** Runs styxy on a pseudo-terminal (util-linux `script`), typing `answer`. */
  function onTerminal(args: string[], answer: string) {
    const command = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
    return spawnSync('script', ['-qec', command, '/dev/null'], { cwd: box.cwd, env: box.env, input: answer, encoding: 'utf8', timeout: 30_000 });
  }

  const hasScript = spawnSync('script', ['-qec', 'true', '/dev/null']).status === 0;

  test('a terminal is asked on stderr; y allocates, anything else declines', () => {
    if (!hasScript) {
      console.warn('skipped: util-linux script is not installed');
      return;
    }
    const no = onTerminal(['allocate', '-s', 'grafana'], 'n\n');
    expect(no.stdout).toMatch(/Auto-allocate ports \d+-\d+ for 'grafana'\? \[y\/N\]/);
    expect(no.stdout).toContain('Declined');
    expect(no.status).toBe(7);
    expect(fs.existsSync(configPath()) && readConfig().service_types?.grafana).toBeFalsy();
    const yes = onTerminal(['allocate', '-s', 'grafana'], 'y\n');
    expect(yes.status).toBe(0);
    expect(yes.stdout).toMatch(/Allocated port: \d+/);
    expect(readConfig().service_types.grafana.auto_allocated).toBeDefined();
  });
});

describe('undo-auto-allocation', () => {
  test('refuses while live allocations use the type; --force releases them; the backup holds the previous config', () => {
    const owner = sleeper();
    try {
      expect(box.run(['allocate', '-s', 'test-service', '--pid', String(owner.pid), '-q']).code).toBe(0);
      const withType = fs.readFileSync(configPath(), 'utf8');
      const refused = box.run(['config', 'undo-auto-allocation', 'test-service', '--json']);
      expect(refused.code).toBe(7);
      expect(fs.readFileSync(configPath(), 'utf8')).toBe(withType);
      const done = box.run(['config', 'undo-auto-allocation', 'test-service', '--force', '--json']);
      expect(done.code).toBe(0);
      expect(done.json).toMatchObject({ serviceType: 'test-service', released: [expect.objectContaining({ serviceType: 'test-service' })] });
      expect(readConfig().service_types['test-service']).toBeUndefined();
      expect(fs.readFileSync(done.json.backup, 'utf8')).toBe(withType);
      expect(box.run(['list', '--json']).json.allocations).toEqual([]);
      expect(auditEvents().map((e) => e.action)).toEqual(expect.arrayContaining(['auto-allocate', 'release', 'undo-auto-allocation']));
    } finally {
      owner.kill('SIGKILL');
    }
  });

  test('without a name the newest goes; built-in types and unknown names are refused', () => {
    box.run(['allocate', '-s', 'first-type', '--dry-run']);
    expect(box.run(['config', 'undo-auto', '--json']).code).toBe(8);
    const owner = sleeper();
    try {
      box.run(['allocate', '-s', 'older', '--persistent', '-q']);
      box.run(['allocate', '-s', 'newer', '--persistent', '-q']);
      box.run(['release', '-s', 'newer']);
      expect(box.run(['config', 'undo-auto', '--json']).json.serviceType).toBe('newer');
      expect(box.run(['config', 'undo-auto', 'dev', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
      expect(box.run(['config', 'undo-auto', 'nosuch', '--json']).code).toBe(8);
      expect(Object.keys(readConfig().service_types)).toEqual(['older']);
    } finally {
      owner.kill('SIGKILL');
    }
  });
});

describe('rules and settings from the CLI', () => {
  test('set-rule keeps file order, updates in place, remove-rule removes; bad input changes nothing', () => {
    box.run(['config', 'auto-allocation', 'set-rule', 'a-*', '--chunk-size', '5']);
    box.run(['config', 'auto-allocation', 'set-rule', 'b-*', '--placement', 'smart']);
    const updated = box.run(['config', 'auto-allocation', 'set-rule', 'a-*', '--preferred-range-start', '5400', '--json']).json;
    expect(updated).toMatchObject({ rule: { chunk_size: 5, preferred_range_start: 5400 }, previous: { chunk_size: 5 }, order: ['a-*', 'b-*'] });
    const before = snapshot();
    for (const args of [
      ['set-rule', 'bad pattern', '--chunk-size', '5'],
      ['set-rule', 'x-*'],
      ['set-rule', 'x-*', '--chunk-size', '0'],
      ['set-rule', '__proto__', '--chunk-size', '3'],
      ['set-rule', '123', '--chunk-size', '3'],
      ['set-rule', 'x-*', '--preferred-range-start', '80'],
    ]) {
      const r = box.run(['config', 'auto-allocation', ...args, '--json']);
      expect([r.code, r.json.error.code]).toEqual([3, 'INVALID_ARGUMENT']);
    }
    expect(box.run(['config', 'auto-allocation', 'remove-rule', 'nope-*']).code).toBe(8);
    const after = snapshot();
    delete after['audit.log'];
    delete before['audit.log'];
    expect(after).toEqual(before);
    expect(box.run(['config', 'auto-allocation', 'remove-rule', 'a-*', '--json']).json.order).toEqual(['b-*']);
  });

  test('every auto-allocation.* key can be set with config set', () => {
    const settings: [string, string, string, unknown][] = [
      ['enabled', 'false', 'enabled', false],
      ['default-chunk-size', '25', 'default_chunk_size', 25],
      ['placement', 'smart', 'placement', 'smart'],
      ['min-port', '12000', 'min_port', 12000],
      ['max-port', '40000', 'max_port', 40000],
      ['preserve-gaps', 'false', 'preserve_gaps', false],
      ['gap-size', '5', 'gap_size', 5],
      ['require-confirmation', 'true', 'require_confirmation', true],
      ['port-docs-path', 'ports.md', 'port_docs_path', 'ports.md'],
    ];
    for (const [key, value] of settings) expect(box.run(['config', 'set', `auto-allocation.${key}`, value]).code).toBe(0);
    const auto = readConfig().auto_allocation;
    for (const [, , field, expected] of settings) expect(auto[field]).toEqual(expected);
    // min_port 50000 above max_port 40000: refused as a whole config
    expect(box.run(['config', 'set', 'auto-allocation.min-port', '50000', '--json']).json.error.code).toBe('INVALID_CONFIG');
  });

  test('status shows settings, rules and the auto-allocated types, newest first', () => {
    box.run(['config', 'auto-allocation', 'set-rule', 'db-*', '--chunk-size', '5']);
    box.run(['allocate', '-s', 'one', '--persistent', '-q']);
    box.run(['allocate', '-s', 'db-two', '--persistent', '-q']);
    const status = box.run(['config', 'auto-allocation', 'status', '--json']).json;
    expect(status).toMatchObject({ enabled: true, rules: [{ pattern: 'db-*', chunk_size: 5 }] });
    expect(status.autoAllocated.map((t: { serviceType: string }) => t.serviceType)).toEqual(['db-two', 'one']);
    expect(status.autoAllocated[0].rule).toBe('db-*');
    expect(status.recent.map((e: { serviceType: string }) => e.serviceType)).toEqual(['db-two', 'one']);
    expect(box.run(['config', 'auto-allocation', 'status']).stdout).toContain('Auto-allocation is enabled');
  });
});

describe('auto-allocation with single-instance services', () => {
  test('a rule can make new types single: concurrent callers share one range and one instance', async () => {
    await boundedConfig({ auto_allocation_rules: { 'rag-*': { instance_behavior: 'single' } } });
    const results = await Promise.all(
      Array.from({ length: 5 }, (_, i) => box.start(['allocate', '-s', 'rag-docs', '-n', `agent${i}`, '--persistent', '--json'])),
    );
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0, 0]);
    expect(new Set(results.map((r) => r.json.port)).size).toBe(1);
    expect(results.filter((r) => r.json.autoAllocated)).toHaveLength(1);
    expect(results.filter((r) => r.json.existing)).toHaveLength(4);
    expect(readConfig().service_types['rag-docs']).toMatchObject({ instance_behavior: 'single' });
    expect(box.run(['list', '--json']).json.allocations).toHaveLength(1);
  });
});
