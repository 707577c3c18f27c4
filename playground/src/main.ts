/**
 * The playground page's entry: reads `/playground/config.json`, wires the form, RUN / Cancel, the result view, the
 * "copy as" box, the worker panel and the API key field.
 */
import { EndpointApi, type PageConfig } from './api.js';
import { JobForm, loadLists } from './form.js';
import { JobRun } from './job.js';
import { startPanel } from './panel.js';
import { buildRequest } from './request.js';
import { abbreviate, snippet, type SnippetKind } from './snippets.js';
import { byId, clearFieldErrors, ResultView } from './view.js';

/** Where the key the user typed is kept for the tab's life (never in localStorage). */
const KEY_STORAGE = 'playground.apiKey';

async function main(): Promise<void> {
  const config = (await (await fetch('/playground/config.json')).json()) as PageConfig;
  const keyInput = byId<HTMLInputElement>('api-key');
  byId('api-key-box').hidden = !config.apiKeyRequired;
  keyInput.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  const api = new EndpointApi(location.origin, config.endpointId, () => keyInput.value);
  byId('endpoint-url').textContent = `${api.base}/run`;

  const view = new ResultView();
  const runButton = byId<HTMLButtonElement>('run');
  const cancelButton = byId<HTMLButtonElement>('cancel');
  const snippetBox = byId('snippet');
  const listsStatus = byId('lists-status');
  let kind: SnippetKind = 'curl';
  let snippetText = '';
  let job: JobRun | undefined;

  const updateSnippet = (): void => {
    const target = { origin: location.origin, endpointId: config.endpointId, apiKeyRequired: config.apiKeyRequired };
    snippetText = snippet(kind, buildRequest(form.values()), target);
    snippetBox.textContent = abbreviate(snippetText);
  };
  const form = new JobForm(() => {
    clearFieldErrors();
    updateSnippet();
  });
  updateSnippet();

  for (const tab of document.querySelectorAll<HTMLButtonElement>('[data-snippet]')) {
    tab.addEventListener('click', () => {
      kind = tab.dataset.snippet as SnippetKind;
      for (const t of document.querySelectorAll('[data-snippet]')) t.setAttribute('aria-selected', String(t === tab));
      updateSnippet();
    });
  }
  const copyButton = byId<HTMLButtonElement>('copy');
  copyButton.addEventListener('click', () => {
    void navigator.clipboard.writeText(snippetText).then(
      () => (copyButton.textContent = 'Copied'),
      () => (copyButton.textContent = 'Copy failed: select the text'),
    );
    setTimeout(() => (copyButton.textContent = 'Copy'), 1500);
  });

  const panel = startPanel(api);
  const refreshLists = async (): Promise<void> => {
    listsStatus.textContent = 'reading samplers, schedulers and checkpoints from A1111…';
    const failed = await loadLists(api);
    listsStatus.textContent = failed === '' ? '' : `lists not read (${failed})${failed.includes('401') ? ': enter the API key' : ''}`;
  };
  void refreshLists();
  keyInput.addEventListener('change', () => {
    sessionStorage.setItem(KEY_STORAGE, keyInput.value);
    void refreshLists();
    void panel.refresh();
  });

  form.form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (job && !job.finished) return;
    view.reset();
    const missing = form.missing();
    if (missing) {
      view.apiError(missing);
      return;
    }
    const request = buildRequest(form.values());
    const run = new JobRun(api, request, {
      onStatus: (b) => view.status(b),
      onProgress: (r) => view.progress(r),
      onPreview: (img) => view.preview(img),
      onFinal: (b) => view.finish(b),
      onApiError: (err) => view.apiError(err.message),
    });
    job = run;
    runButton.disabled = true;
    cancelButton.disabled = false;
    void run.start().finally(() => {
      runButton.disabled = false;
      cancelButton.disabled = true;
      void panel.refresh();
    });
  });
  cancelButton.addEventListener('click', () => {
    cancelButton.disabled = true;
    void job?.cancel();
  });
}

main().catch((e: unknown) => {
  const box = document.getElementById('job-error');
  if (box) {
    box.hidden = false;
    box.textContent = `The playground could not start: ${(e as Error).message}`;
  }
});
