/**
 * SLOs as multi-window, multi-burn-rate alerts (Google SRE workbook, "Alerting on SLOs"): an alert fires when the
 * error budget burns `factor` times too fast over a long window AND still over a short one (so it resets quickly).
 *   page:   1 h / 5 min at 14.4×   (2 % of a 30-day budget in an hour)
 *           6 h / 30 min at 6×     (5 % in six hours)
 *   ticket: 3 d / 6 h at 1×        (10 % in three days)
 * CloudWatch alarms evaluate periods of at most one day, so the 3-day window is three 1-day periods that must all
 * breach (3 of 3) — slightly stricter than one 3-day ratio; the others are one period of the window's length.
 */
export interface BurnRateWindow {
  severity: "page" | "ticket";
  longSeconds: number;
  shortSeconds: number;
  factor: number;
}

export const BURN_RATE_WINDOWS: BurnRateWindow[] = [
  { severity: "page", longSeconds: 3600, shortSeconds: 300, factor: 14.4 },
  { severity: "page", longSeconds: 6 * 3600, shortSeconds: 1800, factor: 6 },
  { severity: "ticket", longSeconds: 3 * 86400, shortSeconds: 6 * 3600, factor: 1 },
];

export const MAX_ALARM_PERIOD_SECONDS = 86400;

/** How a window becomes a CloudWatch alarm: one period of the window, or N one-day periods that all breach. */
export function alarmShape(windowSeconds: number): { periodSeconds: number; evaluationPeriods: number } {
  if (windowSeconds <= MAX_ALARM_PERIOD_SECONDS) return { periodSeconds: windowSeconds, evaluationPeriods: 1 };
  return { periodSeconds: MAX_ALARM_PERIOD_SECONDS, evaluationPeriods: Math.ceil(windowSeconds / MAX_ALARM_PERIOD_SECONDS) };
}

/** The error-ratio threshold of a burn-rate alarm: factor × error budget (1 - availability). */
export const burnThreshold = (availabilityPercent: number, factor: number): number => Number((factor * (1 - availabilityPercent / 100)).toFixed(6));

/** Custom metrics the app's log lines become (each metric × each dimension value is billed). */
export const ENVIRONMENT_METRICS = ["Requests", "Errors", "LatencyMs", "TenantlessAccess"] as const;
export const TENANT_METRICS = ["Requests", "Errors", "LatencyMs"] as const;

/** Tenants whose tier warrants their own SLO alarms (and thus their own billed metrics). */
export const hasTenantSlo = (t: { tier: string; isolation: string }): boolean => t.tier === "enterprise" || t.isolation === "dedicated";

export interface MetricBudget {
  customMetrics: number;
  environment: number;
  perTenant: number;
  sloTenants: number;
  byTier: Record<string, { tenants: number; withSlo: number; metrics: number }>;
}

export function metricBudget(tenants: { id: string; tier: string; isolation: string }[]): MetricBudget {
  const byTier: MetricBudget["byTier"] = {};
  for (const t of tenants) {
    const row = (byTier[t.tier] ??= { tenants: 0, withSlo: 0, metrics: 0 });
    row.tenants++;
    if (hasTenantSlo(t)) {
      row.withSlo++;
      row.metrics += TENANT_METRICS.length;
    }
  }
  const sloTenants = tenants.filter(hasTenantSlo).length;
  return { customMetrics: ENVIRONMENT_METRICS.length + sloTenants * TENANT_METRICS.length, environment: ENVIRONMENT_METRICS.length, perTenant: TENANT_METRICS.length, sloTenants, byTier };
}
