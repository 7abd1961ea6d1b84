import type { LoginMeasurement } from './login.ts';
import type { Measurement } from './measurement.ts';

/** One scenario on Vigil, and the same on the baseline. */
export interface Compared { scenario: string; vigil: Measurement; baseline?: Measurement }

export interface LoginCompared { vigil: LoginMeasurement; baseline: LoginMeasurement }

type Cell = string | number;

const ratio = (a: number, b: number | undefined) => (b ? (a / b).toFixed(2) : '');

function rows(compared: Compared[], login?: LoginCompared): Record<string, Cell>[] {
  const out: Record<string, Cell>[] = compared.map(({ scenario, vigil, baseline }) => ({
    scenario,
    'Vigil req/s': Math.round(vigil.rps),
    'baseline req/s': baseline ? Math.round(baseline.rps) : '',
    'Vigil/baseline': ratio(vigil.rps, baseline?.rps),
    'Vigil p50/p99 ms': `${vigil.p50}/${vigil.p99}`,
    'baseline p50/p99 ms': baseline ? `${baseline.p50}/${baseline.p99}` : '',
    'p99 Vigil/baseline': ratio(vigil.p99, baseline?.p99),
    'Vigil peak RSS MB': vigil.peakRssMb,
    'baseline peak RSS MB': baseline?.peakRssMb ?? '',
    'Vigil errors/non-2xx': `${vigil.errors}/${vigil.non2xx}`,
  }));
  if (login) {
    const { vigil, baseline } = login;
    out.push({
      scenario: 'login (logins/s)',
      'Vigil req/s': vigil.loginsPerSecond.toFixed(1),
      'baseline req/s': baseline.loginsPerSecond.toFixed(1),
      'Vigil/baseline': ratio(vigil.loginsPerSecond, baseline.loginsPerSecond),
      'Vigil p50/p99 ms': `${vigil.p50}/${vigil.p99}`,
      'baseline p50/p99 ms': `${baseline.p50}/${baseline.p99}`,
      'p99 Vigil/baseline': ratio(vigil.p99, baseline.p99),
      'Vigil peak RSS MB': vigil.peakRssMb,
      'baseline peak RSS MB': baseline.peakRssMb,
      'Vigil errors/non-2xx': `${vigil.failed}/0`,
    });
  }
  return out;
}

export function printTable(compared: Compared[], login?: LoginCompared): void {
  console.table(rows(compared, login));
}

/** The same table in Markdown, for docs/performance.md. */
export function markdownTable(compared: Compared[], login?: LoginCompared): string {
  const table = rows(compared, login);
  if (!table.length) return '';
  const head = Object.keys(table[0]);
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...table.map((r) => `| ${head.map((h) => String(r[h])).join(' | ')} |`),
  ].join('\n');
}
