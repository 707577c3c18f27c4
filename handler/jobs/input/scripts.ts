/**
 * Script checks of txt2img/img2img payloads, as A1111 v1.10.1 resolves scripts (`modules/api/api.py`:
 * `script_name_to_index`, `get_selectable_script`, `get_script`, `init_script_args`), against
 * `GET /sdapi/v1/script-info` (`[{name, is_alwayson, is_img2img}]`, names = titles in lower case):
 *
 * - `script_name`: a selectable (not always-on) script of the route's tab, any case — else A1111 answers 422
 *   `Script '<x>' not found` (only the tab's selectable scripts are searched). Refused with a "did you mean".
 * - `alwayson_scripts` keys: always-on scripts of the tab, any case — else A1111 answers 422 (`Script '<x>' not found`,
 *   or `Cannot have a selectable script in the always on scripts params`). Values are not checked: A1111 copies
 *   `args` when the value has it and ignores other keys and other values (`{"Simple wildcards": []}` passes).
 * - ControlNet units (`alwayson_scripts.<ControlNet title>.args[i]`, objects, unless `enabled: false`): `model`
 *   against `GET /controlnet/model_list` (`None` allowed) as ControlNet resolves it (`scripts/controlnet.py`
 *   `find_closest_lora_model_name`: the exact `name [hash]`, else the file name any case, else a part of one);
 *   `module` against `GET /controlnet/module_list` names and their `alias_names=true` labels (`none` allowed;
 *   `Preprocessor.get_preprocessor` takes either) — ControlNet fails the generation on an unknown model or module.
 * - ADetailer (`alwayson_scripts.ADetailer.args`, `Bing-su/adetailer` `scripts/!adetailer.py`): `ad_model` of its
 *   argument objects against `GET /adetailer/v1/ad_model` (`None` allowed; skipped when `args[0]` is `false`, which
 *   disables ADetailer) — ADetailer raises `Model … not found` otherwise.
 *
 * All are "hard" checks (A1111 or the extension fails). A list that is unavailable skips its checks; a miss refreshes
 * the list once (names.ts).
 */
import { appendIndex, appendKey, isObject, showValue } from '../format.js';
import { OK, miss, stringField, unknownName, type Check } from './name-checks.js';
import { closestName } from './name-suggest.js';

/** The tab a generation route runs scripts of. */
export type ScriptTab = 'txt2img' | 'img2img';

/** Always-on script titles (lower case) of ControlNet: sd-webui-controlnet's, Forge's built-in one. */
export const CONTROLNET_TITLES: ReadonlySet<string> = new Set(['controlnet', 'controlnet integrated']);
/** ADetailer's always-on script title, lower case (`AFTER_DETAILER`). */
export const ADETAILER_TITLE = 'adetailer';

function tabScripts(entries: readonly { name: string; alwayson: boolean; img2img: boolean }[], tab: ScriptTab, alwayson: boolean): string[] {
  return [...new Set(entries.filter((e) => e.img2img === (tab === 'img2img') && e.alwayson === alwayson).map((e) => e.name.toLowerCase()))];
}

/**
 * A script name of the tab: `script_name` a selectable script (A1111 `get_selectable_script`), an `alwayson_scripts`
 * key an always-on one (A1111 `init_script_args`); both case-insensitive. A script of the other kind is refused
 * with where to send it (A1111 answers 422).
 */
function scriptCheck(path: string, value: string, tab: ScriptTab, alwayson: boolean): Check {
  return {
    lists: ['script-info'],
    run: ({ 'script-info': info }) => {
      const lower = value.toLowerCase();
      const wanted = tabScripts(info.entries, tab, alwayson);
      if (wanted.includes(lower)) return OK;
      if (tabScripts(info.entries, tab, !alwayson).includes(lower)) {
        const where = alwayson ? 'a selectable script, not an always-on one (A1111 answers 422): send it as script_name' : 'an always-on script, not a selectable one (A1111 answers 422): send it in alwayson_scripts';
        return { ok: false, miss: false, message: `${path}: ${showValue(value)} is ${where}` };
      }
      const s = closestName(value, wanted);
      const subject = alwayson ? `script ${showValue(value)}` : showValue(value);
      return miss(unknownName(path, subject, `a${alwayson ? 'n always-on' : ' selectable'} A1111 ${tab} script`, s && JSON.stringify(s.name), wanted));
    },
  };
}

