/**
 * Categories of service types, for the `smart` placement: a new type goes next to one of its
 * kind. A name says its category by its `category-` prefix, or by a well-known word.
 */

/** Words that put a service type in a category when its name has no `category-` prefix. */
const CATEGORY_KEYWORDS: Record<string, string> = {
  grafana: 'monitoring',
  prometheus: 'monitoring',
  jaeger: 'monitoring',
  loki: 'monitoring',
  tempo: 'monitoring',
  zipkin: 'monitoring',
  kibana: 'monitoring',
  alertmanager: 'monitoring',
  otel: 'monitoring',
  signoz: 'monitoring',
  postgres: 'database',
  postgresql: 'database',
  pg: 'database',
  mysql: 'database',
  mariadb: 'database',
  mongo: 'database',
  mongodb: 'database',
  couchdb: 'database',
  cassandra: 'database',
  clickhouse: 'database',
  sqlserver: 'database',
  cockroach: 'database',
  redis: 'infrastructure',
  memcached: 'infrastructure',
  valkey: 'infrastructure',
  kafka: 'messaging',
  rabbitmq: 'messaging',
  nats: 'messaging',
  mqtt: 'messaging',
  mosquitto: 'messaging',
  ollama: 'ai',
  llm: 'ai',
  llama: 'ai',
  vllm: 'ai',
  rag: 'ai',
  chroma: 'ai',
  chromadb: 'ai',
  qdrant: 'ai',
  embeddings: 'ai',
  vite: 'dev',
  next: 'dev',
  nuxt: 'dev',
  astro: 'dev',
  webpack: 'dev',
  storybook: 'storybook',
  nginx: 'proxy',
  caddy: 'proxy',
  traefik: 'proxy',
  mitmproxy: 'proxy',
  keycloak: 'auth',
  mcp: 'coordination',
};

/** A type's category: the part of its name before the first `-`, or what a known keyword stands for. */
export function categoryOf(serviceType: string): string {
  const head = (serviceType.split('-')[0] ?? serviceType).toLowerCase();
  return Object.prototype.hasOwnProperty.call(CATEGORY_KEYWORDS, head) ? (CATEGORY_KEYWORDS[head] as string) : head;
}
