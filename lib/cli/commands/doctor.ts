import type { CommandModule } from 'yargs';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { printLine } from '../output';

export const doctorCommand: CommandModule<object, CommonArgs> = {
  command: 'doctor',
  describe: "Check Styxy's home, files, config, state and lock; changes nothing",
  builder: (yargs) =>
    yargs.option('json', JSON_OPTION).example('$0 doctor', 'Is everything in order?') as never,
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
