// Runs once in Jest's own process, before any worker starts (workers inherit its environment).
'use strict';
module.exports = (globalConfig) => {
  // The real agent clients, for a run that includes the tools tier: installed here, where the
  // registry can be reached, not in the workers' loopback-only namespaces (test/agent-clients.js).
  const pattern = globalConfig.testPathPattern ?? '';
  if (pattern === '' || /tools|claude|codex/.test(pattern)) {
    const { CLIENTS, install } = require('./agent-clients');
    for (const name of Object.keys(CLIENTS)) {
      const why = install(name);
      if (why) process.stderr.write(`test: ${why}\n`);
    }
  }
  // Only now, after the installs: npm needs the machine's extra CA certificates where a proxy
  // signs the registry's (unset, it fails with SELF_SIGNED_CERT_IN_CHAIN). With it set, every
  // Node that starts parses the whole CA bundle first (about 70 ms of CPU on Node 18 and 20): the
  // suite starts thousands of Nodes and none of them talks TLS. The bench leaves it out for the
  // same reason (CONTRIBUTING.md, Benchmark).
  delete process.env.NODE_EXTRA_CA_CERTS;
};
