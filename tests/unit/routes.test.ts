import { describe, expect, it } from 'vitest';
import { JobInputError } from '../../handler/errors/index.js';
import type { ServerModel } from '../../handler/a1111/server-model.js';
import { ALLOWED_ROUTES_TEXT, MAX_ENDPOINT_LENGTH, ROUTES, checkRouteServed, resolveRoute } from '../../handler/jobs/input/routes.js';

const POST_NAMES = [
  'txt2img',
  'img2img',
  'interrogate',
  'extra-single-image',
  'extra-batch-images',
  'png-info',
  'options',
  'refresh-checkpoints',
  'refresh-vae',
  'refresh-loras',
  'refresh-embeddings',
  'interrupt',
  'skip',
  'unload-checkpoint',
  'reload-checkpoint',
  'controlnet/detect',
];
const GET_NAMES = [
  'samplers',
  'schedulers',
  'upscalers',
  'latent-upscale-modes',
  'sd-models',
  'sd-vae',
  'loras',
  'embeddings',
  'hypernetworks',
  'face-restorers',
  'realesrgan-models',
  'prompt-styles',
  'options',
  'cmd-flags',
  'memory',
  'progress',
  'scripts',
  'script-info',
  'extensions',
  'sd-modules',
  'controlnet/version',
  'controlnet/model_list',
  'controlnet/module_list',
  'controlnet/control_types',
  'controlnet/settings',
  'adetailer/v1/version',
  'adetailer/v1/schema',
  'adetailer/v1/ad_model',
];

const NO_PAYLOAD_POST = new Set(['interrupt', 'skip', 'unload-checkpoint', 'reload-checkpoint']);

function errorOf(fn: () => unknown): JobInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JobInputError);
    return e as JobInputError;
  }
  throw new Error('expected a JobInputError, nothing was thrown');
}

describe('ROUTES', () => {
  it('is exactly the allow-list of the brief', () => {
    expect(ROUTES.filter((r) => r.method === 'POST').map((r) => r.name)).toEqual(POST_NAMES);
    expect(ROUTES.filter((r) => r.method === 'GET').map((r) => r.name)).toEqual(GET_NAMES);
  });

  it('has consistent paths, schemas and generates flags', () => {
    for (const r of ROUTES) {
      const a1111 = !r.name.startsWith('controlnet/') && !r.name.startsWith('adetailer/');
      expect(r.path).toBe(a1111 ? `/sdapi/v1/${r.name}` : `/${r.name}`);
      expect(r.generates).toBe(r.name === 'txt2img' || r.name === 'img2img');
      if (r.name === 'controlnet/detect') {
        expect(r.schema).toBeNull();
        expect(r.body).toBe('object');
      } else if (r.method === 'GET' || r.name.startsWith('refresh-') || NO_PAYLOAD_POST.has(r.name)) {
        expect(r.schema).toBeNull();
        expect(r.body).toBe('none');
      } else {
        expect(r.schema).toBe(r.name);
        expect(r.body).toBe('schema');
      }
      const provider = r.name.startsWith('controlnet/') ? 'controlnet' : r.name.startsWith('adetailer/') ? 'adetailer' : r.name === 'sd-modules' ? 'forge' : null;
      expect(r.provider).toBe(provider);
    }
  });

  it('is frozen', () => {
    expect(Object.isFrozen(ROUTES)).toBe(true);
    for (const r of ROUTES) expect(Object.isFrozen(r)).toBe(true);
  });

  it('lists the allowed routes in one line', () => {
    expect(ALLOWED_ROUTES_TEXT).toBe(`POST ${POST_NAMES.join(', ')}; GET ${GET_NAMES.join(', ')}`);
  });
});

