#!/usr/bin/env node
// `npm run bench`: Styxy's speed as ratios to Node's own start-up, measured in one run so that a
// noisy shared machine moves both sides alike. Prints one table. Not a test: nothing here fails.
'use strict';
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const root = path.resolve(__dirname, '..');
const bin = path.join(root, 'bin', 'styxy');
const RUNS = Number(process.env.BENCH_RUNS || 21);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-bench-'));
let homes = 0;
const freshHome = () => path.join(tmp, `home${homes++}`);
const envFor = (home) => ({ ...process.env, STYXY_HOME: home, NO_COLOR: '1' });

function timeOnce(args, env) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  return { ms, stdout: String(r.stdout) };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

/** Median of `a` and of `b`, taken alternately so drift hits both. */
function alternate(a, b, runs = RUNS) {
  const ta = [];
  const tb = [];
  a();
  b();
  for (let i = 0; i < runs; i++) {
    ta.push(a());
    tb.push(b());
  }
  return [median(ta), median(tb)];
}

const node = () => timeOnce(['-e', ''], process.env).ms;

function concurrent(count, args, env) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let left = count;
    const outs = [];
    let failures = 0;
    for (let i = 0; i < count; i++) {
      const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', (code) => {
        if (code !== 0) failures++;
        outs.push(out.trim());
        if (--left === 0) resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, outs, failures });
      });
    }
  });
}

/** A state with `n` live persistent allocations, written directly. */
function seedState(home, n) {
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const allocations = [];
  for (let i = 0; i < n; i++) {
    allocations.push({
      lockId: `seed-i${i}-aaaaaa`,
      serviceType: `seed${i % 500}`,
      instanceId: `i${i}`,
      port: 20000 + i,
      project: '/bench',
      owner: { kind: 'persistent' },
      allocatedAt: new Date().toISOString(),
    });
  }
  fs.writeFileSync(path.join(home, 'state.json'), JSON.stringify({ version: 1, allocations }), { mode: 0o600 });
}

