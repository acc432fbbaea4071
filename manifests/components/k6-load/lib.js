// Shared by the k6 scripts of load/: settings from the environment and the summary table.

export function env(name, fallback) {
  const value = __ENV[name];
  return value === undefined || value === '' ? fallback : value;
}

/** A constant-arrival-rate scenario: `rate` iterations a second for `duration`, MAX_VUS (default 4 x vus) at most. */
export function constantArrival(rate, duration, vus) {
  return {
    executor: 'constant-arrival-rate',
    rate,
    timeUnit: '1s',
    duration,
    preAllocatedVUs: vus,
    maxVUs: parseInt(env('MAX_VUS', String(vus * 4)), 10),
  };
}

export function seconds(duration) {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(duration);
  if (!match) {
    throw new Error(`cannot read the duration '${duration}': write it like 30s, 2m or 1h`);
  }
  const factor = { ms: 0.001, s: 1, m: 60, h: 3600 }[match[2]];
  return parseFloat(match[1]) * factor;
}

export function metric(data, name, stat) {
  const m = data.metrics[name];
  return m && m.values && m.values[stat] !== undefined ? m.values[stat] : null;
}

export function fmt(value, digits = 2) {
  return value === null || value === undefined ? '-' : Number(value).toFixed(digits);
}

/** Every threshold of the run as lines "ok|FAILED metric expression". */
export function thresholdLines(data) {
  const lines = [];
  for (const [name, m] of Object.entries(data.metrics)) {
    for (const [expression, result] of Object.entries(m.thresholds || {})) {
      lines.push(`  ${result.ok ? 'ok    ' : 'FAILED'} ${name}: ${expression}`);
    }
  }
  return lines.sort();
}

/** The latency line of a trend metric, in milliseconds. */
export function latencyLine(data, name) {
  return ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max']
    .map((stat) => `${stat}=${fmt(metric(data, name, stat))}`).join(' ');
}

export const trendStats = ['avg', 'min', 'med', 'p(90)', 'p(95)', 'p(99)', 'max', 'count'];
