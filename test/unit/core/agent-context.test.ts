import { describeAgentContext } from '../../../lib/core/agent-context';

test('the context names the commands to use, and the project allocations, the session where there is one', () => {
  const text = describeAgentContext(
    [
      { port: 3001, serviceType: 'dev', instanceId: 'web-dev', owner: 'PID 42 (node server.js)', session: 'claude-code:s1' },
      { port: 8000, serviceType: 'api', instanceId: 'backend', owner: 'persistent' },
    ],
    'styxy',
  );
  expect(text).toContain('`styxy start -s dev -n NAME -- npm run dev`');
  expect(text).toContain('`styxy why PORT`');
  expect(text).toContain('Never kill by name or by port');
  expect(text).toContain('  3001  dev/web-dev  PID 42 (node server.js)  session claude-code:s1');
  expect(text).toContain('  8000  api/backend  persistent\n'.trimEnd());
});

test('none, or many: said in a line, the rest counted', () => {
  expect(describeAgentContext([], 'styxy')).toContain('This project has no live Styxy allocations.');
  const many = Array.from({ length: 25 }, (_, i) => ({ port: 3000 + i, serviceType: 'dev', instanceId: `w${i}`, owner: 'persistent' }));
  const text = describeAgentContext(many, "'/opt/styxy'");
  expect(text).toContain('3019  dev/w19');
  expect(text).not.toContain('3020  dev/w20');
  expect(text).toContain("... and 5 more (`'/opt/styxy' list`)");
});
