import { StyxyError } from '../errors';
import { findNearMissType } from '../core/near-miss';

/**
 * Refuses an unknown service type that is a near miss of a known one (`dve`, `Dev`, `databse`),
 * before anything is written: auto-allocating it would make the typo a type for good. `--new-type`
 * skips this check.
 */
export function refuseNearMissType(serviceType: string, known: Iterable<string>): void {
  const type = findNearMissType(serviceType, known);
  if (type === null) return;
  throw new StyxyError('SIMILAR_SERVICE_TYPE', `Unknown service type '${serviceType}': did you mean '${type}'? Nothing was written`, {
    details: { serviceType, didYouMean: type },
    suggestions: [`Use the existing type: -s ${type}`, `To create '${serviceType}' as a new type all the same, add --new-type`],
  });
}
