import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { bold, printLine, shown } from '../../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const configShowCommand: StyxyCommand<CommonArgs> = {
  name: 'show',
  command: 'show',
  describe: 'Print the effective config (built-in defaults, .styxy.json and config.json merged)',
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, configShowCommand).example('$0 config show --json', 'The merged config as JSON'),
  handler: async (args) => {
    const { runConfigShow } = await import('../../../app/config');
    await present(
      args,
      () => runConfigShow(context()),
      (r) => {
        printLine(bold('Service types'));
        const rows = Object.entries(r.config.service_types).sort((a, b) => a[1].port_range[0] - b[1].port_range[0]);
        for (const [name, t] of rows) {
          const flags = [t.instance_behavior === 'single' ? 'single' : '', t.auto_allocated ? 'auto' : ''].filter(Boolean).join(', ');
          printLine(`  ${name.padEnd(16)} ${`${t.port_range[0]}-${t.port_range[1]}`.padEnd(12)} ${flags ? `[${flags}] ` : ''}${shown(t.description ?? '')}`);
        }
        printLine(bold('Auto-allocation'));
        for (const [k, v] of Object.entries(r.config.auto_allocation)) printLine(`  ${k.padEnd(22)} ${shown(JSON.stringify(v))}`);
        printLine(bold('Port reuse'));
        for (const [k, v] of Object.entries(r.config.port_reuse)) printLine(`  ${k.padEnd(22)} ${JSON.stringify(v)}`);
        const rules = Object.entries(r.config.auto_allocation_rules);
        if (rules.length) {
          printLine(bold('Auto-allocation rules'));
          for (const [pattern, rule] of rules) printLine(`  ${pattern.padEnd(22)} ${shown(JSON.stringify(rule))}`);
        }
        printLine(bold('Lifetime'));
        for (const [k, v] of Object.entries(r.config.lifetime)) printLine(`  ${k.padEnd(26)} ${JSON.stringify(v)}`);
        printLine(bold('URLs'));
        for (const [k, v] of Object.entries(r.config.urls)) printLine(`  ${k.padEnd(22)} ${JSON.stringify(v)}`);
        printLine(bold('Files'));
        printLine(`  project  ${shown(r.files.project ?? '(none)')}`);
        printLine(`  user     ${shown(r.files.user ?? '(none)')}`);
      },
    );
  },
};
