import { StyxyError } from '../../errors';
import type { CleanupResult } from '../../app/cleanup';
import type { Attempt, Question } from '../../app/confirmation';
import type { Allocation } from '../../core/types';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { askerFor } from '../prompt';
import { outputMode, printLine, shown } from '../output';

interface CleanupArgs extends CommonArgs {
  force?: boolean;
  yes?: boolean;
  gone?: boolean;
}

const options = {
  force: {
    type: 'boolean',
    describe: 'Also drop every allocation whose port nobody listens on, whoever owns it: persistent ones and live owners too (asks first)',
  },
  yes: { alias: ['y'], type: 'boolean', describe: 'With --force: drop them without asking (needed without a terminal)' },
  gone: {
    type: 'boolean',
    describe: 'Also drop the allocations of projects whose directory no longer exists (a removed worktree), unless a live process holds them',
  },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const cleanupCommand: StyxyCommand<CleanupArgs> = {
  name: 'cleanup',
  command: 'cleanup',
  describe: 'Drop allocations whose owner has ended (every command does this too)',
  options,
  positionals: [],
  builder: (yargs) =>
    declare(yargs, cleanupCommand)
      .example('$0 cleanup', 'Report the allocations whose owner has ended, and drop them')
      .example('$0 cleanup --force', 'Also drop those nobody listens on, persistent ones included: lists them and asks')
      .example('$0 cleanup --force --yes', 'The same without asking (scripts)')
      .example('$0 cleanup --gone', 'Free the ports of removed worktrees and deleted projects'),
  handler: async (args) => {
    const { runCleanup } = await import('../../app/cleanup');
    const { answerQuestions, done } = await import('../../app/confirmation');
    const ctx = context();
    const gone = { ...(args.gone && { gone: true }) };
    /**
     * --force drops what may still be wanted: the first attempt only looks (a dry run) and asks
     * about what it found; the answer, a yes, is the list of what was shown, and only that is
     * dropped (an allocation made while the question was open is not).
     */
    const attempt = async (shownIds: string[] | undefined): Promise<Attempt<CleanupResult, string[]>> => {
      if (shownIds) return done(await runCleanup(ctx, { force: true, only: shownIds, ...gone }));
      const plan = await runCleanup(ctx, { force: true, dryRun: true, ...gone });
      if (plan.unused.length === 0) return done(await runCleanup(ctx, { force: true, only: [], ...gone }));
      return { kind: 'ask', question: dropQuestion(plan.unused), yes: plan.unused.map((a) => a.lockId) };
    };
    await present(
      args,
      async (): Promise<CleanupResult> =>
        !args.force || args.yes ? runCleanup(ctx, { force: Boolean(args.force), ...gone }) : answerQuestions(attempt, askerFor(outputMode(args))),
      (r) => {
        for (const a of r.pruned) printLine(`Dropped port ${a.port} (${a.serviceType}/${a.instanceId}): owner ended`);
        for (const a of r.unused) printLine(`Dropped port ${a.port} (${a.serviceType}/${a.instanceId}): nothing listening`);
        for (const a of r.gone) printLine(shown(`Dropped port ${a.port} (${a.serviceType}/${a.instanceId}): project ${a.project} no longer exists`));
        // "Nothing to clean up" only when there is nothing at all: not above a list of what --gone would drop.
        if (r.pruned.length + r.unused.length + r.gone.length === 0) printLine(r.goneFound.length > 0 ? 'Nothing was dropped.' : 'Nothing to clean up.');
        if (r.goneFound.length > 0) {
          printLine(`${r.goneFound.length} allocation(s) belong to projects that no longer exist:`);
          for (const a of r.goneFound) printLine(shown(`  ${String(a.port).padEnd(6)} ${a.serviceType}/${a.instanceId}  ${a.project}  lock ${a.lockId}`));
          printLine('Free them: styxy cleanup --gone');
        }
      },
    );
  },
};

/** Whether to drop what nobody listens on, whoever owns it: each shown with its owner. */
function dropQuestion(drops: readonly Allocation[]): Question {
  const wouldDrop = [...drops];
  return {
    prompt: 'Drop them?',
    context: [`cleanup --force would drop ${describeDrops(drops)}:`, ...drops.map((a) => `  ${dropLine(a)}`)],
    unanswered: new StyxyError('CONFIRMATION_REQUIRED', `cleanup --force would drop ${describeDrops(drops)}; nothing was dropped`, {
      details: { wouldDrop },
      suggestions: ['See them: styxy list -v', 'Drop them all the same: styxy cleanup --force --yes', 'Or release one: styxy release <lock id>'],
    }),
    declined: new StyxyError('CONFIRMATION_REQUIRED', 'Declined: nothing was dropped', { details: { wouldDrop } }),
  };
}

/** "3 allocations nobody listens on (1 persistent, 2 with a live owner)". */
function describeDrops(drops: readonly Allocation[]): string {
  const count = (kind: string) => drops.filter((a) => a.owner.kind === kind).length;
  const kinds = [
    count('persistent') && `${count('persistent')} persistent`,
    count('process') && `${count('process')} with a live owner`,
    count('lease') && `${count('lease')} with a lease still running`,
  ].filter(Boolean);
  return `${drops.length} allocation(s) whose port nobody listens on (${kinds.join(', ')})`;
}

function dropLine(a: Allocation): string {
  const owner =
    a.owner.kind === 'persistent'
      ? 'persistent: kept until released'
      : a.owner.kind === 'lease'
        ? `lease until ${a.owner.expiresAt}`
        : `owner PID ${a.owner.pid}${a.owner.command ? ` (${a.owner.command.slice(0, 60)})` : ''}, still running`;
  return shown(`${String(a.port).padEnd(6)} ${a.serviceType}/${a.instanceId}  ${owner}  lock ${a.lockId}`);
}
