import * as fs from 'fs';
import * as path from 'path';
import { useSandbox } from '../helpers/cli';

// `styxy agent install|uninstall`: the agents' own files, merged into and given back byte for byte.

const box = useSandbox();

let home: string;
beforeEach(() => {
  home = path.join(box.dir, 'user-home');
  fs.mkdirSync(home);
  fs.mkdirSync(path.join(box.cwd, '.git'));
});

const agent = (args: string[]) => box.run(['agent', ...args, '--json'], { env: { HOME: home } });

/** Every file under the project and the user's home, with its bytes. */
function snapshot(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const root of [box.cwd, home]) {
    const walk = (dir: string) => {
      for (const name of fs.readdirSync(dir)) {
        const file = path.join(dir, name);
        const stat = fs.lstatSync(file);
        if (stat.isDirectory()) walk(file);
        else out[file] = stat.isSymbolicLink() ? `-> ${fs.readlinkSync(file)}` : fs.readFileSync(file, 'latin1');
        if (stat.isDirectory()) out[`${file}/`] = 'dir';
      }
    };
    walk(root);
  }
  return out;
}

function write(file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

// The user's own files, in their own odd formatting.
const SETTINGS = `{"permissions":{"allow":["Bash(npm test)"]},
   "hooks": {
      "PreToolUse": [ { "matcher": "Edit|Write", "hooks": [ { "type": "command", "command": "./lint.sh" } ] } ],
      "Stop": [{"hooks":[{"type":"command","command":"say done"}]}]
   }
}`;
const MCP = '{\n\t"mcpServers": {\n\t\t"db": { "command": "db-mcp", "args": ["--ro"] }\n\t}\n}\n';
const CODEX = `# my codex config
model = "o4-mini"   # the fast one

[mcp_servers.docs]
command = "docs-mcp"   # keeps working
args = ["--port", "0"]

[profiles.slow]
model = "o3"
`;

test.each([
  ['claude-code', [], () => [path.join(box.cwd, '.claude', 'settings.json'), path.join(box.cwd, '.mcp.json'), path.join(box.cwd, 'CLAUDE.md')]],
  ['claude-code', ['--user'], () => [path.join(home, '.claude', 'settings.json'), path.join(home, '.claude', 'CLAUDE.md')]],
  ['codex', [], () => [path.join(home, '.codex', 'config.toml')]],
  ['cursor', [], () => [path.join(box.cwd, '.cursor', 'mcp.json')]],
  ['agents-md', [], () => [path.join(box.cwd, 'AGENTS.md')]],
])("%s %j: install writes its entries beside the user's, again changes nothing, uninstall gives every file back byte for byte", (name, flags, files) => {
  write(path.join(box.cwd, '.claude', 'settings.json'), SETTINGS);
  write(path.join(home, '.claude', 'settings.json'), SETTINGS);
  write(path.join(box.cwd, '.mcp.json'), MCP);
  write(path.join(box.cwd, '.cursor', 'mcp.json'), MCP);
  write(path.join(home, '.codex', 'config.toml'), CODEX);
  write(path.join(box.cwd, 'CLAUDE.md'), '# Notes\n\nNo trailing newline here.');
  write(path.join(box.cwd, 'AGENTS.md'), '# Agents\n\nUse pnpm.\n');
  write(path.join(home, '.claude', 'CLAUDE.md'), '');
  const before = snapshot();

  const installed = agent(['install', name as string, ...(flags as string[])]);
  expect([installed.code, installed.stderr]).toEqual([0, '']);
  expect(installed.json.changes.map((c: { file: string }) => c.file)).toEqual(files());
  for (const c of installed.json.changes) {
    expect(c.action).toBe('updated');
    // A backup of the file as it was.
    expect(fs.readFileSync(c.backup, 'latin1')).toBe(before[c.file]);
  }
  const after = snapshot();
  for (const file of files()) expect(after[file]).not.toBe(before[file]);
  // The user's entries are all still there.
  const text = files()
    .map((f) => after[f])
    .join('\n');
  for (const own of ['./lint.sh', 'say done', 'Bash(npm test)'].filter(() => name === 'claude-code')) expect(text).toContain(own);
  if (name === 'codex') expect(text).toContain('command = "docs-mcp"   # keeps working');

  const again = agent(['install', name as string, ...(flags as string[])]);
  expect(again.json.changes.map((c: { action: string }) => c.action)).toEqual(files().map(() => 'unchanged'));
  expect(snapshot()).toEqual(after);

  const removed = agent(['uninstall', name as string, ...(flags as string[])]);
  expect([removed.code, removed.stderr]).toEqual([0, '']);
  expect(snapshot()).toEqual(before);
});

test('files the install created go again, with the folders it made for them', () => {
  const before = snapshot();
  const installed = agent(['install', 'claude-code']);
  expect(installed.json.changes.map((c: { action: string }) => c.action)).toEqual(['created', 'created', 'created']);
  const settings = JSON.parse(fs.readFileSync(path.join(box.cwd, '.claude', 'settings.json'), 'utf8'));
  expect(Object.keys(settings.hooks)).toEqual(['PreToolUse', 'SessionStart', 'SessionEnd']);
  expect(settings.hooks.PreToolUse[0].matcher).toBe('Bash');
  expect(settings.hooks.PreToolUse[0].hooks[0].command).toMatch(/styxy'? hook claude-code$/);
  expect(JSON.stringify(settings)).not.toContain('permission');
  const mcp = JSON.parse(fs.readFileSync(path.join(box.cwd, '.mcp.json'), 'utf8'));
  expect(mcp.mcpServers.styxy).toMatchObject({ type: 'stdio', args: ['mcp'] });
  agent(['uninstall', 'claude-code']);
  expect(snapshot()).toEqual(before);
});

test('--user: uninstall gives the home back as it was, ~/.claude (made for two files) included', () => {
  const before = snapshot();
  const installed = agent(['install', 'claude-code', '--user']);
  expect(installed.json.changes.map((c: { action: string }) => c.action)).toEqual(['created', 'created']);
  expect(agent(['uninstall', 'claude-code', '--user']).json.changes.map((c: { action: string }) => c.action)).toEqual(['removed', 'removed']);
  expect(snapshot()).toEqual(before);
});

test('text the user wrote after the block in CLAUDE.md keeps a line of its own on uninstall', () => {
  const file = path.join(box.cwd, 'CLAUDE.md');
  write(file, '# Project\nUse pnpm.');
  agent(['install', 'claude-code']);
  fs.appendFileSync(file, 'More notes\n');
  const r = agent(['uninstall', 'claude-code']);
  expect(r.json.changes[2]).toMatchObject({ action: 'updated', note: expect.stringContaining('changed since the install') });
  expect(fs.readFileSync(file, 'utf8')).toBe('# Project\nUse pnpm.\nMore notes\n');
});

test("a file changed after the install: uninstall takes out only Styxy's entries and keeps the user's new ones", () => {
  write(path.join(box.cwd, '.claude', 'settings.json'), SETTINGS);
  agent(['install', 'claude-code']);
  const file = path.join(box.cwd, '.claude', 'settings.json');
  const edited = JSON.parse(fs.readFileSync(file, 'utf8'));
  edited.model = 'opus';
  edited.hooks.SessionStart.push({ hooks: [{ type: 'command', command: 'echo hi' }] });
  fs.writeFileSync(file, JSON.stringify(edited, null, 2));
  const r = agent(['uninstall', 'claude-code']);
  expect(r.json.changes[0]).toMatchObject({ action: 'updated', note: expect.stringContaining('changed since the install') });
  const left = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(left).toEqual({
    ...JSON.parse(SETTINGS),
    model: 'opus',
    hooks: { ...JSON.parse(SETTINGS).hooks, SessionStart: [{ hooks: [{ type: 'command', command: 'echo hi' }] }] },
  });
});

test('--dry-run prints the diff and changes nothing, not even a backup', () => {
  write(path.join(home, '.codex', 'config.toml'), CODEX);
  const before = snapshot();
  const r = agent(['install', 'codex', '--dry-run']);
  expect(r.json).toMatchObject({ success: true, dryRun: true, changes: [{ action: 'updated' }] });
  expect(r.json.changes[0].diff).toContain('+ [mcp_servers.styxy]');
  expect(r.json.changes[0].diff).toContain('  [mcp_servers.docs]');
  expect(snapshot()).toEqual(before);
  expect(fs.existsSync(box.home)).toBe(false);
  const human = box.run(['agent', 'install', 'codex', '--dry-run'], { env: { HOME: home } });
  expect(human.stdout).toContain('would update');
  expect(human.stdout).toContain('+ args = [ "mcp" ]');
});

test.each([
  ['.claude/settings.json', '{"hooks": {"PreToolUse": [}', 'claude-code'],
  ['.claude/settings.json', '["not", "an", "object"]', 'claude-code'],
  ['.claude/settings.json', '{"hooks": ["Bash"]}', 'claude-code'],
  ['.mcp.json', '{"mcpServers": []}', 'claude-code'],
  ['.cursor/mcp.json', '{ trailing, }', 'cursor'],
])('a malformed %s (%j) refuses with INVALID_CONFIG and changes nothing', (file, text, name) => {
  write(path.join(box.cwd, file), text);
  write(path.join(box.cwd, 'CLAUDE.md'), '# Mine\n');
  const before = snapshot();
  const r = agent(['install', name]);
  expect([r.code, r.json.error.code, r.json.error.details.file]).toEqual([9, 'INVALID_CONFIG', path.join(box.cwd, file)]);
  expect(snapshot()).toEqual(before);
});

test('a malformed TOML file, or one whose mcp_servers cannot take a table, is refused and left as it was', () => {
  for (const text of ['model = "o3\n', 'mcp_servers = { docs = { command = "x" } }\n']) {
    write(path.join(home, '.codex', 'config.toml'), text);
    const r = agent(['install', 'codex']);
    expect([r.code, r.json.error.code]).toEqual([9, 'INVALID_CONFIG']);
    expect(fs.readFileSync(path.join(home, '.codex', 'config.toml'), 'utf8')).toBe(text);
  }
});

test('a symlink on the way to a file is refused, not written through', () => {
  const elsewhere = path.join(box.dir, 'elsewhere');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'settings.json'), '{}');
  fs.symlinkSync(elsewhere, path.join(box.cwd, '.claude'));
  const before = snapshot();
  const r = agent(['install', 'claude-code']);
  expect([r.code, r.json.error.code, r.json.error.details.link]).toEqual([3, 'INVALID_ARGUMENT', path.join(box.cwd, '.claude')]);
  expect(snapshot()).toEqual(before);
  expect(fs.readFileSync(path.join(elsewhere, 'settings.json'), 'utf8')).toBe('{}');
});

test('an MCP server of the same name that runs something else is kept, and said so', () => {
  write(path.join(box.cwd, '.cursor', 'mcp.json'), '{"mcpServers": {"styxy": {"command": "my-own-thing"}}}');
  const r = agent(['install', 'cursor']);
  expect(r.json.changes).toEqual([{ file: path.join(box.cwd, '.cursor', 'mcp.json'), action: 'unchanged', note: expect.stringContaining('kept as it is') }]);
  expect(agent(['uninstall', 'cursor']).json.changes[0].action).toBe('unchanged');
  expect(fs.readFileSync(path.join(box.cwd, '.cursor', 'mcp.json'), 'utf8')).toBe('{"mcpServers": {"styxy": {"command": "my-own-thing"}}}');
});

test('unknown agents and agents-md --user are refused', () => {
  expect(agent(['install', 'vim']).json.error.code).toBe('INVALID_ARGUMENT');
  expect(agent(['install', 'agents-md', '--user']).json.error.code).toBe('INVALID_ARGUMENT');
});
