import {
  addBlock,
  addClaudeHooks,
  diffLines,
  formatJsonLike,
  MARKDOWN_MARKERS,
  removeBlock,
  removeClaudeHooks,
  TOML_MARKERS,
  removeServerSubtables,
} from '../../../lib/core/agent-install';

describe('a marked block comes out exactly as it went in', () => {
  test.each(['', 'x', 'x\n', 'x\n\n', '# A\n\ntext', '\n', 'a\r\nb\r\n'])('%j', (text) => {
    for (const markers of [MARKDOWN_MARKERS, TOML_MARKERS]) {
      const added = addBlock(text, markers, 'body\nmore\n');
      expect(added.changed).toBe(true);
      expect(added.text.startsWith(text)).toBe(true);
      expect(addBlock(added.text, markers, 'other')).toEqual({ text: added.text, changed: false });
      expect(removeBlock(added.text, markers)).toEqual({ text, changed: true });
      // Text the user added after the block stays, on a line of its own.
      expect(removeBlock(`${added.text}tail\n`, markers).text).toBe(`${text}${text !== '' && !text.endsWith('\n') ? '\n' : ''}tail\n`);
    }
  });

  test('no block, or a begin marker without its end: nothing removed', () => {
    expect(removeBlock('plain', MARKDOWN_MARKERS)).toEqual({ text: 'plain', changed: false });
    expect(removeBlock(`${MARKDOWN_MARKERS.begin}\nno end`, MARKDOWN_MARKERS).changed).toBe(false);
  });
});

describe("Claude Code's hooks", () => {
  const mine = { hooks: { PreToolUse: [{ matcher: 'Edit', hooks: [{ type: 'command', command: 'lint' }] }], Stop: [] } };

  test("added beside the user's, once; removed leaving exactly the user's", () => {
    const added = addClaudeHooks(mine, 'styxy hook claude-code')!;
    expect(added.changed).toBe(true);
    expect((added.value.hooks as any).PreToolUse).toEqual([
      { matcher: 'Edit', hooks: [{ type: 'command', command: 'lint' }] },
      { matcher: 'Bash', hooks: [{ type: 'command', command: 'styxy hook claude-code' }] },
    ]);
    // With a timeout: Claude Code otherwise cancels SessionEnd hooks after 1.5 s in all.
    expect((added.value.hooks as any).SessionEnd).toEqual([{ hooks: [{ type: 'command', command: 'styxy hook claude-code', timeout: 30 }] }]);
    expect(addClaudeHooks(added.value, "'/other/bin/styxy' hook claude-code")!.changed).toBe(false);
    expect(removeClaudeHooks(added.value)).toEqual({ value: mine, changed: true });
    expect(removeClaudeHooks(mine)).toEqual({ value: mine, changed: false });
    expect(mine.hooks.PreToolUse).toHaveLength(1);
  });

  test('a hooks value Claude Code would not read is refused', () => {
    expect(addClaudeHooks({ hooks: [] }, 'styxy hook claude-code')).toBeNull();
    expect(addClaudeHooks({ hooks: { PreToolUse: {} } }, 'styxy hook claude-code')).toBeNull();
  });
});

test('JSON keeps the file’s indentation and final newline', () => {
  expect(formatJsonLike('{\n\t"a": 1\n}', { a: 1 })).toBe('{\n\t"a": 1\n}');
  expect(formatJsonLike('{\n    "a": 1\n}\n', { a: 1 })).toBe('{\n    "a": 1\n}\n');
  expect(formatJsonLike(null, { a: 1 })).toBe('{\n  "a": 1\n}\n');
});

test('removeServerSubtables keeps the comments that stand above the next table', () => {
  const text = [
    '[mcp_servers.styxy.tools.start_server]',
    '# approve it: the sandbox cannot start servers',
    'approval_mode = "approve"',
    '',
    '# Work profile: keep these settings',
    '# model = "o3-pro"',
    '[profiles.work]',
    'model = "gpt-5"',
    '',
    '[mcp_servers.styxy.tools.stop_server]',
    'approval_mode = "approve"',
    '# the end of the file',
    '',
  ].join('\n');
  const { text: after } = removeServerSubtables(text, 'styxy');
  expect(after).toBe(
    ['# Work profile: keep these settings', '# model = "o3-pro"', '[profiles.work]', 'model = "gpt-5"', '', '# the end of the file', ''].join('\n'),
  );
});

test('diffLines marks what goes and what comes', () => {
  // The old line before the new one, as diff prints them.
  expect(diffLines('f', 'a\nb\n', 'a\nc\n')).toBe('--- f\n+++ f\n  a\n- b\n+ c\n');
  expect(diffLines('f', '{"a":1}', '{\n  "a": 1\n}\n')).toBe('--- f\n+++ f\n- {"a":1}\n+ {\n+   "a": 1\n+ }\n');
  expect(diffLines('f', null, 'x\n')).toBe('--- /dev/null\n+++ f\n+ x\n');
});

test('removeServerSubtables takes out the tables under [mcp_servers.styxy] and nothing else', () => {
  const text = [
    'model = "o3"',
    '',
    '[mcp_servers.docs]',
    'command = "docs-mcp"',
    '',
    '[mcp_servers.styxy.tools.start_server]  # approved by hand',
    'approval_mode = "approve"',
    '',
    '[ mcp_servers . "styxy" . tools.stop_server ]',
    'approval_mode = "approve"',
    '[mcp_servers.styxyx.tools.a]',
    'approval_mode = "approve"',
    '[tui]',
    'notifications = true',
    '',
  ].join('\n');
  const { text: after, removed } = removeServerSubtables(text, 'styxy');
  expect(removed).toEqual(['[mcp_servers.styxy.tools.start_server]  # approved by hand', '[ mcp_servers . "styxy" . tools.stop_server ]']);
  expect(after).toBe(
    [
      'model = "o3"',
      '',
      '[mcp_servers.docs]',
      'command = "docs-mcp"',
      '',
      '[mcp_servers.styxyx.tools.a]',
      'approval_mode = "approve"',
      '[tui]',
      'notifications = true',
      '',
    ].join('\n'),
  );
  // The server's own table is install's block, not this function's.
  expect(removeServerSubtables('[mcp_servers.styxy]\ncommand = "x"\n', 'styxy').removed).toEqual([]);
});
