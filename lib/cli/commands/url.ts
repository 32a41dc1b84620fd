import { StyxyError } from '../../errors';
import { ALLOCATION_OPTIONS, HOST_STYLE_OPTION, hostStyleArg } from '../allocate-kit';
import { printBare } from '../allocation-output';
import { context, present, type CommonArgs } from '../command-kit';
import { declare, outputOptions, type OptionSpecs, type StyxyCommand } from '../command-spec';
import type { OutputFormat } from '../output';
import { printLine, shown, warn } from '../output';

interface UrlArgs extends CommonArgs {
  'service-type': string;
  'instance-id'?: string;
  project?: string;
  'host-style'?: string;
  open?: boolean;
}

/** `url` has no env formats: it reports an allocation, it does not hand one out. */
const URL_FORMATS: readonly OutputFormat[] = ['json', 'url', 'port'];

const options = {
  'service-type': { alias: ['s', 'service'], type: 'string', demandOption: true, describe: 'Service type' },
  'instance-id': ALLOCATION_OPTIONS['instance-id'],
  project: ALLOCATION_OPTIONS.project,
  'host-style': HOST_STYLE_OPTION,
  open: { type: 'boolean', describe: 'Open it in a browser ($BROWSER, else xdg-open or open); says so when there is none' },
  ...outputOptions(URL_FORMATS),
} satisfies OptionSpecs;

export const urlCommand: StyxyCommand<UrlArgs> = {
  name: 'url',
  command: 'url',
  describe: "Print the URL of this project's live allocation of a service",
  options,
  positionals: [],
  formats: URL_FORMATS,
  builder: (yargs) =>
    declare(yargs, urlCommand)
      .example('$0 url -s dev -n web', 'http://localhost:3000')
      .example('$0 url -s dev -n web --open', 'The same, opened in a browser')
      .example('$0 url -s dev -n web -q', 'Its port alone: 3000')
      .example('$0 url -s dev -n web --host-style subdomain', 'http://web.myproject.localhost:3000'),
  handler: async (args) => {
    const hostStyle = hostStyleArg(args['host-style']);
    const { runUrl } = await import('../../app/url');
    await present(
      args,
      async () => {
        const result = await runUrl(context(), {
          serviceType: args['service-type'],
          ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
          ...(args.project !== undefined && { project: args.project }),
          ...(hostStyle && { hostStyle }),
        });
        if (!args.open) return result;
        if (result.url === undefined) {
          throw new StyxyError('INVALID_ARGUMENT', `--open takes one allocation; ${result.allocations.length} match: name one with -n`, {
            details: { instanceIds: result.allocations.map((a) => a.instanceId) },
            suggestions: result.allocations.map((a) => `styxy url -s ${a.serviceType} -n ${a.instanceId} --open`),
          });
        }
        const { openInBrowser } = await import('../../os/browser');
        return { ...result, open: await openInBrowser(result.url) };
      },
      (r) => {
        if (!printBare(r.allocations, args)) for (const a of r.allocations) printLine(r.allocations.length === 1 ? a.url : `${a.url}  ${shown(a.instanceId)}`);
        if ('open' in r && !r.open.opened) warn(`styxy: could not open a browser (${r.open.reason}); open ${r.url} yourself`);
      },
    );
  },
};
