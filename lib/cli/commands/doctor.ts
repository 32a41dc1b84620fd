import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine } from '../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const doctorCommand: StyxyCommand<CommonArgs> = {
  name: 'doctor',
  command: 'doctor',
  describe: "Check Styxy's home, files, config, state and lock; changes nothing",
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, doctorCommand)
      .example('$0 doctor', 'Is everything in order?') as never,
  handler: async (args) => {
    const { runDoctor } = await import('../../app/doctor');
    await present(
      args,
      () => runDoctor(context()),
      (r) => {
        for (const c of r.checks) printLine(`${c.status === 'ok' ? '✔' : c.status === 'warn' ? '!' : '✘'} ${c.name}: ${c.message}${c.remedy ? `\n    ${c.remedy}` : ''}`);
      },
    );
  },
};
