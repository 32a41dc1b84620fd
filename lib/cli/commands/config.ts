import type { Argv, CommandModule } from 'yargs';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { StyxyError } from '../../errors';
import { SETTABLE_KEYS } from '../../core/config-keys';
import { bold, printLine, shown } from '../output';

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
        printLine(bold('Files'));
        printLine(`  project  ${shown(r.files.project ?? '(none)')}`);
        printLine(`  user     ${shown(r.files.user ?? '(none)')}`);
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
      (r) => printLine(r.files.length ? `Valid: ${shown(r.files.join(', '))}` : 'Valid (no config files; built-in defaults only).'),
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
        printLine(`config   ${shown(r.config)}${r.configExists ? '' : ' (not created yet)'}`);
        printLine(`project  ${shown(r.project ?? '(no .styxy.json found)')}`);
        printLine(`state    ${shown(r.state)}`);
        printLine(`audit    ${shown(r.audit)}`);
      },
    );
  },
};

interface RuleOptionArgs {
  'chunk-size'?: string;
  'preferred-range-start'?: string;
  placement?: string;
  'instance-behavior'?: string;
}

const ruleOptions = <T>(y: Argv<T>) =>
  y
    .option('chunk-size', { type: 'string', describe: 'How many ports a matching type gets' })
    .option('preferred-range-start', { alias: ['preferred-range'], type: 'string', describe: 'Try the first free ports at or above this port first' })
    .option('placement', { type: 'string', choices: ['after', 'before', 'smart'], describe: 'Where the range goes when there is no preferred start, or no room there' })
    .option('instance-behavior', { type: 'string', choices: ['single', 'multi'], describe: 'Make matching types single-instance' });

const ruleTexts = (args: RuleOptionArgs) => ({
  ...(args['chunk-size'] !== undefined && { chunkSize: String(args['chunk-size']) }),
  ...(args['preferred-range-start'] !== undefined && { preferredRangeStart: String(args['preferred-range-start']) }),
  ...(args.placement !== undefined && { placement: String(args.placement) }),
  ...(args['instance-behavior'] !== undefined && { instanceBehavior: String(args['instance-behavior']) }),
});

function printRuleChange(r: { pattern: string; rule: unknown; previous: unknown; order: string[]; file: string; backup: string | null }): void {
  if (r.rule) printLine(`Rule '${r.pattern}' = ${JSON.stringify(r.rule)}${r.previous ? ` (was ${JSON.stringify(r.previous)})` : ''} in ${shown(r.file)}`);
  else printLine(`Removed rule '${r.pattern}' (was ${JSON.stringify(r.previous)}) from ${shown(r.file)}`);
  printLine(`Rules, first match wins: ${r.order.length ? r.order.join(', ') : '(none)'}`);
  if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
}

const AUTO_RULE_KEY = 'auto-allocation-rule';

const set: CommandModule<object, CommonArgs & RuleOptionArgs & { key: string; value: string }> = {
  command: 'set <key> <value>',
  describe: "Change one setting in the user's config.json (backed up first)",
  builder: (y) =>
    ruleOptions(json(y.positional('key', { type: 'string' }).positional('value', { type: 'string' })))
      .example('$0 config set service-types.ai.instance-behavior multi', 'Let ai run several instances')
      .example('$0 config set service-types.dev.port-range 2900-3099', 'Widen the dev range')
      .example('$0 config set auto-allocation.require-confirmation true', 'Ask before giving an unknown type a range')
      .example("$0 config set auto-allocation-rule 'database-*' --chunk-size 5 --preferred-range 5400", 'A rule (same as config auto-allocation set-rule)')
      .epilog(`Keys: ${SETTABLE_KEYS.join(', ')}, ${AUTO_RULE_KEY} <pattern> [rule options]`) as never,
  handler: async (args) => {
    const key = String(args.key);
    const texts = ruleTexts(args);
    if (key === AUTO_RULE_KEY) {
      const { runSetRule } = await import('../../app/auto-config');
      return present(args, () => runSetRule(context(), String(args.value), texts), printRuleChange);
    }
    if (Object.keys(texts).length > 0) throw new StyxyError('INVALID_ARGUMENT', `--chunk-size, --preferred-range-start, --placement and --instance-behavior go with '${AUTO_RULE_KEY}', not '${key}'`);
    const { runConfigSet } = await import('../../app/config');
    await present(
      args,
      () => runConfigSet(context(), key, String(args.value)),
      (r) => {
        printLine(`Set ${r.key} = ${shown(JSON.stringify(r.value))} (was ${shown(JSON.stringify(r.previous))}) in ${shown(r.file)}`);
        if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
      },
    );
  },
};

