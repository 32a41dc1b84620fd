import { StyxyError } from '../errors';
import { testHooks } from './test-hooks';

/**
 * Where Styxy refuses to run: natively on Windows, whose processes, signals and file renames
 * do not give the guarantees the lock and owner checks rest on. It refuses before it reads or
 * writes anything, so a Windows run can never leave a state that a later run misreads.
 * A test stands another platform in for process.platform through lib/os/test-hooks.ts.
 */
export function assertSupportedPlatform(platform: string = testHooks().platform ?? process.platform): void {
  if (platform !== 'win32') return;
  throw new StyxyError(
    'UNSUPPORTED_PLATFORM',
    'Styxy does not run natively on Windows: its lock and owner checks need POSIX processes and files; nothing was read or written',
    {
      details: { platform },
      suggestions: ['Run it inside WSL (Windows Subsystem for Linux), where it works as on Linux'],
    },
  );
}
