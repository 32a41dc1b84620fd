import type { Argv, CommandModule } from 'yargs';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { bold, printLine } from '../output';

const json = <T>(y: Argv<T>) => y.option('json', JSON_OPTION);

const show: CommandModule<object, CommonArgs> = {
  command: 'show',
  describe: 'Print the effective config (built-in defaults, .styxy.json and config.json merged)',
  builder: (y) => json(y).example('$0 config show --json', 'The merged config as JSON') as never,
  handler: async (args) => {
    const { runConfigShow } = await import('../../app/config');
    await present(
      args,
      () => runConfigShow(context()),
      (r) => {
        printLine(bold('Service types'));
        const rows = Object.entries(r.config.service_types).sort((a, b) => a[1].port_range[0] - b[1].port_range[0]);
        for (const [name, t] of rows) {
          const flags = [t.instance_behavior === 'single' ? 'single' : '', t.auto_allocated ? 'auto' : ''].filter(Boolean).join(', ');
          printLine(`  ${name.padEnd(16)} ${`${t.port_range[0]}-${t.port_range[1]}`.padEnd(12)} ${flags ? `[${flags}] ` : ''}${t.description ?? ''}`);
        }
        printLine(bold('Auto-allocation'));
        for (const [k, v] of Object.entries(r.config.auto_allocation)) printLine(`  ${k.padEnd(22)} ${JSON.stringify(v)}`);
        const rules = Object.entries(r.config.auto_allocation_rules);
        if (rules.length) {
          printLine(bold('Auto-allocation rules'));
          for (const [pattern, rule] of rules) printLine(`  ${pattern.padEnd(22)} ${JSON.stringify(rule)}`);
        }
        printLine(bold('Files'));
        printLine(`  project  ${r.files.project ?? '(none)'}`);
        printLine(`  user     ${r.files.user ?? '(none)'}`);
      },
    );
  },
};

const validate: CommandModule<object, CommonArgs & { file?: string }> = {
  command: 'validate [file]',
  describe: 'Check a config file, or every config file in force',
  builder: (y) =>
    json(y.positional('file', { type: 'string', describe: 'A config file to check (default: all layers in force)' }))
      .example('$0 config validate', 'Check .styxy.json and config.json')
      .example('$0 config validate team.json', 'Check a file before installing it') as never,
  handler: async (args) => {
    const { runConfigValidate } = await import('../../app/config');
    await present(
      args,
      () => runConfigValidate(context(), args.file),
      (r) => printLine(r.files.length ? `Valid: ${r.files.join(', ')}` : 'Valid (no config files; built-in defaults only).'),
    );
  },
};

const pathCmd: CommandModule<object, CommonArgs> = {
  command: 'path',
  describe: "Print where Styxy's files are",
  builder: (y) => json(y).example('$0 config path', 'Where config.json lives') as never,
  handler: async (args) => {
    const { runConfigPath } = await import('../../app/config');
    await present(
      args,
      () => runConfigPath(context()),
      (r) => {
        printLine(`config   ${r.config}${r.configExists ? '' : ' (not created yet)'}`);
        printLine(`project  ${r.project ?? '(no .styxy.json found)'}`);
        printLine(`state    ${r.state}`);
        printLine(`audit    ${r.audit}`);
      },
    );
  },
};

const set: CommandModule<object, CommonArgs & { key: string; value: string }> = {
  command: 'set <key> <value>',
  describe: "Change one setting in the user's config.json (backed up first)",
  builder: (y) =>
    json(y.positional('key', { type: 'string' }).positional('value', { type: 'string' }))
      .example('$0 config set service-types.ai.instance-behavior multi', 'Let ai run several instances')
      .example('$0 config set auto-allocation.require-confirmation true', 'Ask before giving an unknown type a range') as never,
  handler: async (args) => {
    const { runConfigSet } = await import('../../app/config');
    await present(
      args,
      () => runConfigSet(context(), String(args.key), String(args.value)),
      (r) => {
        printLine(`Set ${r.key} = ${JSON.stringify(r.value)} (was ${JSON.stringify(r.previous)}) in ${r.file}`);
        if (r.backup) printLine(`Previous config saved as ${r.backup}`);
      },
    );
  },
};

export const configCommand: CommandModule = {
  command: 'config <command>',
  describe: 'Show, check and change the config',
  builder: (yargs) => yargs.command(show).command(validate).command(pathCmd).command(set).demandCommand(1) as never,
  handler: () => undefined,
};
