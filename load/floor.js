// The floor: what todo-api's POST /tasks costs without todo-api. The same work, one state save and one invocation of
// notification-service, sent by k6 straight to todo-api's sidecar (POST /v1.0/state/statestore, then
// POST /v1.0/invoke/notification-service/method/notify), at the same arrival rate. Compare its iteration_duration
// with create-tasks.js's http_req_duration: the difference is what todo-api adds.
//
//   k6 run load/floor.js                                  (DAPR_URL, RATE, DURATION, VUS, P99_MS from env)
import exec from 'k6/execution';
import { Counter } from 'k6/metrics';
import { env, constantArrival, metric, fmt, thresholdLines, latencyLine, trendStats } from './lib.js';
import { floorPair } from './requests.js';

const DAPR = env('DAPR_URL', 'http://127.0.0.1:3500');
const RATE = parseInt(env('RATE', '200'), 10);
const DURATION = env('DURATION', '30s');
const VUS = parseInt(env('VUS', '50'), 10);
const P99_MS = parseFloat(env('P99_MS', '250'));
const SUMMARY_JSON = env('SUMMARY_JSON', 'load/results/floor-summary.json');
const RUN = `${Date.now().toString(36)}`;

const delivered = new Counter('notifications_delivered');

export const options = {
  scenarios: {
    floor: constantArrival(RATE, DURATION, VUS),
  },
  thresholds: {
    http_req_failed: ['rate==0'],
    iteration_duration: [`p(99)<${P99_MS}`],
    checks: ['rate==1'],
  },
  summaryTrendStats: trendStats,
};

export default function () {
  if (floorPair(DAPR, `floor-${RUN}-${exec.vu.idInTest}-${exec.vu.iterationInScenario}`)) {
    delivered.add(1);
  }
}

export function handleSummary(data) {
  const lines = [
    `floor: ${metric(data, 'iterations', 'count')} iterations (save state + invoke notify, straight to ${DAPR}) at ${RATE}/s for ${DURATION}`,
    `  achieved ${fmt(metric(data, 'iterations', 'rate'), 1)} iterations/s, failed requests ${fmt(100 * (metric(data, 'http_req_failed', 'rate') || 0))}%, `
      + `dropped iterations ${metric(data, 'dropped_iterations', 'count') || 0}`,
    `  iteration ms: ${latencyLine(data, 'iteration_duration')}`,
    'thresholds:', ...thresholdLines(data), '',
  ];
  return { stdout: lines.join('\n') + '\n', [SUMMARY_JSON]: JSON.stringify(data, null, 2) };
}
