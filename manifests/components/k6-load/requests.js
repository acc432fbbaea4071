// The two units of work the load scripts measure, so that every script sends exactly the same requests.
import http from 'k6/http';
import { check } from 'k6';

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** POST /tasks through todo-api; answers the response and its parsed body (null when it is not JSON). */
export function createTask(base, title, tags = {}) {
  const response = http.post(`${base}/tasks`, JSON.stringify({ title }), {
    headers: JSON_HEADERS,
    tags: Object.assign({ name: 'POST /tasks' }, tags),
  });
  let body = null;
  try {
    body = response.json();
  } catch (notJson) {
    body = null;
  }
  check(response, {
    'status is 201': (r) => r.status === 201,
    'Location is /tasks/{id}': (r) => body !== null && r.headers['Location'] === `/tasks/${body.id}`,
    'body is the pending task': () => body !== null && body.title === title && body.status === 'pending',
  });
  return { response, body };
}

/**
 * The same work without todo-api: the state save and the invocation it would make, sent straight to the sidecar.
 * Answers whether the notification was delivered.
 */
export function floorPair(dapr, id, tags = {}) {
  const title = `load ${id}`;
  const task = { id, title, status: 'pending', created_at: new Date().toISOString() };
  const saved = http.post(`${dapr}/v1.0/state/statestore`, JSON.stringify([{ key: `task-${id}`, value: task }]), {
    headers: JSON_HEADERS,
    tags: Object.assign({ name: 'save state' }, tags),
  });
  const invoked = http.post(`${dapr}/v1.0/invoke/notification-service/method/notify`,
    JSON.stringify({ message: `Todo created: ${title}`, task_id: id }), {
      headers: JSON_HEADERS,
      tags: Object.assign({ name: 'invoke notify' }, tags),
    });
  check(null, {
    'state saved (204)': () => saved.status === 204,
    'notification delivered (200)': () => invoked.status === 200,
  });
  return invoked.status === 200;
}