async function main() {
  const rows = [];
  const row = (measure, value, target) => rows.push([measure, value, target]);

  // 1. One allocate --json vs node -e ''. A fresh home for each batch keeps the range from filling.
  {
    const home = freshHome();
    let n = 0;
    const [s, b] = alternate(() => {
      if (++n % 50 === 0) timeOnce([bin, 'cleanup', '--force', '--yes'], envFor(home));
      return timeOnce([bin, 'allocate', '-s', 'api', '--json', '--persistent'], envFor(home)).ms;
    }, node);
    row(`1. allocate --json: ${s.toFixed(1)} ms / node -e '': ${b.toFixed(1)} ms`, (s / b).toFixed(2), '≤ 1.35');
  }
  // 2. --version and list --json vs node.
  {
    const [s, b] = alternate(() => timeOnce([bin, '--version'], process.env).ms, node);
    row(`2. --version: ${s.toFixed(1)} ms / node: ${b.toFixed(1)} ms`, (s / b).toFixed(2), '≤ 1.15');
    const home = freshHome();
    timeOnce([bin, 'allocate', '-s', 'dev', '--persistent'], envFor(home));
    const [l, b2] = alternate(() => timeOnce([bin, 'list', '--json'], envFor(home)).ms, node);
    row(`2. list --json: ${l.toFixed(1)} ms / node: ${b2.toFixed(1)} ms`, (l / b2).toFixed(2), '');
  }
  // 3. 50 at once vs 50 node at once, median of 3.
  {
    const ratios = [];
    const detail = [];
    for (let i = 0; i < 3; i++) {
      const home = freshHome();
      const s = await concurrent(50, [bin, 'allocate', '-s', 'api', '-q', '--persistent'], envFor(home));
      const b = await concurrent(50, ['-e', ''], process.env);
      const ports = s.outs.filter(Boolean);
      const duplicates = ports.length - new Set(ports).size;
      ratios.push(s.ms / b.ms);
      detail.push({ ratio: s.ms / b.ms, failures: s.failures, duplicates, ms: s.ms, nodeMs: b.ms });
    }
    const mid = detail.sort((a, b) => a.ratio - b.ratio)[1];
    const worst = { failures: Math.max(...detail.map((d) => d.failures)), duplicates: Math.max(...detail.map((d) => d.duplicates)) };
    row(
      `3. 50 allocate at once: ${mid.ms.toFixed(0)} ms / 50 node: ${mid.nodeMs.toFixed(0)} ms (failures ${worst.failures}, duplicate ports ${worst.duplicates})`,
      mid.ratio.toFixed(2),
      '≤ 1.6, 0, 0',
    );
  }
  // 4. allocate with 0, 1 000 and 10 000 live allocations in the state.
  {
    // The three states are sampled in turn, so that a change in the machine's load hits all alike.
    const homes = {};
    for (const n of [0, 1000, 10000]) {
      homes[n] = freshHome();
      seedState(homes[n], n);
    }
    const samples = { 0: [], 1000: [], 10000: [] };
    for (let i = 0; i < Math.max(7, Math.floor(RUNS / 2)); i++) {
      for (const n of [0, 1000, 10000]) samples[n].push(timeOnce([bin, 'allocate', '-s', 'dev', '--json', '--dry-run'], envFor(homes[n])).ms);
    }
    const times = { 0: median(samples[0]), 1000: median(samples[1000]), 10000: median(samples[10000]) };
    row(`4. allocate, 1 000 allocations: ${times[1000].toFixed(1)} ms / empty: ${times[0].toFixed(1)} ms`, (times[1000] / times[0]).toFixed(2), '');
    row(`4. allocate, 10 000 allocations: ${times[10000].toFixed(1)} ms / empty: ${times[0].toFixed(1)} ms`, (times[10000] / times[0]).toFixed(2), '≤ 1.5');
  }
  // 5. In-process: the singleton check (planAllocation on a single-instance type with 10 000
  // allocations in the state) and the auto-allocation range placement.
  {
    const { planAllocation } = require(path.join(root, 'dist/lib/core/allocation.js'));
    const { builtInConfig } = require(path.join(root, 'dist/lib/core/defaults.js'));
    const config = builtInConfig();
    const allocations = [];
    for (let i = 0; i < 10000; i++) {
      allocations.push({ lockId: `x${i}`, serviceType: i === 9999 ? 'ai' : 'api', instanceId: `i${i}`, port: 20000 + i, project: '/p', owner: { kind: 'persistent' }, allocatedAt: '' });
    }
    const state = { version: 1, allocations };
    const request = { serviceType: 'ai', instanceId: 'rag', project: '/p', owner: { kind: 'persistent' } };
    const samples = [];
    for (let i = 0; i < 201; i++) {
      const t0 = process.hrtime.bigint();
      const plan = planAllocation(config, state, request);
      samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (plan.kind !== 'existing') throw new Error('singleton check did not find the holder');
    }
    row('5. singleton check, 10 000 allocations in the state (in-process, median)', `${median(samples).toFixed(3)} ms`, '< 1 ms');
    // Range placement with 500 configured types, a rule list to match through minimatch, this
    // machine's real listeners and ephemeral range; the slowest of the three placements.
    const { placeRange } = require(path.join(root, 'dist/lib/core/range-placement.js'));
    const { globMatch } = require(path.join(root, 'dist/lib/app/auto-allocate.js'));
    const { readListeners, readEphemeralRange } = require(path.join(root, 'dist/lib/os/ports.js'));
    const many = builtInConfig();
    for (let i = 0; many.service_types && Object.keys(many.service_types).length < 500; i++) {
      const low = 12000 + i * 37;
      many.service_types[`svc-${i}`] = { port_range: [low, low + 9 + (i % 5)] };
    }
    for (let i = 0; i < 20; i++) many.auto_allocation_rules[`team${i}-*`] = { chunk_size: 5 + i };
    const facts = { listeningPorts: (readListeners() || []).map((l) => l.port), heldPorts: allocations.slice(0, 1000).map((a) => a.port), ephemeral: readEphemeralRange() };
    let worst = 0;
    for (const placement of ['after', 'before', 'smart']) {
      const config = { ...many, auto_allocation: { ...many.auto_allocation, placement } };
      const placementSamples = [];
      for (let i = 0; i < 201; i++) {
        const t0 = process.hrtime.bigint();
        const outcome = placeRange({ serviceType: 'monitoring-new', config, facts, match: globMatch });
        placementSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (outcome.kind !== 'placed') throw new Error(`placement ${placement} found no range`);
      }
      worst = Math.max(worst, median(placementSamples));
    }
    row('5. auto-allocation range placement, 500 types (in-process, median, slowest placement)', `${worst.toFixed(3)} ms`, '< 20 ms');
  }

  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`Styxy benchmark — node ${process.version}, ${os.cpus().length} cores, ${RUNS} runs per median\n`);
  console.log(`${'measure'.padEnd(width)}  ${'ratio/value'.padEnd(12)}  target`);
  for (const [m, v, t] of rows) console.log(`${m.padEnd(width)}  ${String(v).padEnd(12)}  ${t}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

main().catch((err) => {
  console.error(err);
  fs.rmSync(tmp, { recursive: true, force: true });
  process.exit(1);
});

// ---- Other Nodes, and the in-process API (self-contained; runs once the table above is out) ----
// 6. allocate / node -e '' on Node 18, 22 and 24, binaries from the npm registry (`npm i node@N`
//    in a scratch folder kept under the temp dir; BENCH_NODE_<N>=/path/to/node names one
//    instead). The bundle's code cache is the building Node's, so each of these makes its own on
//    its first call (lib/boot.ts): the first call is left out, and timing starts from the second.
// 7. The API in this process: the median of one allocate, and of one withPort around nothing.
// NODE_EXTRA_CA_CERTS is unset on both sides: users do not set it, and on Node 18 and 20 it
// adds the parsing of a CA bundle to every start, flattering every ratio.
process.once('beforeExit', () => {
  benchNodesAndApi().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
});

async function benchNodesAndApi() {
  const runs = Number(process.env.BENCH_RUNS || 21);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-bench-nodes-'));
  const plainEnv = (extra = {}) => {
    const env = { ...process.env, NO_COLOR: '1', ...extra };
    delete env.NODE_EXTRA_CA_CERTS;
    return env;
  };
  const once = (exe, args, env) => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(exe, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')} failed: ${r.stderr}`);
    return ms;
  };
  const mid = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = [];
  try {
    for (const version of [18, 22, 24]) {
      const exe = process.env[`BENCH_NODE_${version}`] || installNode(version);
      if (!exe) {
        rows.push([`6. allocate / node on Node ${version}`, 'skipped', 'no binary (npm i node@' + version + ' failed)']);
        continue;
      }
      const env = plainEnv({ STYXY_HOME: path.join(scratch, `home${version}`), XDG_CACHE_HOME: path.join(scratch, `cache${version}`) });
      const nodeEnv = plainEnv();
      const allocate = [bin, 'allocate', '-s', 'api', '--json', '--persistent'];
      once(exe, allocate, env); // the first call: makes this Node's code cache
      const s = [];
      const b = [];
      const f = [];
      for (let i = 0; i < runs; i++) {
        if (i % 40 === 39) once(exe, [bin, 'cleanup', '--force', '--yes'], env);
        s.push(once(exe, allocate, env));
        b.push(once(exe, ['-e', ''], nodeEnv));
        f.push(once(exe, ['-e', "require('fs')"], nodeEnv));
      }
      const version_ = spawnSync(exe, ['--version'], { encoding: 'utf8' }).stdout.trim();
      // Beside it, the ratio to a program that only requires fs: on Node 18 that alone loads
      // stream (the ES-module face of fs reads fs.promises), a floor no program that reads a
      // file can go under.
      rows.push([
        `6. allocate --json on Node ${version_}: ${mid(s).toFixed(1)} ms / node -e '': ${mid(b).toFixed(1)} ms (/ node -e "require('fs')": ${(mid(s) / mid(f)).toFixed(2)})`,
        (mid(s) / mid(b)).toFixed(2),
        '≤ 1.35',
      ]);
    }
    const api = require(path.join(root, 'dist', 'api.js'));
    const home = path.join(scratch, 'api-home');
    await (await api.allocate({ serviceType: 'api', home })).release();
    const a = [];
    const w = [];
    for (let i = 0; i < Math.max(runs, 51); i++) {
      let t0 = process.hrtime.bigint();
      const allocation = await api.allocate({ serviceType: 'api', home });
      a.push(Number(process.hrtime.bigint() - t0) / 1e6);
      await allocation.release();
      t0 = process.hrtime.bigint();
      await api.withPort({ serviceType: 'api', home }, () => undefined);
      w.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    rows.push(['7. API: allocate in-process (median, after the first call)', `${mid(a).toFixed(2)} ms`, 'a few ms']);
    rows.push(['7. API: withPort around nothing (allocate + release, median)', `${mid(w).toFixed(2)} ms`, '']);
  } finally {
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log('');
  for (const [m, v, t] of rows) console.log(`${m.padEnd(width)}  ${String(v).padEnd(12)}  ${t}`);

  /** node@N from the npm registry, installed once into a folder kept between bench runs. */
  function installNode(n) {
    const dir = path.join(os.tmpdir(), 'styxy-bench-node-binaries', `node${n}`);
    const exe = path.join(dir, 'node_modules', 'node', 'bin', 'node');
    if (fs.existsSync(exe)) return exe;
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), '{"private":true}');
    const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `node@${n}`], { cwd: dir, stdio: 'ignore', timeout: 300_000 });
    return r.status === 0 && fs.existsSync(exe) ? exe : null;
  }
}
