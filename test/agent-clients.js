// The real agent clients the tools tier drives (Claude Code, Codex): which versions, where each is
// installed, and the install itself. Both are big native packages from the npm registry, kept
// between runs per version in the temporary directory.
//
// The install runs in Jest's global setup (test/global-setup.js), in Jest's own process: the
// workers each have a network namespace with only a loopback (test/netns-runner.js), where the
// registry cannot be reached. The test files then find the clients installed, or the reason why
// not.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const CLIENTS = {
  claude: { pkg: '@anthropic-ai/claude-code', version: '2.1.328' },
  codex: { pkg: '@openai/codex', version: '0.171.0' },
};

/** Where a client's install lives. */
function cacheOf(name) {
  const { pkg, version } = CLIENTS[name];
  return path.join(os.tmpdir(), `styxy-tools-${pkg.split('/').pop()}-${version}`);
}

/** The client's program. */
function binOf(name) {
  return path.join(cacheOf(name), 'node_modules', '.bin', name);
}

/** Whether the client's program answers --version. */
function runs(name) {
  return fs.existsSync(binOf(name)) && spawnSync(binOf(name), ['--version'], { encoding: 'utf8', timeout: 60_000 }).status === 0;
}

/** Installs the client when it does not run yet: null when it runs, else why not. */
function install(name) {
  if (runs(name)) return null;
  const { pkg, version } = CLIENTS[name];
  fs.mkdirSync(cacheOf(name), { recursive: true });
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', cacheOf(name), `${pkg}@${version}`], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0 || !runs(name)) return `could not install ${pkg}@${version} from the npm registry: ${(r.stderr || r.error?.message || '').slice(0, 300)}`;
  return null;
}

/**
 * For a test file: null when the client runs, else why not. Where the run must not skip them
 * (CI sets STYXY_CI_AGENT_CLIENTS=required), a client that does not run is an error instead.
 */
function skipReason(name) {
  const why = runs(name) ? null : install(name);
  if (why && process.env.STYXY_CI_AGENT_CLIENTS === 'required') throw new Error(`the tools tier needs ${name}: ${why}`);
  return why;
}

module.exports = { CLIENTS, binOf, install, skipReason };
