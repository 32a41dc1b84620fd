import * as fs from 'fs';
import * as path from 'path';
import { useSandbox } from '../helpers/cli';

// `config set` takes every setting of the schema's settings sections, with no table of its own to
// forget one in (lib/core/config-keys.ts builds its table from the schema); the defaults of every
// section, agents' included, are in the effective config.

const box = useSandbox();
const configFile = () => path.join(box.home, 'config.json');

test('config show lists the agents section with its defaults', () => {
  const r = box.run(['config', 'show', '--json']);
  expect(r.code).toBe(0);
  expect(r.json.config.agents).toEqual({ hook: true, keep_servers: false });
});

test('config set agents.keep-servers writes the user config, and config show has it', () => {
  const r = box.run(['config', 'set', 'agents.keep-servers', 'true', '--json']);
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ success: true, value: true, previous: false });
  expect(JSON.parse(fs.readFileSync(configFile(), 'utf8'))).toEqual({ agents: { keep_servers: true } });
  expect(box.run(['config', 'show', '--json']).json.config.agents).toEqual({ hook: true, keep_servers: true });
});

test("config set agents.hook is refused (a project's .styxy.json says it), and nothing is written", () => {
  const r = box.run(['config', 'set', 'agents.hook', 'false', '--json']);
  expect(r.code).toBe(3);
  expect(r.json).toMatchObject({ success: false, error: { code: 'INVALID_ARGUMENT' } });
  expect(fs.existsSync(configFile())).toBe(false);
});

test('a project layer and the user layer merge the agents section key by key', () => {
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ agents: { hook: false } }));
  box.writeConfig({ agents: { keep_servers: true } });
  expect(box.run(['config', 'show', '--json']).json.config.agents).toEqual({ hook: false, keep_servers: true });
});

test('config show prints every section of settings and every key in it, agents included', () => {
  const { service_types: _types, auto_allocation_rules: _rules, ...sections } = box.run(['config', 'show', '--json']).json.config;
  const text = box.run(['config', 'show']).stdout;
  expect(text).toMatch(/^Agents$/m);
  for (const [section, settings] of Object.entries(sections as Record<string, Record<string, unknown>>)) {
    for (const [key, value] of Object.entries(settings))
      expect([section, text.includes(`  ${key}`) && text.includes(JSON.stringify(value))]).toEqual([section, true]);
  }
});