describe('resolveRoute', () => {
  it.each(ROUTES.map((r) => [r.method, r.name, r.path] as const))('resolves %s %s with and without the leading slash', (method, name, path) => {
    const withSlash = resolveRoute(method, path);
    const without = resolveRoute(method, path.slice(1));
    expect(withSlash.name).toBe(name);
    expect(withSlash.method).toBe(method);
    expect(without).toBe(withSlash);
    expect(ROUTES).toContain(withSlash);
  });

  it('takes the method in any case', () => {
    expect(resolveRoute('post', '/sdapi/v1/txt2img').name).toBe('txt2img');
    expect(resolveRoute('Get', '/sdapi/v1/samplers').name).toBe('samplers');
  });

  it('resolves options by method: GET reads, POST writes with a schema', () => {
    expect(resolveRoute('GET', '/sdapi/v1/options').schema).toBeNull();
    expect(resolveRoute('POST', '/sdapi/v1/options').schema).toBe('options');
  });

  const abuse: Array<[string, unknown]> = [
    ['server-kill', '/sdapi/v1/server-kill'],
    ['server-restart', '/sdapi/v1/server-restart'],
    ['server-stop', 'sdapi/v1/server-stop'],
    ['interrupt with a trailing slash', '/sdapi/v1/interrupt/'],
    ['create/embedding', '/sdapi/v1/create/embedding'],
    ['create/hypernetwork', '/sdapi/v1/create/hypernetwork'],
    ['train/embedding', '/sdapi/v1/train/embedding'],
    ['train/hypernetwork', '/sdapi/v1/train/hypernetwork'],
    ['traversal', '/sdapi/v1/../v1/txt2img'],
    ['traversal to kill', '/sdapi/v1/txt2img/../server-kill'],
    ['encoded traversal', '/sdapi/v1/..%2fserver-kill'],
    ['encoded traversal upper', '/sdapi/v1/..%2Fserver-kill'],
    ['percent-encoded letter', '/sdapi/v1/%74xt2img'],
    ['percent-encoded slash in prefix', '/sdapi%2fv1/txt2img'],
    ['absolute URL', 'http://127.0.0.1:3000/sdapi/v1/txt2img'],
    ['https URL', 'https://evil.example/sdapi/v1/txt2img'],
    ['protocol-relative', '//evil.example/sdapi/v1/txt2img'],
    ['query string', '/sdapi/v1/txt2img?x=1'],
    ['query on progress', '/sdapi/v1/progress?skip_current_image=true'],
    ['fragment', '/sdapi/v1/txt2img#frag'],
    ['backslashes', '\\sdapi\\v1\\txt2img'],
    ['backslash in name', '/sdapi/v1\\txt2img'],
    ['doubled slash after prefix', '/sdapi/v1//txt2img'],
    ['doubled slash at start', '//sdapi/v1/txt2img'],
    ['doubled slash inside', '/sdapi//v1/txt2img'],
    ['trailing slash', '/sdapi/v1/txt2img/'],
    ['leading space', ' /sdapi/v1/txt2img'],
    ['trailing space', '/sdapi/v1/txt2img '],
    ['trailing newline', '/sdapi/v1/txt2img\n'],
    ['tab inside', '/sdapi/v1/txt\t2img'],
    ['no prefix', 'txt2img'],
    ['no prefix, extension name', 'model_list'],
    ['other prefix', '/sdapi/v2/txt2img'],
    ['internal route', '/internal/ping'],
    ['unlisted extension route', '/controlnet/render_openpose_json'],
    ['extension route with a query', '/controlnet/model_list?update=false'],
    ['extension route in upper case', '/ControlNet/model_list'],
    ['extension route under /sdapi/v1/', '/sdapi/v1/controlnet/model_list'],
    ['traversal from an extension route', '/controlnet/../sdapi/v1/server-kill'],
    ['adetailer trailing slash', '/adetailer/v1/ad_model/'],
    ['adetailer without version', '/adetailer/ad_model'],
    ['forge route without prefix', '/sd-modules'],
    ['docs', '/docs'],
    ['upper case', '/SDAPI/V1/TXT2IMG'],
    ['mixed case name', '/sdapi/v1/Txt2img'],
    ['prefix only', '/sdapi/v1/'],
    ['empty', ''],
    ['proto key', '/sdapi/v1/__proto__'],
    ['dot segment', '/sdapi/v1/./txt2img'],
    ['too long', '/sdapi/v1/' + 'a'.repeat(MAX_ENDPOINT_LENGTH)],
    ['server-kill with trailing slash', '/sdapi/v1/server-kill/'],
    ['server-kill upper case', '/sdapi/v1/SERVER-KILL'],
    ['create prefix only', '/sdapi/v1/create/'],
    ['train prefix only', '/sdapi/v1/train'],
    ['create through traversal', '/sdapi/v1/txt2img/../create/embedding'],
    ['deep traversal', '/sdapi/v1/../../../etc/passwd'],
    ['encoded dots', '/sdapi/v1/%2e%2e/server-kill'],
    ['encoded dots upper', '/sdapi/v1/%2E%2E%2Fserver-kill'],
    ['double-encoded slash', '/sdapi/v1/..%252fserver-kill'],
    ['encoded backslash', '/sdapi/v1/..%5cserver-kill'],
    ['encoded query', '/sdapi/v1/txt2img%3Fx=1'],
    ['encoded NUL', '/sdapi/v1/txt2img%00'],
    ['raw NUL', '/sdapi/v1/txt2img\u0000'],
    ['matrix parameter', '/sdapi/v1/txt2img;x=1'],
    ['fullwidth slash', '/sdapi/v1／txt2img'],
    ['unicode lookalike', '/sdapi/v1/txt2іmg'],
    ['file URL', 'file:///sdapi/v1/txt2img'],
    ['scheme without slashes', 'http:/sdapi/v1/txt2img'],
    ['UNC path', '\\\\evil\\sdapi\\v1\\txt2img'],
    ['userinfo URL', 'http://user:pw@127.0.0.1:3000/sdapi/v1/txt2img'],
  ];

  it.each(abuse)('refuses %s and lists the allowed routes', (_label, endpoint) => {
    const e = errorOf(() => resolveRoute('POST', endpoint));
    expect(e.message).toMatch(/^api\.endpoint /);
    expect(e.message).toContain('is not allowed');
    expect(e.message).toContain(`allowed ${ALLOWED_ROUTES_TEXT}`);
    expect(e.message).not.toMatch(/[\n\r]/);
    if (typeof endpoint === 'string' && endpoint.length < 60) expect(e.message).toContain(JSON.stringify(endpoint));
  });

  it('refuses the same abuse with GET', () => {
    for (const [, endpoint] of abuse) {
      expect(() => resolveRoute('GET', endpoint)).toThrow(JobInputError);
    }
  });

  it('refuses endpoints longer than 200 characters, showing a shortened value', () => {
    const long = '/sdapi/v1/txt2img' + '/'.repeat(MAX_ENDPOINT_LENGTH);
    const e = errorOf(() => resolveRoute('POST', long));
    expect(e.message).toContain('longer than 200 characters');
    expect(e.message).toContain(`(${long.length + 2} chars)`);
    expect(e.message.length).toBeLessThan(ALLOWED_ROUTES_TEXT.length + 250);
  });

  it.each([[undefined], [null], [42], [true], [{}], [['/sdapi/v1/txt2img']]])('refuses the non-string endpoint %j', (endpoint) => {
    const e = errorOf(() => resolveRoute('POST', endpoint));
    expect(e.message).toMatch(/^api\.endpoint .* is not allowed \(must be a string, got /);
    expect(e.message).toContain(`allowed ${ALLOWED_ROUTES_TEXT}`);
  });

  it('names the method a route takes on a mismatch', () => {
    const e = errorOf(() => resolveRoute('GET', '/sdapi/v1/txt2img'));
    expect(e.message).toBe('api.method "GET" is not allowed for /sdapi/v1/txt2img: it takes POST (api.endpoint "/sdapi/v1/txt2img")');
    expect(errorOf(() => resolveRoute('POST', 'sdapi/v1/samplers')).message).toContain('it takes GET');
    expect(errorOf(() => resolveRoute('GET', '/sdapi/v1/refresh-vae')).message).toContain('it takes POST');
  });

  it.each([['PUT'], ['DELETE'], [''], [' POST'], ['POST '], ['HEAD'], [undefined], [null], [1], [['POST']]])(
    'refuses the method %j',
    (method) => {
      const e = errorOf(() => resolveRoute(method, '/sdapi/v1/txt2img'));
      expect(e.message).toMatch(/^api\.method .* is not allowed: allowed "GET" or "POST"$/);
    },
  );

  it('names the method value in its message', () => {
    expect(errorOf(() => resolveRoute('PATCH', '/sdapi/v1/txt2img')).message).toBe(
      'api.method "PATCH" is not allowed: allowed "GET" or "POST"',
    );
  });
});

describe('checkRouteServed', () => {
  function model(paths: string[] | null): ServerModel {
    return { source: paths ? 'openapi' : 'bundled', description: 'test', forge: false, pydantic: 1, models: new Map(), paths: paths ? new Set(paths) : null };
  }
  const route = (method: string, endpoint: string) => resolveRoute(method, endpoint);

  it('refuses an extension route the server does not serve, naming the extension', () => {
    const m = model(['POST /sdapi/v1/txt2img', 'GET /sdapi/v1/samplers']);
    expect(errorOf(() => checkRouteServed(route('GET', '/controlnet/model_list'), m)).message).toBe(
      'GET /controlnet/model_list is not served by this A1111: the ControlNet extension (sd-webui-controlnet) is not installed',
    );
    expect(errorOf(() => checkRouteServed(route('POST', '/controlnet/detect'), m)).message).toMatch(/^POST \/controlnet\/detect is not served by this A1111: the ControlNet extension/);
    expect(errorOf(() => checkRouteServed(route('GET', '/adetailer/v1/ad_model'), m)).message).toBe(
      'GET /adetailer/v1/ad_model is not served by this A1111: the ADetailer extension (adetailer) is not installed',
    );
    expect(errorOf(() => checkRouteServed(route('GET', '/sdapi/v1/sd-modules'), m)).message).toBe(
      'GET /sdapi/v1/sd-modules is not served by this A1111: it is a route of Forge (stable-diffusion-webui-forge), and this server is not Forge',
    );
  });

  it('lets a served extension route through, and every route when the model does not know the paths', () => {
    const m = model(['GET /controlnet/model_list', 'POST /controlnet/detect', 'GET /sdapi/v1/sd-modules']);
    expect(() => checkRouteServed(route('GET', '/controlnet/model_list'), m)).not.toThrow();
    expect(() => checkRouteServed(route('POST', '/controlnet/detect'), m)).not.toThrow();
    expect(() => checkRouteServed(route('GET', '/sdapi/v1/sd-modules'), m)).not.toThrow();
    for (const r of ROUTES) expect(() => checkRouteServed(r, model(null))).not.toThrow();
  });

  it('never refuses a stock A1111 route (the server reports its own 404)', () => {
    const m = model([]);
    for (const r of ROUTES.filter((x) => x.provider === null)) expect(() => checkRouteServed(r, m)).not.toThrow();
  });
});
