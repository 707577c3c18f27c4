/**
 * The form: which route, its fields, the uploaded image, and the sampler, scheduler and checkpoint lists read from
 * A1111 through the worker's GET routes (`/sdapi/v1/samplers`, `/sdapi/v1/schedulers`, `/sdapi/v1/sd-models` in
 * the `{"api": {"method": "GET", "endpoint"}}` envelope, sent with `/runsync`).
 */
import type { EndpointApi } from './api.js';
import type { FormValues, RouteName } from './request.js';
import { errorText } from './request.js';
import { byId, el } from './view.js';

const ROUTES: readonly RouteName[] = ['txt2img', 'img2img', 'interrogate'];

/** The page's form. */
export class JobForm {
  readonly form = byId<HTMLFormElement>('job-form');
  private image = '';

  constructor(onChange: () => void) {
    this.form.addEventListener('input', onChange);
    this.form.addEventListener('change', (e) => {
      if ((e.target as HTMLElement).id === 'image') void this.readImage(onChange);
      if ((e.target as HTMLInputElement).name === 'route') this.showRoute();
      onChange();
    });
    this.showRoute();
  }

  /** The selected route. */
  get route(): RouteName {
    const checked = this.form.querySelector<HTMLInputElement>('input[name="route"]:checked');
    return ROUTES.find((r) => r === checked?.value) ?? 'txt2img';
  }

  /** The form's current values. */
  values(): FormValues {
    const text = (id: string): string => byId<HTMLInputElement>(id).value;
    return {
      route: this.route,
      prompt: text('prompt'),
      negative_prompt: text('negative_prompt'),
      width: text('width'),
      height: text('height'),
      steps: text('steps'),
      cfg_scale: text('cfg_scale'),
      seed: text('seed'),
      sampler_name: text('sampler_name'),
      scheduler: text('scheduler'),
      checkpoint: text('checkpoint'),
      denoising_strength: text('denoising_strength'),
      model: text('model'),
      image: this.image,
      preview: byId<HTMLInputElement>('preview').checked,
    };
  }

  /** A message when the route needs an image that is not there; undefined when the form can be sent. */
  missing(): string | undefined {
    if (this.route !== 'txt2img' && this.image === '') return `${this.route} needs an image: choose one under "Image".`;
    return undefined;
  }

  /** Shows the fields of the selected route only (elements with `data-routes="txt2img img2img"`). */
  private showRoute(): void {
    const route = this.route;
    for (const e of this.form.querySelectorAll<HTMLElement>('[data-routes]')) e.hidden = !(e.dataset.routes ?? '').split(' ').includes(route);
  }

  /** Reads the chosen file as base64 and shows it. */
  private async readImage(onChange: () => void): Promise<void> {
    const file = byId<HTMLInputElement>('image').files?.[0];
    const thumb = byId<HTMLImageElement>('image-thumb');
    if (!file) {
      this.image = '';
      thumb.hidden = true;
      onChange();
      return;
    }
    const dataUrl = await new Promise<string>((resolve, reject) => {
      const r = new FileReader();
      r.onload = () => resolve(String(r.result));
      r.onerror = () => reject(r.error ?? new Error('cannot read the file'));
      r.readAsDataURL(file);
    });
    this.image = dataUrl.slice(dataUrl.indexOf(',') + 1);
    thumb.src = dataUrl;
    thumb.hidden = false;
    onChange();
  }
}

/** The output of a GET route through the worker, or an Error naming what failed. */
async function getList(api: EndpointApi, endpoint: string): Promise<unknown[]> {
  const body = await api.runSync({ input: { api: { method: 'GET', endpoint } } });
  if (body.status !== 'COMPLETED') throw new Error(`${endpoint}: ${body.status}${body.error !== undefined ? `: ${errorText(body.error)}` : ''}`);
  if (!Array.isArray(body.output)) throw new Error(`${endpoint}: the answer is not a list`);
  return body.output;
}

/** Names of list items: `item[key]` strings. */
const names = (items: unknown[], key: string): string[] =>
  items.map((i) => (i !== null && typeof i === 'object' ? (i as Record<string, unknown>)[key] : undefined)).filter((n): n is string => typeof n === 'string');

/**
 * Fills the sampler and scheduler suggestions and the checkpoint choice from A1111.
 * @returns '' when all three lists came, else what failed (the form still works: the fields take any name)
 */
export async function loadLists(api: EndpointApi): Promise<string> {
  const [samplers, schedulers, models] = await Promise.allSettled([
    getList(api, '/sdapi/v1/samplers'),
    getList(api, '/sdapi/v1/schedulers'),
    getList(api, '/sdapi/v1/sd-models'),
  ]);
  const fill = (id: string, values: string[]): void => byId(id).replaceChildren(...values.map((v) => Object.assign(el('option'), { value: v })));
  if (samplers.status === 'fulfilled') fill('samplers', names(samplers.value, 'name'));
  if (schedulers.status === 'fulfilled') fill('schedulers', names(schedulers.value, 'name'));
  if (models.status === 'fulfilled') {
    const select = byId<HTMLSelectElement>('checkpoint');
    const current = select.value;
    const options = names(models.value, 'title').map((t) => Object.assign(el('option', '', t), { value: t }));
    select.replaceChildren(Object.assign(el('option', '', 'the loaded one'), { value: '' }), ...options);
    select.value = current;
  }
  return [samplers, schedulers, models]
    .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    .map((r) => (r.reason as Error).message)
    .join('; ');
}
