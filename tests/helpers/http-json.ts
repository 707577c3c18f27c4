/**
 * Plain HTTP calls to a server on loopback (the simulator), as a client that speaks JSON would make them; the answer's
 * body parsed as JSON, or kept as text when it is not JSON.
 */
import { PNG } from 'pngjs';

/** An answer: the status and the body (parsed JSON, or the text). */
export interface JsonResponse {
  status: number;
  // Tests read into arbitrary answer shapes.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** `method url` with `value` as a JSON body (none when undefined). */
export async function callJson(method: 'GET' | 'POST', url: string, value?: unknown): Promise<JsonResponse> {
  const r = await fetch(url, {
    method,
    ...(value === undefined ? {} : { body: JSON.stringify(value), headers: { 'content-type': 'application/json' } }),
  });
  const text = await r.text();
  try {
    return { status: r.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: r.status, body: text };
  }
}

/** `GET url`. */
export const getJson = (url: string): Promise<JsonResponse> => callJson('GET', url);

/** `POST url` with a JSON body. */
export const postJson = (url: string, value?: unknown): Promise<JsonResponse> => callJson('POST', url, value);

/** A grey RGBA PNG of `w × h` px, base64. */
export function greyPng(w: number, h: number): string {
  const png = new PNG({ width: w, height: h });
  png.data.fill(200);
  return PNG.sync.write(png).toString('base64');
}

/** A PNG of `w × h` px with a repeating colour pattern (opaque), base64. */
export function patternPng(w: number, h: number): string {
  const png = new PNG({ width: w, height: h });
  for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : (i * 7) % 256;
  return PNG.sync.write(png).toString('base64');
}
