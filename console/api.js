// The console's client of the openkvs API. The console calls the very operation paths the AWS SDKs
// use (POST /listStreams, /getClip, ...), authorized by its session cookie and the
// `X-Openkvs-Console: 1` header instead of a SigV4 signature; the signed-in key's policy applies.

const PATHS = {
  ListStreams: '/listStreams',
  DescribeStream: '/describeStream',
  CreateStream: '/createStream',
  DeleteStream: '/deleteStream',
  UpdateDataRetention: '/updateDataRetention',
  ListTagsForStream: '/listTagsForStream',
  TagStream: '/tagStream',
  GetDataEndpoint: '/getDataEndpoint',
  ListFragments: '/listFragments',
  GetHLSStreamingSessionURL: '/getHLSStreamingSessionURL',
  GetWHEPStreamingSessionURL: '/openkvs/getWHEPStreamingSessionURL',
  GetClip: '/getClip',
  GetImages: '/getImages',
  ListAnalyzerEvents: '/openkvs/listAnalyzerEvents',
  DescribeWorkers: '/openkvs/describeWorkers',
  PauseWorker: '/openkvs/pauseWorker',
  ResumeWorker: '/openkvs/resumeWorker',
  StartEdgeConfigurationUpdate: '/startEdgeConfigurationUpdate',
  DescribeEdgeConfiguration: '/describeEdgeConfiguration',
  DeleteEdgeConfiguration: '/deleteEdgeConfiguration',
};

// Secrets Manager operations speak AWS JSON 1.1: `POST /` with the operation in `X-Amz-Target`.
const TARGETS = {
  CreateSecret: 'secretsmanager.CreateSecret',
  PutSecretValue: 'secretsmanager.PutSecretValue',
};

const HEADERS = { 'content-type': 'application/json', 'x-openkvs-console': '1' };

/** An API failure: `type` is the AWS error type (e.g. ResourceNotFoundException). */
export class ApiError extends Error {
  constructor(status, type, message, op) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.type = type;
    this.op = op;
  }
}

async function failure(resp, op) {
  let type = resp.headers.get('x-amzn-errortype') || `HTTP ${resp.status}`;
  let message = '';
  try {
    const body = await resp.json();
    type = body.__type || type;
    message = body.message || body.Message || '';
  } catch {
    /* not JSON */
  }
  type = String(type).split(':')[0].split('#').pop();
  const err = new ApiError(resp.status, type, message || `${op || 'Request'} failed (${type}).`, op);
  if (type === 'MissingAuthenticationTokenException') {
    window.dispatchEvent(new CustomEvent('openkvs:session-ended'));
  }
  return err;
}

async function send(path, init, op) {
  let resp;
  try {
    resp = await fetch(path, { credentials: 'same-origin', cache: 'no-store', ...init });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'NetworkError', 'The openkvs server cannot be reached.', op);
  }
  if (!resp.ok) throw await failure(resp, op);
  return resp;
}

/** Calls an operation with a JSON body; resolves to the JSON answer (or a Blob with `binary`). */
export async function call(op, body = {}, { signal, binary = false } = {}) {
  const target = TARGETS[op];
  const path = target ? '/' : PATHS[op];
  if (!path) throw new Error(`unknown operation ${op}`);
  const headers = target ? { ...HEADERS, 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target } : HEADERS;
  const resp = await send(path, { method: 'POST', headers, body: JSON.stringify(body), signal }, op);
  return binary ? resp.blob() : resp.json();
}

/** Follows NextToken until `limit` items of `key` are collected. */
export async function callAll(op, body, key, { limit = 10000, signal } = {}) {
  const items = [];
  let token;
  do {
    const page = await call(op, token ? { ...body, NextToken: token } : body, { signal });
    items.push(...(page[key] || []));
    token = page.NextToken;
  } while (token && items.length < limit);
  return items;
}

/** Epoch milliseconds to the epoch seconds AWS timestamps use on the wire. */
export const wireTime = (ms) => Math.round(ms) / 1000;

// ---------------------------------------------------------------- session
let current = null;

export const session = {
  /** The signed-in session (or `{SignedIn:false}`), asked from the server. */
  async load() {
    const resp = await send('/console/api/session', { method: 'GET', headers: HEADERS }, 'Session');
    current = await resp.json();
    return current;
  },
  async signIn(accessKeyId, secretAccessKey, region) {
    const body = { AccessKeyId: accessKeyId, SecretAccessKey: secretAccessKey };
    if (region) body.Region = region;
    const resp = await send(
      '/console/api/signIn',
      { method: 'POST', headers: HEADERS, body: JSON.stringify(body) },
      'SignIn',
    );
    current = await resp.json();
    return current;
  },
  async signOut() {
    try {
      await send('/console/api/signOut', { method: 'POST', headers: HEADERS, body: '{}' }, 'SignOut');
    } finally {
      current = null;
    }
  },
  get current() {
    return current;
  },
  forget() {
    current = null;
  },
};

/** Whether the signed-in key's policy allows `op` (the server decides; this only hides buttons). */
export function can(op) {
  const ops = current && current.Policy && current.Policy.Operations;
  if (!ops) return true;
  return ops.some((o) => o === '*' || o.toLowerCase() === op.toLowerCase());
}
