import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { isStyxyError } from '../../errors';
import type { DoctorCheck } from '../../app/doctor';
import { glyph, outputMode, printLine, shown } from '../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const doctorCommand: StyxyCommand<CommonArgs> = {
  name: 'doctor',
  command: 'doctor',
  describe: "Check Styxy's home, files, config, state and lock; changes nothing",
  options,
  positionals: [],
  builder: (yargs) =>
    declare(yargs, doctorCommand)
      .example('$0 doctor', 'Is everything in order?')
      .example('$0 doctor --json', 'The same as JSON; exit status 15 (NEEDS_ATTENTION) when something needs you')
      .epilog(
        'Checks: a home owned by root inside your own (a sudo run), the home and files (yours, private, no symlinks), ' +
          'every config layer (schema, overlapping ranges), the state, a stale lock, leftover temp files, a full disk, and the ' +
          'allocations: owners that ended, ports nobody listens on, ports held by a process other than the owner ' +
          '(those three are informational).',
      ),
  handler: async (args) => {
    const { runDoctor } = await import('../../app/doctor');
    const print = (checks: DoctorCheck[]) => {
      for (const c of checks) printLine(`${glyph(c.status)} ${c.name}: ${shown(c.message)}${c.remedy ? `\n    ${shown(c.remedy)}` : ''}`);
    };
    await present(
      args,
      () => {
        try {
          return runDoctor(context());
        } catch (err) {
          // Every check on stdout first, then the failure (with its exit status) on stderr.
          if (outputMode(args) === 'human' && isStyxyError(err) && err.code === 'NEEDS_ATTENTION') print(err.details?.checks as DoctorCheck[]);
          throw err;
        }
      },
      (r) => print(r.checks),
    );
  },
};
