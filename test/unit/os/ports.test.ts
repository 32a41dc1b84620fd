import * as net from 'net';
import { findFirstFreePort, probePortFree, readListeners } from '../../../lib/os/ports';
import { closeServer, freePortBlock, hasIPv6Loopback, listen } from '../../helpers/cli';

const linux = process.platform === 'linux';

(linux ? describe : describe.skip)('the socket tables (/proc/net/tcp, tcp6)', () => {
  test('a listener on 127.0.0.1 and one on ::1 are both listed, and both found busy by the bind probe', async () => {
    const base = await freePortBlock(2);
    const servers = [await listen(base, '127.0.0.1')];
    if (await hasIPv6Loopback()) servers.push(await listen(base + 1, '::1'));
    try {
      const listening = new Set(readListeners()!.map((l) => l.port));
      for (const s of servers) {
        const port = (s.address() as net.AddressInfo).port;
        expect(listening.has(port)).toBe(true);
        expect(await probePortFree(port)).toBe(false);
      }
    } finally {
      for (const s of servers) await closeServer(s);
    }
    expect(await probePortFree(base)).toBe(true);
  });

  test('findFirstFreePort skips a held port and the ports it is told to skip', async () => {
    const base = await freePortBlock(3);
    const server = await listen(base, '127.0.0.1');
    try {
      expect(await findFirstFreePort([base, base + 1, base + 2])).toBe(base + 1);
      expect(await findFirstFreePort([base, base + 1], (p) => p === base + 1)).toBeUndefined();
    } finally {
      await closeServer(server);
    }
    expect(await findFirstFreePort([base])).toBe(base);
  });
});
