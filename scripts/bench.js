#!/usr/bin/env node
// `npm run bench`: Styxy's speed as ratios to Node's own start-up, measured in one run so that a
// noisy shared machine moves both sides alike. Prints one table. Not a test: nothing here fails.
//
// NODE_EXTRA_CA_CERTS is removed from the environment of both sides of every comparison: on
// Node 18 and 20 it makes every start parse the whole CA bundle (~105 ms instead of ~30 ms), which
// flatters every ratio, and users' machines do not set it.
//
// Each row is a self-contained function in ROWS below: it measures, then calls row(...) once or
// more. Add a measurement by adding a function to that list.
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

/** The environment both sides run in: this one without NODE_EXTRA_CA_CERTS. */
const baseEnv = { ...process.env };
delete baseEnv.NODE_EXTRA_CA_CERTS;
const envFor = (home) => ({ ...baseEnv, STYXY_HOME: home, NO_COLOR: '1' });

// /usr/bin/time reports a child's peak RSS; without it the RSS column says so.
const TIME = ['/usr/bin/time', '/bin/time'].find((p) => fs.existsSync(p));

function timeOnce(args, env, { rss = false, input } = {}) {
  const [file, argv] = rss && TIME ? [TIME, ['-f', '%M', process.execPath, ...args]] : [process.execPath, args];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(file, argv, { env, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed: ${r.stderr}`);
  const maxRssKb = rss && TIME ? Number(String(r.stderr).trim().split('\n').pop()) : NaN;
  return { ms, stdout: String(r.stdout), maxRssKb };
}

const sorted = (xs) => [...xs].sort((a, b) => a - b);
const median = (xs) => sorted(xs)[Math.floor(xs.length / 2)];
const percentile = (xs, p) => sorted(xs)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)];

/** The median of each of `measures`, taken in turn so that drift hits them all. */
function alternate(...measures) {
  const times = measures.map(() => []);
  for (const measure of measures) measure();
  for (let i = 0; i < RUNS; i++) measures.forEach((measure, k) => times[k].push(measure()));
  return times.map(median);
}

const node = () => timeOnce(['-e', ''], baseEnv).ms;
/** The design's floor (scripts/bench-floor.js): the I/O of one allocate with no Styxy code. */
const floorScript = path.join(__dirname, 'bench-floor.js');

/** CPU time (user + system, ms) of this process's children that have ended and been reaped. */
const CLOCK_TICK_MS = 1000 / (Number(spawnSync('getconf', ['CLK_TCK']).stdout) || 100);
function childrenCpuMs() {
  try {
    const text = fs.readFileSync('/proc/self/stat', 'utf8');
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    // After the name: cutime(16) cstime(17) → indexes 13 and 14.
    return (Number(fields[13]) + Number(fields[14])) * CLOCK_TICK_MS;
  } catch {
    return NaN;
  }
}

/**
 * `count` processes at once; the wall time of the batch and of each call, failures, outputs, and
 * their CPU. `env` is one environment for all, or a function giving the i-th its own.
 */
function concurrent(count, args, env) {
  return new Promise((resolve) => {
    const cpu0 = childrenCpuMs();
    const t0 = process.hrtime.bigint();
    let left = count;
    const outs = [];
    const calls = [];
    let failures = 0;
    for (let i = 0; i < count; i++) {
      const started = process.hrtime.bigint();
      const child = spawn(process.execPath, args, { env: typeof env === 'function' ? env(i) : env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.on('close', (code) => {
        calls.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (code !== 0) failures++;
        else outs.push(out.trim());
        if (--left === 0) resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, outs, failures, calls, cpuMs: childrenCpuMs() - cpu0 });
      });
    }
  });
}

const duplicates = (outs) => outs.length - new Set(outs).size;

/** A home whose config gives the crowd type `n` ports nothing else uses. */
function crowdHome(n) {
  const home = freshHome();
  fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify({ service_types: { crowd: { port_range: [40000, 40000 + n + 99] } } }), { mode: 0o600 });
  return home;
}
const crowdArgs = [bin, 'allocate', '-s', 'crowd', '-q', '--persistent'];

/** The text of a state with `n` live persistent allocations. */
function seededState(n) {
  const allocations = [];
  for (let i = 0; i < n; i++) {
    allocations.push({
      lockId: `seed-i${i}-aaaaaa`,
      serviceType: `seed${i % 500}`,
      instanceId: `i${i}`,
      port: 10000 + i,
      project: '/bench',
      owner: { kind: 'persistent' },
      allocatedAt: new Date().toISOString(),
    });
  }
  return JSON.stringify({ version: 1, allocations });
}

/**
 * Real, written allocations against a state of `n` allocations and against an empty one, sampled
 * in turn. The state is seeded as one JSON document; the first call settles its persistent
 * allocations into a file of their own (lib/core/settled.ts) and is timed alone; before each
 * later call the home is put back as that call left it, so each adds one allocation to the same
 * state and writes it.
 */
function writtenAgainst(n, runs, { rss = false } = {}) {
  const seeded = seededState(n);
  const big = freshHome();
  const empty = freshHome();
  // The design's floor on the same states, as one JSON document: the parse and the rewrite alone.
  const floorBig = freshHome();
  const floorEmpty = freshHome();
  for (const home of [big, empty, floorBig, floorEmpty]) fs.mkdirSync(home, { recursive: true, mode: 0o700 });
  const args = [bin, 'allocate', '-s', 'dev', '--json', '--persistent'];
  fs.writeFileSync(path.join(big, 'state.json'), seeded, { mode: 0o600 });
  const first = timeOnce(args, envFor(big), { rss });
  const kept = new Map(
    fs
      .readdirSync(big)
      .filter((name) => /^state\.(json|settled-.*\.json)$/.test(name))
      .map((name) => [name, fs.readFileSync(path.join(big, name))]),
  );
  const putBack = () => {
    for (const name of fs.readdirSync(big)) if (name.startsWith('state.settled-') && !kept.has(name)) fs.rmSync(path.join(big, name));
    for (const [name, bytes] of kept) fs.writeFileSync(path.join(big, name), bytes, { mode: 0o600 });
  };
  const bigTimes = [];
  const emptyTimes = [];
  const floorTimes = [[], []];
  let maxRssKb = 0;
  for (let i = 0; i <= runs; i++) {
    putBack();
    fs.rmSync(path.join(empty, 'state.json'), { force: true });
    const b = timeOnce(args, envFor(big), { rss });
    const e = timeOnce(args, envFor(empty));
    if (JSON.parse(b.stdout).existing !== false) throw new Error('the allocation was not new');
    fs.writeFileSync(path.join(floorBig, 'state.json'), seeded, { mode: 0o600 });
    fs.rmSync(path.join(floorEmpty, 'state.json'), { force: true });
    const fb = timeOnce([floorScript], envFor(floorBig));
    const fe = timeOnce([floorScript], envFor(floorEmpty));
    if (i === 0) continue; // warm-up
    bigTimes.push(b.ms);
    emptyTimes.push(e.ms);
    floorTimes[0].push(fb.ms);
    floorTimes[1].push(fe.ms);
    maxRssKb = Math.max(maxRssKb, b.maxRssKb);
  }
  return {
    big: median(bigTimes),
    empty: median(emptyTimes),
    first: first.ms,
    firstRssKb: first.maxRssKb,
    floor: median(floorTimes[0]) / median(floorTimes[1]),
    maxRssKb,
  };
}

const ROWS = [
  // allocate --json vs node -e ''. A fresh home for each batch keeps the range from filling.
  // Beside them, the floor of the design in its own home (emptied as often): the same lock, reads,
  // probe, durable write and release with no Styxy code, which no implementation can go under.
  function allocateVsNode(row) {
    const home = freshHome();
    const floorHome = freshHome();
    let n = 0;
    let f = 0;
    const [s, b, floor] = alternate(
      () => {
        if (++n % 50 === 0) timeOnce([bin, 'cleanup', '--force', '--yes'], envFor(home));
        return timeOnce([bin, 'allocate', '-s', 'api', '--json', '--persistent'], envFor(home)).ms;
      },
      node,
      () => {
        if (++f % 50 === 0) fs.rmSync(path.join(floorHome, 'state.json'), { force: true });
        return timeOnce([floorScript], envFor(floorHome)).ms;
      },
    );
    row(`allocate --json: ${s.toFixed(1)} ms / node -e '': ${b.toFixed(1)} ms`, (s / b).toFixed(2), '');
    row(`  the design's floor (scripts/bench-floor.js): ${floor.toFixed(1)} ms / node -e ''`, (floor / b).toFixed(2), '');
    row(`  allocate / the floor: what Styxy adds to the least its design costs`, (s / floor).toFixed(2), '≤ 1.10');
  },

  function versionVsNode(row) {
    const [s, b] = alternate(() => timeOnce([bin, '--version'], baseEnv).ms, node);
    row(`--version: ${s.toFixed(1)} ms / node: ${b.toFixed(1)} ms`, (s / b).toFixed(2), '≤ 1.10');
  },

  // 50 at once vs 50 node at once, median of 3. Beside it, two crowds that never wait: the same 50
  // allocate each in a home of its own, and 50 of the design's floor, each in its own home.
  async function fiftyAtOnce(row) {
    const detail = [];
    const apart = [];
    const floors = [];
    const homesOf = (make) => {
      const homes = Array.from({ length: 50 }, make);
      return (i) => envFor(homes[i]);
    };
    for (let i = 0; i < 3; i++) {
      const s = await concurrent(50, crowdArgs, envFor(crowdHome(50)));
      const b = await concurrent(50, ['-e', ''], baseEnv);
      const a = await concurrent(
        50,
        crowdArgs,
        homesOf(() => crowdHome(50)),
      );
      const f = await concurrent(50, [floorScript], homesOf(freshHome));
      detail.push({ ratio: s.ms / b.ms, failures: s.failures, duplicates: duplicates(s.outs), ms: s.ms, nodeMs: b.ms });
      apart.push(a.ms / b.ms);
      floors.push(f.ms / b.ms);
      if (a.failures || f.failures) throw new Error('a crowd that never waits had failures');
    }
    const mid = detail.sort((a, b) => a.ratio - b.ratio)[1];
    const failures = Math.max(...detail.map((d) => d.failures));
    const dups = Math.max(...detail.map((d) => d.duplicates));
    row(
      `50 allocate at once: ${mid.ms.toFixed(0)} ms / 50 node: ${mid.nodeMs.toFixed(0)} ms (failures ${failures}, duplicate ports ${dups}; worst of 3)`,
      mid.ratio.toFixed(2),
      '≤ 1.4, 0, 0',
    );
    row(`  the same 50, each in a home of its own (nobody waits) / 50 node`, median(apart).toFixed(2), '');
    row(`  50 of the design's floor at once, each in its own home / 50 node`, median(floors).toFixed(2), '');
  },

  async function hundredAtOnce(row) {
    const s = await concurrent(100, crowdArgs, envFor(crowdHome(100)));
    const b = await concurrent(100, ['-e', ''], baseEnv);
    row(
      `100 allocate at once: ${s.ms.toFixed(0)} ms / 100 node: ${b.ms.toFixed(0)} ms (failures ${s.failures}, duplicate ports ${duplicates(s.outs)})`,
      (s.ms / b.ms).toFixed(2),
      '≤ 1.5, 0, 0',
    );
    row(
      `  one call of the 100: p50 ${percentile(s.calls, 50).toFixed(0)} ms, p95 ${percentile(s.calls, 95).toFixed(0)} ms, max ${Math.max(...s.calls).toFixed(0)} ms`,
      '',
      '',
    );
    row(`  CPU of the 100: ${(s.cpuMs / 1000).toFixed(2)} s / 100 node: ${(b.cpuMs / 1000).toFixed(2)} s`, (s.cpuMs / b.cpuMs).toFixed(2), '');
  },

  async function threeHundredAtOnce(row) {
    const s = await concurrent(300, crowdArgs, envFor(crowdHome(300)));
    row(
      `300 allocate at once: ${(s.ms / 1000).toFixed(1)} s wall, CPU ${(s.cpuMs / 1000).toFixed(1)} s (failures ${s.failures}, duplicate ports ${duplicates(s.outs)})`,
      `${s.failures}, ${duplicates(s.outs)}`,
      '0, 0',
    );
  },

  function tenThousandWritten(row) {
    const r = writtenAgainst(10_000, Math.max(7, Math.floor(RUNS / 2)));
    row(`allocate (written), 10 000 allocations: ${r.big.toFixed(1)} ms / empty: ${r.empty.toFixed(1)} ms`, (r.big / r.empty).toFixed(2), '≤ 1.5');
    row(`  the first call, which settles them: ${r.first.toFixed(0)} ms`, '', '');
    row(`  the floor of one JSON document (the layout before), 10 000 / empty`, r.floor.toFixed(2), '');
  },

  function fiftyThousandWritten(row) {
    const r = writtenAgainst(50_000, 5, { rss: true });
    const rss = Number.isFinite(r.maxRssKb) && r.maxRssKb > 0 ? `${(r.maxRssKb / 1024).toFixed(0)} MB max RSS` : 'max RSS not measured (no /usr/bin/time)';
    row(`allocate (written), 50 000 allocations: ${r.big.toFixed(1)} ms / empty: ${r.empty.toFixed(1)} ms, ${rss}`, (r.big / r.empty).toFixed(2), '≤ 3');
    const firstRss = Number.isFinite(r.firstRssKb) && r.firstRssKb > 0 ? `, ${(r.firstRssKb / 1024).toFixed(0)} MB max RSS` : '';
    row(`  the first call, which settles them: ${r.first.toFixed(0)} ms${firstRss}`, '', '');
    row(`  the floor of one JSON document (the layout before), 50 000 / empty`, r.floor.toFixed(2), '');
  },

  // In-process: the singleton check (planAllocation on a single-instance type with 10 000
  // allocations in the state) and the auto-allocation range placement.
  function inProcess(row) {
    // The sources bundled into one file in the scratch folder, as the build bundles the CLI (the
    // build makes no tree of single modules to require).
    const lib = path.join(tmp, 'in-process.js');
    const entry = [
      "export { planAllocation } from './lib/core/allocation';",
      "export { builtInConfig } from './lib/core/defaults';",
      "export { placeRange } from './lib/core/range-placement';",
      "export { globMatch } from './lib/app/auto-allocate';",
      "export { readListeners, readEphemeralRange } from './lib/os/ports';",
    ].join('\n');
    require('esbuild').buildSync({
      stdin: { contents: entry, resolveDir: root, loader: 'ts' },
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      outfile: lib,
      logLevel: 'warning',
    });
    const { planAllocation, builtInConfig, placeRange, globMatch, readListeners, readEphemeralRange } = require(lib);
    const config = builtInConfig();
    const allocations = [];
    for (let i = 0; i < 10000; i++) {
      allocations.push({
        lockId: `x${i}`,
        serviceType: i === 9999 ? 'ai' : 'api',
        instanceId: `i${i}`,
        port: 20000 + i,
        project: '/p',
        owner: { kind: 'persistent' },
        allocatedAt: '',
      });
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
    row('singleton check, 10 000 allocations in the state (in-process, median)', `${median(samples).toFixed(3)} ms`, '< 1 ms');
    // Range placement with 500 configured types, a rule list to match through minimatch, this
    // machine's real listeners and ephemeral range; the slowest of the three placements.
    const many = builtInConfig();
    for (let i = 0; many.service_types && Object.keys(many.service_types).length < 500; i++) {
      const low = 12000 + i * 37;
      many.service_types[`svc-${i}`] = { port_range: [low, low + 9 + (i % 5)] };
    }
    for (let i = 0; i < 20; i++) many.auto_allocation_rules[`team${i}-*`] = { chunk_size: 5 + i };
    const facts = {
      listeningPorts: (readListeners() || []).map((l) => l.port),
      heldPorts: allocations.slice(0, 1000).map((a) => a.port),
      ephemeral: readEphemeralRange(),
    };
    let worst = 0;
    for (const placement of ['after', 'before', 'smart']) {
      const placed = { ...many, auto_allocation: { ...many.auto_allocation, placement } };
      const placementSamples = [];
      for (let i = 0; i < 201; i++) {
        const t0 = process.hrtime.bigint();
        const outcome = placeRange({ serviceType: 'monitoring-new', config: placed, facts, match: globMatch });
        placementSamples.push(Number(process.hrtime.bigint() - t0) / 1e6);
        if (outcome.kind !== 'placed') throw new Error(`placement ${placement} found no range`);
      }
      worst = Math.max(worst, median(placementSamples));
    }
    row('auto-allocation range placement, 500 types (in-process, median, slowest placement)', `${worst.toFixed(3)} ms`, '< 20 ms');
  },

  // A batch of three types in one allocate vs one type, each in a home of its own (cleaned every
  // 50 calls, outside the timing, so that no range fills).
  function batchVsOne(row) {
    const batchHome = freshHome();
    const singleHome = freshHome();
    let n = 0;
    const timed = (home, types) => {
      if (++n % 50 === 0) timeOnce([bin, 'cleanup', '--force', '--yes'], envFor(home));
      const r = timeOnce([bin, 'allocate', ...types.flatMap((t) => ['-s', t]), '--json', '--persistent'], envFor(home));
      const out = JSON.parse(r.stdout);
      if (types.length > 1 && (!out.allocations || out.allocations.length !== types.length)) throw new Error('the batch did not answer for every type');
      return r.ms;
    };
    const [batch, single] = alternate(
      () => timed(batchHome, ['dev', 'api', 'database']),
      () => timed(singleHome, ['api']),
    );
    row(`allocate -s dev -s api -s database: ${batch.toFixed(1)} ms / allocate -s api: ${single.toFixed(1)} ms`, (batch / single).toFixed(2), '≤ 1.2');
  },

  // The Claude Code hook runs on every Bash call of every agent: on a command it leaves alone it
  // must cost what Node's start-up costs (both sides read the same input on stdin), and on one it
  // rewrites no more than one allocate.
  function agentHook(row) {
    const home = freshHome();
    const project = path.join(tmp, 'hook-project');
    fs.mkdirSync(project, { recursive: true });
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { dev: 'vite' } }));
    const hookInput = (command) =>
      JSON.stringify({ session_id: 'bench', cwd: project, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command }, tool_use_id: 't1' });
    const timedWith = (args, input, env) => timeOnce(args, env, { input });
    const hook = [bin, 'hook', 'claude-code'];
    if (!/updatedInput/.test(timedWith(hook, hookInput('npm run dev'), envFor(home)).stdout)) {
      row('styxy hook claude-code', 'skipped', 'this build does not rewrite npm run dev');
      return;
    }
    const passInput = hookInput('ls -la && git status');
    const [pass, nodeMs] = alternate(
      () => timedWith(hook, passInput, envFor(home)).ms,
      () => timedWith(['-e', ''], passInput, baseEnv).ms,
    );
    row(`hook claude-code, a command it leaves alone: ${pass.toFixed(1)} ms / node -e '': ${nodeMs.toFixed(1)} ms`, (pass / nodeMs).toFixed(2), '≤ 1.05');
    const [rewrite, allocate] = alternate(
      () => timedWith(hook, hookInput('npm run dev'), envFor(home)).ms,
      () => timedWith([bin, 'allocate', '-s', 'dev', '--json'], '', envFor(home)).ms,
    );
    row(`  a command it rewrites (npm run dev): ${rewrite.toFixed(1)} ms / one allocate: ${allocate.toFixed(1)} ms`, (rewrite / allocate).toFixed(2), '≤ 1.0');
  },

  // The MCP server answers tool calls in its own process: a call's round trip over stdio, from
  // the SDK's own client, for allocate_port (then release_port, untimed) and list_ports.
  async function mcpToolCalls(row) {
    let Client, StdioClientTransport;
    try {
      ({ Client } = require('@modelcontextprotocol/sdk/client/index.js'));
      ({ StdioClientTransport } = require('@modelcontextprotocol/sdk/client/stdio.js'));
    } catch {
      row('styxy mcp tool calls', 'skipped', 'the MCP SDK is not installed');
      return;
    }
    const transport = new StdioClientTransport({ command: process.execPath, args: [bin, 'mcp'], env: envFor(freshHome()), stderr: 'ignore' });
    const client = new Client({ name: 'styxy-bench', version: '1' });
    try {
      await client.connect(transport);
    } catch (err) {
      row('styxy mcp tool calls', 'skipped', `styxy mcp did not start (${err.message})`);
      return;
    }
    const call = async (name, args) => {
      const t0 = process.hrtime.bigint();
      const r = await client.callTool({ name, arguments: args });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (r.isError) throw new Error(`${name}: ${JSON.stringify(r.content)}`);
      return { ms, r };
    };
    const allocateMs = [];
    const listMs = [];
    try {
      for (let i = 0; i < Math.max(RUNS, 51); i++) {
        const a = await call('allocate_port', { service_type: 'api' });
        allocateMs.push(a.ms);
        const text = a.r.content?.[0]?.text ?? '{}';
        const lockId = (a.r.structuredContent ?? JSON.parse(text)).lockId;
        if (lockId) await call('release_port', { lock_id: lockId });
        listMs.push((await call('list_ports', {})).ms);
      }
    } finally {
      await client.close();
    }
    row(`styxy mcp: allocate_port, one call over stdio (median of ${allocateMs.length})`, `${median(allocateMs).toFixed(2)} ms`, '≤ 10 ms');
    row(`  list_ports, one call over stdio (median)`, `${median(listMs).toFixed(2)} ms`, '≤ 10 ms');
  },
];

