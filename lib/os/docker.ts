import { DOCKER_PS_FORMAT, parseDockerPs, type ComposePublisher } from '../core/compose';

/** How long the engine has to answer: `why` and `scan` are asked by a person waiting. */
const DOCKER_PS_TIMEOUT_MS = 2_000;

/**
 * The Compose project and service of the containers that publish these ports, asked of the
 * Docker engine (`docker ps` filtered by the ports, with a short timeout). Null when no engine
 * answers: no `docker` on PATH, no daemon, no permission, or too slow. Only asked where a
 * container's port proxy listens, so an everyday `why` runs no docker.
 */
export function readComposePublishers(ports: readonly number[]): Map<number, ComposePublisher> | null {
  if (ports.length === 0) return new Map();
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const filters = ports.flatMap((p) => ['--filter', `publish=${p}`]);
  const r = spawnSync('docker', ['ps', ...filters, '--format', DOCKER_PS_FORMAT], {
    encoding: 'utf8',
    timeout: DOCKER_PS_TIMEOUT_MS,
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (r.error || r.status !== 0) return null;
  const wanted = new Set(ports);
  return new Map([...parseDockerPs(r.stdout)].filter(([port]) => wanted.has(port)));
}
