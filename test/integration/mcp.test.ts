import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { closeServer, useSandbox } from '../helpers/cli';
import { connectMcp } from '../helpers/mcp';

// `styxy mcp` driven by the MCP SDK's own client over stdio, as an agent drives it.

const box = useSandbox();

let client: Client;
beforeEach(async () => {
  client = await connectMcp(box);
});
afterEach(async () => {
  await client.close();
});

async function call(name: string, args: Record<string, unknown> = {}): Promise<{ isError: boolean; json: any; structured: any }> {
  const r = (await client.callTool({ name, arguments: args })) as {
    isError?: boolean;
    content: Array<{ type: string; text: string }>;
    structuredContent?: unknown;
  };
  expect(r.content).toHaveLength(1);
  return { isError: r.isError === true, json: JSON.parse(r.content[0]!.text), structured: r.structuredContent };
}

test('lists its tools, each with a description and a JSON Schema for its arguments', async () => {
  const { tools } = await client.listTools();
  expect(tools.map((t) => t.name)).toEqual(['allocate_port', 'release_port', 'list_ports', 'start_server', 'stop_server', 'who_holds_port']);
  for (const tool of tools) {
    expect(tool.description!.length).toBeGreaterThan(20);
    expect(tool.inputSchema.type).toBe('object');
  }
  // The hints a client decides approval from (Codex runs read-only and additive tools without
  // asking): only looking up and allocating are free of side effects on other processes.
  const hints = Object.fromEntries(tools.map((t) => [t.name, t.annotations]));
  expect(hints).toEqual({
    allocate_port: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    release_port: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    list_ports: { readOnlyHint: true, openWorldHint: false },
    start_server: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
    stop_server: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    who_holds_port: { readOnlyHint: true, openWorldHint: false },
  });
});

test('allocate_port: the allocation is made in process, owned by the client (the agent), and listed; release_port frees it', async () => {
  const a = await call('allocate_port', { service_type: 'dev', name: 'web' });
  expect(a.isError).toBe(false);
  expect(a.json).toMatchObject({ success: true, serviceType: 'dev', instanceId: 'web', project: box.cwd, owner: { kind: 'process', pid: process.pid } });
  expect(a.structured).toEqual(a.json);
  // Recorded with the agent's session: the client's name and PID (Claude Code's own id when it says it).
  expect(a.json.session).toBe(`styxy-test:${process.pid}`);
  // The same name gets the same port back.
  expect((await call('allocate_port', { service_type: 'dev', name: 'web' })).json.port).toBe(a.json.port);
  // The CLI sees the same state.
  expect(box.run(['list', '--json']).json.allocations.map((x: { lockId: string }) => x.lockId)).toEqual([a.json.lockId]);
  const listed = await call('list_ports', { this_project: true });
  expect(listed.json.allocations.map((x: { port: number }) => x.port)).toEqual([a.json.port]);
  const released = await call('release_port', { lock_id: a.json.lockId });
  expect(released.json.released.map((x: { lockId: string }) => x.lockId)).toEqual([a.json.lockId]);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test("a session the client names in a call's _meta (as Codex does) is the one recorded", async () => {
  const r = (await client.callTool({ name: 'allocate_port', arguments: { name: 'web' }, _meta: { sessionId: '01a24e48-843d-7a93' } })) as {
    content: Array<{ text: string }>;
  };
  expect(JSON.parse(r.content[0]!.text).session).toBe('styxy-test:01a24e48-843d-7a93');
  expect(box.run(['list', '--json']).json.allocations[0].session).toBe('styxy-test:01a24e48-843d-7a93');
});

test("a near miss of a known type is refused in the tools' own words; new_type: true creates it all the same", async () => {
  const refused = await call('allocate_port', { service_type: 'apis' });
  expect(refused.isError).toBe(true);
  expect(refused.json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { serviceType: 'apis', didYouMean: 'api' } });
  // Not the CLI's flags (-s, --new-type), which an agent on MCP cannot pass.
  expect(refused.json.error.suggestions.join('\n')).not.toMatch(/-s |--new-type/);
  expect(refused.json.error.suggestions.join('\n')).toContain('new_type: true');
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  const created = await call('allocate_port', { service_type: 'apis', new_type: true });
  expect(created.json).toMatchObject({ success: true, serviceType: 'apis' });
});

test("a warning the call raised reaches the agent after the result (a state.json set aside), not only the server's stderr", async () => {
  fs.mkdirSync(box.home, { recursive: true });
  fs.writeFileSync(path.join(box.home, 'state.json'), '{ not json');
  const r = (await client.callTool({ name: 'allocate_port', arguments: { service_type: 'api' } })) as {
    isError?: boolean;
    content: Array<{ type: string; text: string }>;
  };
  expect(r.isError).toBeFalsy();
  expect(JSON.parse(r.content[0]!.text)).toMatchObject({ success: true, serviceType: 'api' });
  expect(r.content.slice(1)).toEqual([{ type: 'text', text: expect.stringMatching(/^warning: state\.json was unusable .*moved it to /) }]);
  // The next call finds a good state: nothing more to say.
  expect((await call('list_ports')).json.allocations).toHaveLength(1);
});

test('who_holds_port names the allocation and the process listening on the port', async () => {
  const a = await call('allocate_port', { service_type: 'api', name: 'backend' });
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(a.json.port, '127.0.0.1', resolve));
  try {
    const r = await call('who_holds_port', { port: a.json.port });
    expect(r.json).toMatchObject({ success: true, port: a.json.port, listening: true, allocation: { lockId: a.json.lockId } });
    expect(r.json.server.pid).toBe(process.pid);
  } finally {
    await closeServer(server);
  }
});