const autoStatus: CommandModule<object, CommonArgs> = {
  command: 'status',
  describe: 'Show the auto-allocation settings, rules, and the types it created',
  builder: (y) => json(y).example('$0 config auto-allocation status', 'Is it on, and what has it done') as never,
  handler: async (args) => {
    const { runAutoStatus } = await import('../../app/auto-config');
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
          printLine(`  ${t.serviceType.padEnd(22)} ${t.range ? `${t.range[0]}-${t.range[1]}` : '?'}  ${t.at} by ${shown(String(t.by))}${t.rule ? `, rule '${t.rule}'` : ''}`);
        }
        if (r.recent.length > 0) {
          printLine(bold('Recent events'));
          for (const e of r.recent) printLine(`  ${e.timestamp}  ${e.action.padEnd(21)} ${e.serviceType ?? ''} ${JSON.stringify(e.range ?? null)}`);
        }
      },
    );
  },
};

const autoToggle = (enable: boolean): CommandModule<object, CommonArgs> => ({
  command: enable ? 'enable' : 'disable',
  describe: enable ? 'Give unknown service types a range of their own' : 'Refuse unknown service types (UNKNOWN_SERVICE_TYPE)',
  builder: (y) => json(y).example(`$0 config auto-allocation ${enable ? 'enable' : 'disable'}`, enable ? 'Turn it on' : 'Turn it off') as never,
  handler: async (args) => {
    const { runAutoEnable } = await import('../../app/auto-config');
    await present(
      args,
      () => runAutoEnable(context(), enable),
      (r) => {
        printLine(`Auto-allocation ${enable ? 'enabled' : 'disabled'} in ${shown(r.file)}${r.previous === enable ? ' (it already was)' : ''}`);
        if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
      },
    );
  },
});

const setRule: CommandModule<object, CommonArgs & RuleOptionArgs & { pattern: string }> = {
  command: 'set-rule <pattern>',
  describe: 'Add a rule for types matching a glob, or change one (a new rule goes last; first match wins)',
  builder: (y) =>
    ruleOptions(json(y.positional('pattern', { type: 'string', describe: 'A minimatch glob over type names, like database-*' })))
      .example("$0 config auto-allocation set-rule 'database-*' --chunk-size 5 --preferred-range-start 5400", 'Databases get 5 ports near 5400')
      .example("$0 config auto-allocation set-rule 'llm-*' --instance-behavior single", 'Every new llm-* type runs once') as never,
  handler: async (args) => {
    const { runSetRule } = await import('../../app/auto-config');
    await present(args, () => runSetRule(context(), String(args.pattern), ruleTexts(args)), printRuleChange);
  },
};

const removeRule: CommandModule<object, CommonArgs & { pattern: string }> = {
  command: 'remove-rule <pattern>',
  describe: "Remove a rule from the user's config.json",
  builder: (y) => json(y.positional('pattern', { type: 'string' })).example("$0 config auto-allocation remove-rule 'database-*'", 'Drop the rule') as never,
  handler: async (args) => {
    const { runRemoveRule } = await import('../../app/auto-config');
    await present(args, () => runRemoveRule(context(), String(args.pattern)), printRuleChange);
  },
};

const autoAllocation: CommandModule = {
  command: 'auto-allocation <command>',
  describe: 'Show and change how unknown service types get a range',
  builder: (y) =>
    y
      .command(autoStatus)
      .command(autoToggle(true))
      .command(autoToggle(false))
      .command(setRule)
      .command(removeRule)
      .demandCommand(1)
      .example('$0 config auto-allocation status', 'Is it on, which rules apply, which types it made')
      .example("$0 config auto-allocation set-rule 'llm-*' --instance-behavior single", 'Every new llm-* type runs once') as never,
  handler: () => undefined,
};

const undoAuto: CommandModule<object, CommonArgs & { type?: string; force?: boolean }> = {
  command: 'undo-auto-allocation [type]',
  aliases: ['undo-auto'],
  describe: 'Remove an auto-allocated service type (the newest when none is named) from config.json',
  builder: (y) =>
    json(y.positional('type', { type: 'string', describe: 'The auto-allocated type (default: the newest)' }))
      .option('force', { type: 'boolean', describe: 'Also release its live allocations' })
      .example('$0 config undo-auto grafana', "Take grafana's range back")
      .example('$0 config undo-auto-allocation --force', 'Undo the newest, releasing what uses it') as never,
  handler: async (args) => {
    const { runUndoAuto } = await import('../../app/auto-config');
    await present(
      args,
      () => runUndoAuto(context(), { ...(args.type !== undefined && { serviceType: String(args.type) }), ...(args.force && { force: true }) }),
      (r) => {
        printLine(`Removed auto-allocated type '${r.serviceType}'${r.range ? ` (${r.range[0]}-${r.range[1]})` : ''} from ${shown(r.file)}`);
        for (const a of r.released) printLine(`  released ${a.lockId} (port ${a.port})`);
        if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
      },
    );
  },
};

export const configCommand: CommandModule = {
  command: 'config <command>',
  describe: 'Show, check and change the config',
  builder: (yargs) =>
    yargs
      .command(show)
      .command(validate)
      .command(pathCmd)
      .command(set)
      .command(autoAllocation)
      .command(undoAuto)
      .demandCommand(1)
      .example('$0 config show', 'The effective config: defaults, then .styxy.json, then config.json')
      .example('$0 config set service-types.ai.instance-behavior multi', 'Change one setting, keeping everything else') as never,
  handler: () => undefined,
};