async function main() {
  const only = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
  const rows = [];
  let n = 0;
  for (const measure of ROWS) {
    if (only && !only.has(measure.name)) continue;
    n++;
    // The rows before wrote hundreds of fsynced states: flushed now, their writeback does not
    // land in this row's timings (the hook's row came out 1.01 and 1.10 in two runs without it).
    spawnSync('sync');
    await measure((what, value, target) => rows.push([what.startsWith('  ') ? `   ${what}` : `${n}. ${what}`, value, target]));
  }
  const width = Math.max(...rows.map((r) => r[0].length));
  report.complete = !only;
  say(
    `Styxy benchmark — node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)}, ${RUNS} runs per median, NODE_EXTRA_CA_CERTS unset\n`,
  );
  say(`${'measure'.padEnd(width)}  ${'ratio/value'.padEnd(12)}  target`);
  for (const [m, v, t] of rows) say(`${m.padEnd(width)}  ${String(v).padEnd(12)}  ${t}`);
  fs.rmSync(tmp, { recursive: true, force: true });
}

/** Everything the bench prints, kept to be written into the manual's performance page. */
const report = { lines: [], complete: false };
function say(line) {
  console.log(line);
  report.lines.push(line);
}

/**
 * docs/performance.md shows the figures of the last complete run, between two markers: they are
 * written here, never by hand. A run of some rows (BENCH_ONLY) or with BENCH_WRITE=0 writes nothing.
 */
