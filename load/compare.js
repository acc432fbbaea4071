// The peer comparison of scripts/benchmark.sh PEERS: POST /tasks against todo-api, the seed's FastAPI service or
// Spring Boot with the Dapr Java SDK, each in todo-api's place behind the same daprd, with one check for all of them
// (requests.js createAnyTask: a 2xx answer holding the new pending task).
//   MODE=closed  VUS users, each sending its next create as soon as the last is answered, for DURATION: throughput
//   MODE=rate    RATE creates a second (constant arrival) for DURATION
// Writes k6's summary, with the figures the report reads under "compare", to SUMMARY_JSON.
import exec from 'k6/execution';
import { env, constantArrival, metric, fmt, trendStats, latencyLine } from './lib.js';
import { createAnyTask } from './requests.js';

const BASE = env('TODO_URL', 'http://127.0.0.1:8000');
const MODE = env('MODE', 'closed');
const DURATION = env('DURATION', '30s');
const VUS = parseInt(env('VUS', '32'), 10);
const RATE = parseInt(env('RATE', '100'), 10);
const NAME = env('PEER', 'todo-api');
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/compare-summary.json');
const RUN = `${Date.now().toString(36)}`;

export const options = {
  scenarios: {
    compare: MODE === 'closed'
      ? { executor: 'constant-vus', vus: VUS, duration: DURATION }
      : constantArrival(RATE, DURATION, Math.max(10, Math.ceil(RATE / 10))),
  },
  thresholds: { checks: ['rate>=0'] },
  summaryTrendStats: trendStats,
};

export default function () {
  createAnyTask(BASE, `compare ${RUN}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`);
}

export function handleSummary(data) {
  const requests = metric(data, 'http_reqs', 'count') || 0;
  const seconds = (data.state.testRunDurationMs || 1) / 1000;
  const failedChecks = metric(data, 'checks', 'fails') || 0;
  const figures = {
    peer: NAME, mode: MODE, vus: MODE === 'closed' ? VUS : null, rate: MODE === 'rate' ? RATE : null,
    requests, seconds, throughput: requests / seconds,
    failed: metric(data, 'http_req_failed', 'rate') || 0, failed_checks: failedChecks,
    p50: metric(data, 'http_req_duration', 'med'), p90: metric(data, 'http_req_duration', 'p(90)'),
    p99: metric(data, 'http_req_duration', 'p(99)'),
  };
  data.compare = figures;
  const lines = [
    `compare (${NAME}, ${MODE === 'closed' ? `closed loop, ${VUS} users` : `${RATE}/s`}, ${DURATION}) against ${BASE}`,
    `  ${requests} POST /tasks, ${fmt(figures.throughput, 1)}/s, failed ${fmt(100 * figures.failed, 2)}%, `
      + `failed checks ${failedChecks}`,
    `  latency ms: ${latencyLine(data, 'http_req_duration')}`,
    '',
  ];
  return { stdout: lines.join('\n'), [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