const HASH_SUFFIX = /\s*\[[^\]]+\]\s*$/;

/**
 * Whether ControlNet finds a model (`find_closest_lora_model_name`): the exact `name [hash]`, else the file name in
 * lower case, else the first (shortest) file name containing the value in lower case.
 */
export function controlNetModelFound(value: string, models: readonly string[]): boolean {
  if (value === 'None' || models.includes(value)) return true;
  const lower = value.toLowerCase();
  return models.some((m) => m !== 'None' && m.replace(HASH_SUFFIX, '').toLowerCase().includes(lower));
}

function controlNetModelCheck(path: string, value: string): Check {
  return {
    lists: ['controlnet-models'],
    run: ({ 'controlnet-models': models }) => {
      if (controlNetModelFound(value, models.entries)) return OK;
      const s = closestName(value, models.shown.map((m) => ({ name: m, forms: [m.replace(HASH_SUFFIX, '')] })));
      return miss(unknownName(path, showValue(value), 'a ControlNet model', s && JSON.stringify(s.name), models.shown));
    },
  };
}

function controlNetModuleCheck(path: string, value: string): Check {
  return {
    lists: ['controlnet-modules'],
    optional: ['controlnet-module-aliases'],
    run: ({ 'controlnet-modules': modules, 'controlnet-module-aliases': aliases }) => {
      const labels = aliases.available ? aliases.entries : [];
      if (value === 'none' || modules.names.has(value) || labels.includes(value)) return OK;
      const s = closestName(value, [...modules.shown, ...labels]);
      return miss(unknownName(path, showValue(value), 'a ControlNet module (preprocessor)', s && JSON.stringify(s.name), modules.shown));
    },
  };
}

function adetailerModelCheck(path: string, value: string): Check {
  return {
    lists: ['adetailer-models'],
    run: ({ 'adetailer-models': models }) => {
      if (value === 'None' || models.names.has(value)) return OK;
      const s = closestName(value, models.shown);
      return miss(unknownName(path, showValue(value), 'an ADetailer model', s && JSON.stringify(s.name), models.shown));
    },
  };
}

/** The `args` array of an always-on script's value, when it has one. */
function argsOf(value: unknown): unknown[] | undefined {
  return isObject(value) && Object.hasOwn(value, 'args') && Array.isArray(value.args) ? value.args : undefined;
}

/**
 * The checks of `script_name` and `alwayson_scripts` of a txt2img/img2img payload (see the module comment).
 * @param p the payload (a JSON object; never mutated)
 */
export function scriptChecks(p: Record<string, unknown>, tab: ScriptTab): Check[] {
  const checks: Check[] = [];
  const name = stringField(p, 'script_name');
  if (name !== undefined) checks.push(scriptCheck('script_name', name, tab, false));
  const always = Object.hasOwn(p, 'alwayson_scripts') ? p.alwayson_scripts : undefined;
  if (!isObject(always)) return checks;
  for (const [title, value] of Object.entries(always)) {
    const base = appendKey('alwayson_scripts', title);
    checks.push(scriptCheck(base, title, tab, true));
    const args = argsOf(value);
    if (!args) continue;
    const lower = title.toLowerCase();
    if (CONTROLNET_TITLES.has(lower)) {
      args.forEach((unit, i) => {
        if (!isObject(unit) || unit.enabled === false) return;
        const at = appendIndex(appendKey(base, 'args'), i);
        const model = stringField(unit, 'model');
        if (model !== undefined) checks.push(controlNetModelCheck(appendKey(at, 'model'), model));
        const module = stringField(unit, 'module');
        if (module !== undefined) checks.push(controlNetModuleCheck(appendKey(at, 'module'), module));
      });
    } else if (lower === ADETAILER_TITLE && args[0] !== false) {
      args.forEach((tabArgs, i) => {
        if (!isObject(tabArgs)) return;
        const model = stringField(tabArgs, 'ad_model');
        if (model !== undefined) checks.push(adetailerModelCheck(appendKey(appendIndex(appendKey(base, 'args'), i), 'ad_model'), model));
      });
    }
  }
  return checks;
}