function writeReport() {
  if (!report.complete || process.env.BENCH_WRITE === '0') return;
  const page = path.join(root, 'docs', 'performance.md');
  const text = fs.readFileSync(page, 'utf8');
  const [start, end] = ['<!-- bench:start -->', '<!-- bench:end -->'];
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from === -1 || to < from) throw new Error(`${page} has no ${start} … ${end} block to write the figures into`);
  const day = new Date().toISOString().slice(0, 10);
  const block = `${start}\nWritten by \`npm run bench\` on ${day}:\n\n\`\`\`text\n${report.lines.join('\n').trim()}\n\`\`\`\n`;
  fs.writeFileSync(page, text.slice(0, from) + block + text.slice(to));
  console.log(`\nwritten into ${path.relative(root, page)}`);
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
      const floorEnv = plainEnv({ STYXY_HOME: path.join(scratch, `floor${version}`) });
      const s = [];
      const b = [];
      const f = [];
      const floor = [];
      for (let i = 0; i < runs; i++) {
        if (i % 40 === 39) {
          once(exe, [bin, 'cleanup', '--force', '--yes'], env);
          fs.rmSync(path.join(floorEnv.STYXY_HOME, 'state.json'), { force: true });
        }
        s.push(once(exe, allocate, env));
        b.push(once(exe, ['-e', ''], nodeEnv));
        f.push(once(exe, ['-e', "require('fs')"], nodeEnv));
        floor.push(once(exe, [path.join(__dirname, 'bench-floor.js')], floorEnv));
      }
      const version_ = spawnSync(exe, ['--version'], { encoding: 'utf8' }).stdout.trim();
      // Beside it, the ratio to a program that only requires fs: on Node 18 that alone loads
      // stream (the ES-module face of fs reads fs.promises), a floor no program that reads a
      // file can go under.
      rows.push([
        `6. allocate --json on Node ${version_}: ${mid(s).toFixed(1)} ms / node -e '': ${mid(b).toFixed(1)} ms (/ node -e "require('fs')": ${(mid(s) / mid(f)).toFixed(2)})`,
        (mid(s) / mid(b)).toFixed(2),
        '',
      ]);
      rows.push([`     the design's floor on Node ${version_} / node -e ''`, (mid(floor) / mid(b)).toFixed(2), '']);
      rows.push([`     allocate / the floor on Node ${version_}`, (mid(s) / mid(floor)).toFixed(2), '≤ 1.10']);
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
  say('');
  for (const [m, v, t] of rows) say(`${m.padEnd(width)}  ${String(v).padEnd(12)}  ${t}`);
  writeReport();

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
