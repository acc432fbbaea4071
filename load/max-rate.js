// The highest rate of POST /tasks the system holds (TARGET=todo; TARGET=any for the peer comparison, checking only
// what every peer answers: see requests.js createAnyTask), or of the floor's save + invoke pair sent straight
// to the sidecar (TARGET=floor, see floor.js): a ramping-arrival-rate run through plateaus (RATES, each held for
// STEP after a 2 s ramp). A plateau holds when its requests all succeed, its p99 stays under P99_MS and k6 reached
// 95% of its target rate (dropped iterations mean the system, or the machine, could not keep up).
// The answer is the highest plateau that holds with every plateau below it holding too.
//
//   k6 run load/max-rate.js                    (TARGET, TODO_URL, DAPR_URL, RATES, STEP, VUS, P99_MS from env)
// The run exits 99 when a plateau fails its thresholds: that is the search finding the limit, not an error.
import exec from 'k6/execution';
import { env, seconds, metric, fmt, trendStats } from './lib.js';
import { createAnyTask, createTask, floorPair } from './requests.js';

const TARGET = env('TARGET', 'todo');
const BASE = env('TODO_URL', 'http://127.0.0.1:8000');
const DAPR = env('DAPR_URL', 'http://127.0.0.1:3500');
const RATES = env('RATES', '100,200,300,400,500,600,800').split(',').map((r) => parseInt(r, 10));
const STEP = env('STEP', '15s');
const RAMP_S = 2;
const P99_MS = parseFloat(env('P99_MS', '250'));
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/max-rate-summary.json');
const RUN = `${Date.now().toString(36)}`;

const stages = [];
for (const rate of RATES) {
  stages.push({ target: rate, duration: `${RAMP_S}s` }, { target: rate, duration: STEP });
}
const thresholds = {};
for (const rate of RATES) {
  // The latency of one unit of work: the create, or the floor's pair of calls.
  thresholds[`iteration_duration{plateau:${rate}}`] = [`p(99)<${P99_MS}`];
  thresholds[`http_req_failed{plateau:${rate}}`] = ['rate==0'];
  thresholds[`iterations{plateau:${rate}}`] = ['count>=0'];
}

export const options = {
  scenarios: {
    max_rate: {
      executor: 'ramping-arrival-rate',
      startRate: RATES[0],
      timeUnit: '1s',
      stages,
      preAllocatedVUs: parseInt(env('VUS', '100'), 10),
      maxVUs: parseInt(env('MAX_VUS', '400'), 10),
    },
  },
  thresholds,
  summaryTrendStats: trendStats,
};

/** The plateau this moment belongs to, or 'ramp' between plateaus. */
function plateau() {
  let t = exec.instance.currentTestRunDuration / 1000;
  for (const rate of RATES) {
    t -= RAMP_S;
    if (t < 0) {
      return 'ramp';
    }
    t -= seconds(STEP);
    if (t < 0) {
      return String(rate);
    }
  }
  return 'ramp';
}

export default function () {
  const tags = { plateau: plateau() };
  exec.vu.metrics.tags.plateau = tags.plateau;
  const id = `max-${RUN}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`;
  if (TARGET === 'floor') {
    floorPair(DAPR, id, tags);
  } else if (TARGET === 'any') {
    createAnyTask(BASE, `load ${id}`, tags); // the peer comparison: the same check for every service
  } else {
    createTask(BASE, `load ${id}`, tags);
  }
}

export function handleSummary(data) {
  const lines = [`max-rate (${TARGET}): plateaus of ${STEP} against ${TARGET === 'floor' ? DAPR : BASE}, p99 bound ${P99_MS} ms`,
    '  target/s  achieved/s   p50 ms   p99 ms  failed  holds'];
  let best = 0;
  let stillHolding = true;
  const plateaus = [];
  for (const rate of RATES) {
    const count = metric(data, `iterations{plateau:${rate}}`, 'count') || 0;
    const achieved = count / seconds(STEP);
    const p50 = metric(data, `iteration_duration{plateau:${rate}}`, 'med');
    const p99 = metric(data, `iteration_duration{plateau:${rate}}`, 'p(99)');
    const failed = metric(data, `http_req_failed{plateau:${rate}}`, 'rate') || 0;
    const holds = count > 0 && failed === 0 && p99 !== null && p99 < P99_MS && achieved >= 0.95 * rate;
    stillHolding = stillHolding && holds;
    if (stillHolding) {
      best = rate;
    }
    plateaus.push({ rate, achieved, p50, p99, failed, holds });
    lines.push(`  ${String(rate).padStart(8)}  ${fmt(achieved, 1).padStart(10)}  ${fmt(p50).padStart(7)}  ${fmt(p99).padStart(7)}`
      + `  ${fmt(100 * failed, 2).padStart(5)}%  ${holds ? 'yes' : 'no'}`);
  }
  lines.push(`  highest rate held: ${best}/s`, '');
  data.max_rate = { target: TARGET, best, plateaus, p99_bound_ms: P99_MS, step: STEP };
  return { stdout: lines.join('\n') + '\n', [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
