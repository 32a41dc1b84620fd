import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import type { ConfigShowResult } from '../../../app/config';
import { bold, printLine, shown } from '../../output';

/** A section's heading: its name in words (`port_reuse` → Port reuse), or the one it is known by. */
const TITLES: Record<string, string> = { auto_allocation: 'Auto-allocation', urls: 'URLs' };
const titleOf = (section: string) => TITLES[section] ?? section.charAt(0).toUpperCase() + section.slice(1).replace(/_/g, ' ');

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
    await present(args, () => runConfigShow(context()), printConfig);
  },
};

/** The types by range, then every section of settings (whatever the schema has), the rules and the files. */
function printConfig(r: ConfigShowResult): void {
  const { service_types: types, auto_allocation_rules: rules, ...sections } = r.config;
  printLine(bold('Service types'));
  const rows = Object.entries(types).sort((a, b) => a[1].port_range[0] - b[1].port_range[0]);
  for (const [name, t] of rows) {
    const flags = [t.instance_behavior === 'single' ? 'single' : '', t.auto_allocated ? 'auto' : ''].filter(Boolean).join(', ');
    printLine(`  ${name.padEnd(16)} ${`${t.port_range[0]}-${t.port_range[1]}`.padEnd(12)} ${flags ? `[${flags}] ` : ''}${shown(t.description ?? '')}`);
  }
  for (const [section, settings] of Object.entries(sections)) {
    printLine(bold(titleOf(section)));
    for (const [k, v] of Object.entries(settings)) printLine(`  ${k.padEnd(26)} ${shown(JSON.stringify(v))}`);
  }
  if (Object.keys(rules).length) {
    printLine(bold('Auto-allocation rules'));
    for (const [pattern, rule] of Object.entries(rules)) printLine(`  ${pattern.padEnd(26)} ${shown(JSON.stringify(rule))}`);
  }
  printLine(bold('Files'));
  printLine(`  project  ${shown(r.files.project ?? '(none)')}`);
  printLine(`  user     ${shown(r.files.user ?? '(none)')}`);
}
