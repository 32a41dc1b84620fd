import type { Config, InstanceBehavior, ServiceType } from './types';

/**
 * A service type or rule that does not say: many instances at once. The one place this default
 * is stated; the schema leaves `instance_behavior` optional because a layer may omit it.
 */
export const DEFAULT_INSTANCE_BEHAVIOR: InstanceBehavior = 'multi';

function type(range: [number, number], preferred: number[], description: string, examples: string[], single = false): ServiceType {
  return {
    description,
    port_range: range,
    preferred_ports: preferred,
    instance_behavior: single ? 'single' : DEFAULT_INSTANCE_BEHAVIOR,
    examples,
  };
}

/**
 * The built-in config that every other layer is merged over, and the one place every setting's
 * default is stated: the type `Config` (made from the schema) requires a value here for each
 * setting of each section. Returned fresh on each call so that no caller can mutate a shared copy.
 */
export function builtInConfig(): Config {
  return {
    service_types: {
      dev: type([3000, 3099], [3000], 'Development servers and front-end dev builds', ['Vite', 'Next.js', 'webpack-dev-server']),
      api: type([8000, 8099], [8000], 'Back-end APIs and HTTP services', ['Express', 'FastAPI', 'Django']),
      database: type([5430, 5499], [5432], 'Databases', ['PostgreSQL', 'local database containers']),
      auth: type([9099, 9199], [9099], 'Authentication services and emulators', ['Firebase Auth emulator', 'Keycloak']),
      functions: type([5000, 5099], [5001], 'Serverless function emulators', ['Firebase Functions emulator', 'Netlify functions']),
      ui: type([4000, 4099], [4000], 'UI servers and emulator consoles', ['Firebase Emulator UI']),
      hub: type([4400, 4499], [4400], 'Emulator hubs', ['Firebase Emulator Hub']),
      storybook: type([6006, 6029], [6006], 'Component explorers', ['Storybook']),
      test: type([9200, 9299], [9200], 'Test runners and test servers', ['Playwright test server', 'Cypress']),
      proxy: type([8100, 8199], [8100], 'Local proxies and tunnels', ['nginx', 'Caddy', 'mitmproxy']),
      docs: type([4100, 4199], [4100], 'Documentation servers', ['Docusaurus', 'MkDocs', 'VitePress']),
      monitoring: type([3100, 3199], [3100], 'Monitoring and observability', ['Grafana', 'Prometheus', 'Jaeger']),
      build: type([8200, 8299], [8200], 'Build tools and bundler servers', ['esbuild serve', 'Turbopack']),
      infrastructure: type([6370, 6399], [6379], 'Infrastructure services', ['Redis', 'Memcached']),
      ai: type([11400, 11499], [11430], 'AI inference servers, LLMs, embedding and RAG services', ['Ollama', 'llama.cpp server', 'RAG service'], true),
      messaging: type([9050, 9098], [9050], 'Message brokers and queues', ['RabbitMQ', 'NATS']),
      coordination: type([9870, 9899], [9870], 'Coordination services', ['MCP servers', 'agent coordinators']),
    },
    auto_allocation: {
      enabled: true,
      default_chunk_size: 10,
      placement: 'after',
      min_port: 10000,
      max_port: 65000,
      preserve_gaps: true,
      gap_size: 10,
      require_confirmation: false,
      port_docs_path: null,
    },
    auto_allocation_rules: {},
    lifetime: { reservation_grace_seconds: 60 },
    // Ten minutes outlasts TIME_WAIT everywhere (60 s on Linux, up to 240 s on Windows) and a
    // quick restart or a coffee break, while an idle range still reuses ports the same hour.
    port_reuse: { cooldown_seconds: 600, home_port_days: 7, home_port_limit: 200 },
    urls: { host_style: 'localhost' },
    // The hook runs servers under Styxy unless a project turns it off; a session's servers end with it.
    agents: { hook: true, keep_servers: false },
  };
}
