/**
 * The result side of the page for one job: state badge, progress bar (`aria-valuenow` 0–100), state history with
 * `delayTime`/`executionTime`, live preview, images (each downloadable), infotext or caption, and a FAILED job's
 * error with the offending form fields highlighted.
 */
import type { JobStatus, StatusBody } from './api.js';
import type { ProgressReport } from './job.js';
import { errorText, fieldsNamedIn } from './request.js';

/** `document.getElementById` that throws when the page lacks the element (a broken page, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`playground page has no #${id}`);
  return el as T;
}

/** `<tag class>` with text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** The MIME type of base64 image data, from its first bytes (A1111 encodes previews as PNG, JPEG or WebP). */
export function imageMime(b64: string): string {
  if (b64.startsWith('/9j/')) return 'image/jpeg';
  if (b64.startsWith('UklGR')) return 'image/webp';
  return 'image/png';
}

/** A `src` for an image of the output: a URL as is (S3 output), base64 as a blob URL. */
function imageSrc(image: string): { src: string; ext: string } {
  if (/^https?:\/\//.test(image)) return { src: image, ext: 'png' };
  const mime = imageMime(image);
  const bytes = Uint8Array.from(atob(image), (c) => c.charCodeAt(0));
  return { src: URL.createObjectURL(new Blob([bytes], { type: mime })), ext: mime.split('/')[1]! };
}

const seconds = (ms: number | undefined): string => (ms === undefined ? '—' : `${(ms / 1000).toFixed(2)} s`);

/** The result panel; `reset()` before each job. */
export class ResultView {
  private readonly badge = byId('job-status');
  private readonly jobId = byId('job-id');
  private readonly bar = byId('progress');
  private readonly barFill = byId('progress-fill');
  private readonly progressText = byId('progress-text');
  private readonly error = byId('job-error');
  private readonly gallery = byId('gallery');
  private readonly info = byId('infotext');
  private readonly history = byId<HTMLTableSectionElement>('history-rows');
  private readonly started = { at: 0 };
  private lastStatus: JobStatus | undefined;
  private shownProgress = 0;
  private final = false;
  private urls: string[] = [];
  private previews = 0;

  /** Clears everything for a new job (images, text, history, field marks). */
  reset(): void {
    for (const u of this.urls) URL.revokeObjectURL(u);
    this.urls = [];
    this.started.at = performance.now();
    this.lastStatus = undefined;
    this.shownProgress = 0;
    this.final = false;
    this.previews = 0;
    delete this.gallery.dataset.previews;
    this.setBadge('SUBMITTING', 'submitting');
    this.jobId.textContent = '';
    this.setProgress(0, 'waiting for the worker…');
    this.error.hidden = true;
    this.error.textContent = '';
    this.gallery.replaceChildren();
    this.info.textContent = '';
    this.info.hidden = true;
    this.history.replaceChildren();
    clearFieldErrors();
  }

  /** A `/status` body: badge, id and, on a change of state, a history row. */
  status(body: StatusBody): void {
    this.jobId.textContent = body.id;
    this.setBadge(body.status, body.status.toLowerCase());
    if (body.status !== this.lastStatus) {
      this.lastStatus = body.status;
      const row = el('tr');
      const at = performance.now() - this.started.at;
      for (const text of [body.status, seconds(at), seconds(body.delayTime), seconds(body.executionTime)]) row.append(el('td', '', text));
      this.history.append(row);
    } else {
      const cells = this.history.lastElementChild?.children;
      if (cells) {
        cells[2]!.textContent = seconds(body.delayTime);
        cells[3]!.textContent = seconds(body.executionTime);
      }
    }
    if (body.status === 'IN_PROGRESS' && this.shownProgress === 0) this.setProgress(0, 'running: waiting for the first progress report…');
  }

  /** A progress report; progress never goes back, and none is shown once the job is final. */
  progress(r: ProgressReport): void {
    if (this.final) return;
    const pct = Math.round(Math.min(1, Math.max(0, r.progress)) * 100);
    if (pct < this.shownProgress) return;
    const step = r.steps > 0 ? `step ${r.step}/${r.steps}` : '';
    const batch = (r.job_count ?? 0) > 1 ? ` · batch ${(r.job_no ?? 0) + 1}/${r.job_count}` : '';
    this.setProgress(pct, `${pct} % · ${step}${batch} · ETA ${r.eta_relative.toFixed(1)} s`);
  }

  /** A live preview: shown in the gallery until the images arrive. */
  preview(image: string): void {
    // How many previews came for this job, for whoever reads the page (tests): each replaces the last.
    this.gallery.dataset.previews = String(++this.previews);
    if (this.final) return;
    const img = el('img', 'preview');
    img.alt = 'live preview';
    img.id = 'preview-image';
    img.src = `data:${imageMime(image)};base64,${image}`;
    const fig = el('figure', 'preview-figure');
    fig.append(img, el('figcaption', '', 'live preview'));
    this.gallery.replaceChildren(fig);
  }

  /** The final body: images and infotext, caption, or the error. */
  finish(body: StatusBody): void {
    this.final = true;
    if (body.status === 'COMPLETED') {
      this.setProgress(100, `done in ${seconds(body.executionTime)} (queued ${seconds(body.delayTime)})`);
      this.showOutput(body.output, body.id);
    } else if (body.status === 'FAILED') {
      this.setProgress(this.shownProgress, 'failed');
      this.showError(errorText(body.error));
    } else {
      this.setProgress(this.shownProgress, body.status === 'CANCELLED' ? 'cancelled' : 'timed out');
      this.gallery.replaceChildren();
    }
  }

  /** An error of the page's own calls (the job never ran, or its state is unknown). */
  apiError(message: string): void {
    this.final = true;
    this.setBadge('ERROR', 'failed');
    this.setProgress(this.shownProgress, 'request not sent');
    this.showError(message);
  }

  private showError(message: string): void {
    this.error.hidden = false;
    this.error.replaceChildren();
    const fields = markFieldErrors(message);
    this.error.append(el('strong', '', fields.length > 0 ? `Refused: check ${fields.map(labelOf).join(', ')}` : 'Error'), el('p', 'message', message));
  }

  private showOutput(output: unknown, id: string): void {
    const out = (output ?? {}) as { images?: unknown; info?: unknown; caption?: unknown };
    const images = Array.isArray(out.images) ? out.images.filter((i): i is string => typeof i === 'string') : [];
    this.gallery.replaceChildren();
    images.forEach((image, i) => {
      const { src, ext } = imageSrc(image);
      if (src.startsWith('blob:')) this.urls.push(src);
      const fig = el('figure', 'result');
      const img = el('img', 'result-image');
      img.src = src;
      img.alt = `image ${i + 1} of job ${id}`;
      const link = el('a', 'download', `Download image ${i + 1}`);
      link.href = src;
      link.download = `${id}-${i}.${ext}`;
      fig.append(img, el('figcaption', '', ''));
      fig.lastElementChild!.append(link);
      this.gallery.append(fig);
    });
    const text = typeof out.caption === 'string' ? `Caption: ${out.caption}` : infotext(out.info);
    if (text) {
      this.info.textContent = text;
      this.info.hidden = false;
    }
    if (images.length === 0 && !text) this.gallery.append(el('pre', 'raw', JSON.stringify(output, null, 2)));
  }

  private setBadge(text: string, cls: string): void {
    this.badge.textContent = text;
    this.badge.className = `badge ${cls}`;
  }

  private setProgress(pct: number, text: string): void {
    this.shownProgress = pct;
    this.bar.setAttribute('aria-valuenow', String(pct));
    this.barFill.style.width = `${pct}%`;
    this.progressText.textContent = text;
  }
}

/** The first infotext of A1111's `info` JSON string (`infotexts[0]`), '' when none. */
function infotext(info: unknown): string {
  if (typeof info !== 'string') return '';
  try {
    const parsed = JSON.parse(info) as { infotexts?: unknown };
    return Array.isArray(parsed.infotexts) && typeof parsed.infotexts[0] === 'string' ? parsed.infotexts[0] : '';
  } catch {
    return '';
  }
}

/** The label of a form control, for messages. */
function labelOf(id: string): string {
  return document.querySelector(`label[for="${id}"]`)?.textContent?.trim() || id;
}

/** Marks (`aria-invalid`, class `invalid`) the controls an error names; returns their ids. */
export function markFieldErrors(message: string): string[] {
  const ids = fieldsNamedIn(message).filter((id) => document.getElementById(id) !== null);
  for (const id of ids) {
    const c = byId(id);
    c.setAttribute('aria-invalid', 'true');
    c.closest('.field')?.classList.add('invalid');
  }
  if (ids[0] !== undefined) byId(ids[0]).focus({ preventScroll: false });
  return ids;
}

/** Removes every field mark. */
export function clearFieldErrors(): void {
  for (const c of document.querySelectorAll('[aria-invalid="true"]')) c.removeAttribute('aria-invalid');
  for (const f of document.querySelectorAll('.field.invalid')) f.classList.remove('invalid');
}
