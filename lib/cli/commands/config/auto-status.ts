import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { bold, printLine, shown } from '../../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const autoStatusCommand: StyxyCommand<CommonArgs> = {
  name: 'status',
  command: 'status',
  describe: 'Show the auto-allocation settings, rules, and the types it created',
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, autoStatusCommand).example('$0 config auto-allocation status', 'Is it on, and what has it done'),
  handler: async (args) => {
    const { runAutoStatus } = await import('../../../app/auto-config');
    await present(
      args,
      () => runAutoStatus(context()),
      (r) => {
        printLine(`Auto-allocation is ${bold(r.enabled ? 'enabled' : 'disabled')}`);
        const s = r.settings;
        printLine(`  chunk ${s.default_chunk_size}, placement ${s.placement}, ports ${s.min_port}-${s.max_port}, gap ${s.preserve_gaps ? s.gap_size : 'none'}`);
        printLine(`  confirmation ${s.require_confirmation ? 'required' : 'not required'}; port docs ${shown(s.port_docs_path ?? '(none)')}`);
        printLine(bold('Rules (first match wins)'));
        if (r.rules.length === 0) printLine('  (none)');
        for (const { pattern, ...rule } of r.rules) printLine(`  ${pattern.padEnd(22)} ${JSON.stringify(rule)}`);
        printLine(bold('Auto-allocated types (newest first)'));
        if (r.autoAllocated.length === 0) printLine('  (none)');
        for (const t of r.autoAllocated) {
          printLine(
            `  ${t.serviceType.padEnd(22)} ${t.range ? `${t.range[0]}-${t.range[1]}` : '?'}  ${t.at} by ${shown(String(t.by))}${t.rule ? `, rule '${t.rule}'` : ''}`,
          );
        }
        if (r.recent.length > 0) {
          printLine(bold('Recent events'));
          for (const e of r.recent) printLine(`  ${e.timestamp}  ${e.action.padEnd(21)} ${e.serviceType ?? ''} ${JSON.stringify(e.range ?? null)}`);
        }
      },
    );
  },
};
