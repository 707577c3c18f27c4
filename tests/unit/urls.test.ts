import { describe, expect, it } from 'vitest';
import { appendQuery, heartbeatUrl, replaceAllLiteral, resolveUrls } from '../../handler/runpod/platform/urls.js';

const T = {
  getJob: 'https://api.runpod.ai/v2/ep1/job-take/$ID?gpu=NVIDIA+H200',
  postOutput: 'https://api.runpod.ai/v2/ep1/job-done/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200',
  postStream: 'https://api.runpod.ai/v2/ep1/job-stream/$RUNPOD_POD_ID/$ID?gpu=NVIDIA+H200',
  ping: 'https://api.runpod.ai/v2/ep1/ping/$RUNPOD_POD_ID?gpu=NVIDIA+H200',
};

describe('URL templates (docs/runpod-protocol.md: "Process entry and mode selection", "Job acquisition (job-take)", "Result reporting (job-done)", "Per-job stop channel (job-stop, since 1.10.0)", "Heartbeat / ping")', () => {
  it('replaces every occurrence literally, without $& or $1 interpretation', () => {
    expect(replaceAllLiteral('a/$ID/b/$ID', '$ID', 'x')).toBe('a/x/b/x');
    expect(replaceAllLiteral('a/$ID', '$ID', "$&$1$'")).toBe("a/$&$1$'");
  });

  it('builds the production URLs of the transcript (docs/runpod-protocol.md, "End-to-end transcript (platform mode, concurrency 1)")', () => {
    const u = resolveUrls(T, 'w42');
    expect(u.jobTake(false)).toBe('https://api.runpod.ai/v2/ep1/job-take/w42?gpu=NVIDIA+H200&job_in_progress=0');
    expect(u.jobTake(true)).toBe('https://api.runpod.ai/v2/ep1/job-take/w42?gpu=NVIDIA+H200&job_in_progress=1');
    // More than one job wanted: job-take-batch, batch_size before job_in_progress (docs/runpod-protocol.md, "Job acquisition (job-take)").
    expect(u.jobTake(false, 1)).toBe('https://api.runpod.ai/v2/ep1/job-take/w42?gpu=NVIDIA+H200&job_in_progress=0');
    expect(u.jobTake(false, 2)).toBe('https://api.runpod.ai/v2/ep1/job-take-batch/w42?gpu=NVIDIA+H200&batch_size=2&job_in_progress=0');
    expect(u.jobTake(true, 3)).toBe('https://api.runpod.ai/v2/ep1/job-take-batch/w42?gpu=NVIDIA+H200&batch_size=3&job_in_progress=1');
    expect(u.jobDone('j1-u1', false)).toBe('https://api.runpod.ai/v2/ep1/job-done/w42/j1-u1?gpu=NVIDIA+H200&isStream=false');
    expect(u.jobDone('j1-u1', true)).toBe('https://api.runpod.ai/v2/ep1/job-done/w42/j1-u1?gpu=NVIDIA+H200&isStream=true');
    expect(u.jobStream('j1-u1')).toBe('https://api.runpod.ai/v2/ep1/job-stream/w42/j1-u1?gpu=NVIDIA+H200&isStream=false');
    expect(u.jobStop).toBe('https://api.runpod.ai/v2/ep1/job-stop/w42?gpu=NVIDIA+H200');
    expect(u.ping).toBe('https://api.runpod.ai/v2/ep1/ping/w42?gpu=NVIDIA+H200');
  });

  it('substitutes $RUNPOD_POD_ID and $ID everywhere they occur, in every template', () => {
    const u = resolveUrls(
      {
        getJob: 'http://h/$RUNPOD_POD_ID/job-take/$ID?w=$ID',
        postOutput: 'http://h/job-done/$RUNPOD_POD_ID/$ID?pod=$RUNPOD_POD_ID&job=$ID',
        postStream: 'http://h/job-stream/$RUNPOD_POD_ID/$ID?job=$ID',
        ping: 'http://h/ping/$RUNPOD_POD_ID?again=$RUNPOD_POD_ID',
      },
      'pod9',
    );
    expect(u.jobTake(false)).toBe('http://h/pod9/job-take/pod9?w=pod9&job_in_progress=0');
    expect(u.jobDone('J', false)).toBe('http://h/job-done/pod9/J?pod=pod9&job=J&isStream=false');
    expect(u.jobStream('J')).toBe('http://h/job-stream/pod9/J?job=J&isStream=false');
    expect(u.ping).toBe('http://h/ping/pod9?again=pod9');
  });

  it('starts a query with ? when the template has none, and keeps a bare trailing ?', () => {
    expect(appendQuery('http://h/job-take/w', [['job_in_progress', '0']])).toBe('http://h/job-take/w?job_in_progress=0');
    expect(appendQuery('http://h/job-take/w?', [['job_in_progress', '0']])).toBe('http://h/job-take/w?&job_in_progress=0');
  });

  it('uses the SDK literals for unset job-done/stream templates and disables ping and stop when absent', () => {
    const u = resolveUrls({ getJob: 'http://h/take/$ID', postOutput: undefined, postStream: undefined, ping: undefined }, 'w');
    expect(u.jobDone('j', false)).toBe('JOB_DONE_URL?isStream=false');
    expect(u.jobStream('j')).toBe('JOB_STREAM_URL?isStream=false');
    expect(u.ping).toBeNull();
    expect(u.jobStop).toBeNull();
  });

  it('heartbeat query: job_id comma-joined and quote_plus-encoded, then runpod_version; job_id omitted when idle', () => {
    const ping = 'https://api.runpod.ai/v2/ep/ping/w42?gpu=NVIDIA+H200';
    expect(heartbeatUrl(ping, ['abc-u1', 'def-u1'], '1.12.0')).toBe(
      'https://api.runpod.ai/v2/ep/ping/w42?gpu=NVIDIA+H200&job_id=abc-u1%2Cdef-u1&runpod_version=1.12.0',
    );
    expect(heartbeatUrl(ping, [], '1.12.0')).toBe('https://api.runpod.ai/v2/ep/ping/w42?gpu=NVIDIA+H200&runpod_version=1.12.0');
    expect(heartbeatUrl('http://h/ping/w', ['a b/c'], '0.1.0')).toBe('http://h/ping/w?job_id=a+b%2Fc&runpod_version=0.1.0');
  });
});
