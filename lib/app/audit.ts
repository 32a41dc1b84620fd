import { readAudit, type AuditEvent } from '../store/audit-log';
import type { AppContext } from './context';

export interface AuditQuery {
  action?: string;
  serviceType?: string;
  limit?: number;
}

export interface AuditResult {
  success: true;
  /** The newest matching events, oldest first. */
  events: AuditEvent[];
  /** How many events matched before the limit. */
  matched: number;
}

/** `styxy audit`: the audit log, filtered. Reads without the lock; a torn last line is skipped. */
export function runAudit(ctx: AppContext, query: AuditQuery): AuditResult {
  const matching = readAudit(ctx.paths).filter(
    (e) => (query.action === undefined || e.action === query.action) && (query.serviceType === undefined || e.serviceType === query.serviceType),
  );
  const limit = query.limit ?? 20;
  return { success: true, events: limit === 0 ? matching : matching.slice(-limit), matched: matching.length };
}