test('start_server starts a real server detached on its port; the allocation belongs to the server, not the agent', async () => {
  const fs = await import('fs');
  const path = await import('path');
  fs.writeFileSync(
    path.join(box.cwd, 'server.js'),
    "require('http').createServer((q, s) => s.end('hi')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('up on ' + process.env.PORT));\n",
  );
  const r = await call('start_server', { command: [process.execPath, 'server.js'], service_type: 'api', name: 'backend' });
  expect(r.isError).toBe(false);
  expect(r.json).toMatchObject({ success: true, started: true, existing: false, serviceType: 'api', instanceId: 'backend' });
  const { port, pid, logPath } = r.json;
  try {
    expect(await fetch(`http://127.0.0.1:${port}/`).then((res) => res.text())).toBe('hi');
    const held = box.run(['list', '--json']).json.allocations[0];
    expect(held).toMatchObject({ port, owner: { kind: 'process', pid } });
    expect(held.owner.pid).not.toBe(process.pid);
    expect(fs.readFileSync(logPath, 'utf8')).toContain(`up on ${port}`);
    // Asked again, it starts nothing and says where it runs.
    expect((await call('start_server', { command: [process.execPath, 'server.js'], service_type: 'api', name: 'backend' })).json).toMatchObject({
      started: false,
      existing: true,
      port,
    });
    // stop_server ends it (owner-verified) and frees the port.
    const stopped = await call('stop_server', { port });
    expect(stopped.isError).toBe(false);
    expect(stopped.json.stopped[0]).toMatchObject({ port, released: true });
    expect(box.run(['list', '--json']).json.allocations).toEqual([]);
    expect(
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => 'up',
        () => 'down',
      ),
    ).toBe('down');
  } finally {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* stopped */
    }
  }
});

test.each([
  ['start_server', {}, 'INVALID_ARGUMENT'],
  ['stop_server', {}, 'INVALID_ARGUMENT'],
  ['stop_server', { port: 3000, lock_id: 'x' }, 'INVALID_ARGUMENT'],
  ['start_server', { command: 'npm run dev' }, 'INVALID_ARGUMENT'],
  ['allocate_port', { service_type: 'no such!' }, 'INVALID_ARGUMENT'],
  ['allocate_port', { service_type: 'dev', port: 70000 }, 'INVALID_ARGUMENT'],
  ['allocate_port', { service_type: 'dev', name: 42 }, 'INVALID_ARGUMENT'],
  ['release_port', {}, 'INVALID_ARGUMENT'],
  ['release_port', { lock_id: 'dev-nothing-000000' }, 'NOT_FOUND'],
  ['who_holds_port', {}, 'INVALID_ARGUMENT'],
  ['no_such_tool', {}, 'INVALID_ARGUMENT'],
  // An argument the tool does not take (a misspelt name) is refused, not ignored: no dev port for serviceType api.
  ['allocate_port', { serviceType: 'api' }, 'INVALID_ARGUMENT'],
  ['list_ports', { thisProject: true }, 'INVALID_ARGUMENT'],
])("%s %j is a tool error carrying Styxy's code %s", async (name, args, code) => {
  const r = await call(name, args);
  expect(r.isError).toBe(true);
  expect(r.json).toMatchObject({ success: false, error: { code } });
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});
