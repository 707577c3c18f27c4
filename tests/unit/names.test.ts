/**
 * The pure parts of the name checks (handler/jobs/input/names.ts, handler/a1111/lists.ts): suggestions, A1111's split of
 * combined sampler names, prompt tags, checkpoint aliases, message lists.
 */
import { describe, expect, it } from 'vitest';
import { checkpointAliases, type CheckpointEntry, type SchedulerEntry } from '../../handler/a1111/lists.js';
import {
  checkpointSubstringMatches,
  closestName,
  findScheduler,
  formatNameList,
  nameDistance,
  normaliseName,
  promptNetworkTags,
  splitCombinedSampler,
  suggestSampler,
} from '../../handler/jobs/input/names.js';

/** The v1.10 schedulers (A1111 `modules/sd_schedulers.py`), as parsed from `/schedulers`. */
const SCHEDULERS: SchedulerEntry[] = [
  ['automatic', 'Automatic'],
  ['uniform', 'Uniform'],
  ['karras', 'Karras'],
  ['exponential', 'Exponential'],
  ['polyexponential', 'Polyexponential'],
  ['sgm_uniform', 'SGM Uniform', ['SGMUniform']],
  ['kl_optimal', 'KL Optimal'],
  ['align_your_steps', 'Align Your Steps'],
  ['simple', 'Simple'],
  ['normal', 'Normal'],
  ['ddim', 'DDIM'],
  ['beta', 'Beta'],
].map(([name, label, aliases]) => ({ name: name as string, label: label as string, aliases: (aliases as string[] | undefined) ?? [] }));

const SAMPLERS = [
  { name: 'DPM++ 2M', aliases: ['k_dpmpp_2m'] },
  { name: 'DPM++ SDE', aliases: ['k_dpmpp_sde'] },
  { name: 'DPM++ 2M SDE', aliases: ['k_dpmpp_2m_sde'] },
  { name: 'DPM++ 2M SDE Heun', aliases: ['k_dpmpp_2m_sde_heun'] },
  { name: 'Euler a', aliases: ['k_euler_a', 'k_euler_ancestral'] },
  { name: 'Euler', aliases: ['k_euler'] },
  { name: 'LMS', aliases: ['k_lms'] },
  { name: 'DDIM', aliases: ['ddim'] },
  { name: 'UniPC', aliases: ['unipc'] },
];

function checkpoint(file: string, hash: string | null): CheckpointEntry {
  const modelName = file.replace(/\.[^.]+$/, '').replace(/[/\\]/g, '_');
  const e = {
    title: hash ? `${file} [${hash}]` : file,
    model_name: modelName,
    hash,
    sha256: hash ? `${hash}${'0'.repeat(54)}` : null,
    filename: `/stable-diffusion-webui/models/Stable-diffusion/${file}`,
  };
  return { ...e, aliases: checkpointAliases(e) };
}

describe('normaliseName and editDistance', () => {
  it('reads names loosely: case, spaces, _ and -, + as p, model extensions', () => {
    expect(normaliseName('DPM++ 2M')).toBe('dpmpp2m');
    expect(normaliseName('dpmpp_2m')).toBe('dpmpp2m');
    expect(normaliseName(' Euler-A ')).toBe('eulera');
    expect(normaliseName('sd_xl_base_1.0.safetensors')).toBe('sdxlbase1.0');
    expect(normaliseName('sd_xl_base_1.0')).toBe('sdxlbase1.0');
  });

  it('counts edits', () => {
    expect(nameDistance('karras', 'karras')).toBe(0);
    expect(nameDistance('karas', 'karras')).toBe(1);
    expect(nameDistance('eulr', 'euler')).toBe(1);
    expect(nameDistance('', 'abc')).toBe(3);
    expect(nameDistance('kitten', 'sitting')).toBe(3);
    expect(nameDistance('Eulre', 'Euler')).toBe(1); // Damerau: a transposition is one edit
    expect(nameDistance('ab', 'ba')).toBe(1);
  });
});

describe('closestName', () => {
  const samplerCands = SAMPLERS.map((s) => ({ name: s.name, forms: s.aliases }));

  it('finds names that differ only in case, spaces, _ or +, and old aliases (score 0)', () => {
    expect(closestName('euler a', samplerCands)).toEqual({ name: 'Euler a', score: 0 });
    expect(closestName('Euler_A', samplerCands)).toEqual({ name: 'Euler a', score: 0 });
    expect(closestName('dpmpp_2m', samplerCands)).toEqual({ name: 'DPM++ 2M', score: 0 });
    expect(closestName('k_euler_a', samplerCands)).toEqual({ name: 'Euler a', score: 0 });
    expect(closestName('K_DPMPP_SDE', samplerCands)).toEqual({ name: 'DPM++ SDE', score: 0 });
  });

  it('finds the only name containing the value (score 2), else the nearest by edit distance', () => {
    expect(closestName('add_det', ['add_detail', 'lcm-lora-sdxl'])).toEqual({ name: 'add_detail', score: 2 });
    expect(closestName('detail', ['add_detail', 'more_detail'])).toBeUndefined(); // two contain it, none is near
    expect(closestName('Eular a', samplerCands)).toEqual({ name: 'Euler a', score: 1 });
    expect(closestName('UniCP', samplerCands)).toEqual({ name: 'UniPC', score: 1 }); // a transposition is one edit
  });

  it('suggests nothing for far or empty values, and keeps short names to one edit', () => {
    expect(closestName('no such sampler', samplerCands)).toBeUndefined();
    expect(closestName('', samplerCands)).toBeUndefined();
    expect(closestName('LSM', samplerCands)).toEqual({ name: 'LMS', score: 1 }); // a transposition is one edit
    expect(closestName('LZZ', samplerCands)).toBeUndefined(); // 2 edits from LMS: too far for 3 letters
    expect(closestName('LMZ', samplerCands)).toEqual({ name: 'LMS', score: 1 });
    expect(closestName('x'.repeat(500), samplerCands)).toBeUndefined();
  });

  it('takes the first of equally near names', () => {
    expect(closestName('abcd', ['abce', 'abcf'])).toEqual({ name: 'abce', score: 1 });
  });
});

describe("splitCombinedSampler (A1111's get_sampler_and_scheduler)", () => {
  it('cuts a scheduler label, name or alias suffix off, case-sensitively', () => {
    expect(splitCombinedSampler('DPM++ 2M Karras', SCHEDULERS)).toEqual({ sampler: 'DPM++ 2M', scheduler: SCHEDULERS[2] });
    expect(splitCombinedSampler('DPM++ 2M karras', SCHEDULERS)).toEqual({ sampler: 'DPM++ 2M', scheduler: SCHEDULERS[2] });
    expect(splitCombinedSampler('DPM++ 2M SDE Exponential', SCHEDULERS)?.sampler).toBe('DPM++ 2M SDE');
    expect(splitCombinedSampler('Euler SGMUniform', SCHEDULERS)).toEqual({ sampler: 'Euler', scheduler: SCHEDULERS[5] });
    expect(splitCombinedSampler('Euler Align Your Steps', SCHEDULERS)?.scheduler.name).toBe('align_your_steps');
    expect(splitCombinedSampler('DPM++ 2M KARRAS', SCHEDULERS)).toBeNull();
    expect(splitCombinedSampler('Euler a', SCHEDULERS)).toBeNull();
    expect(splitCombinedSampler('Karras', SCHEDULERS)).toBeNull();
    expect(splitCombinedSampler('DPM++ 2M Karras', [])).toBeNull();
  });

  it('lets a later scheduler in list order cut again, as A1111 does', () => {
    // "X Karras Beta": beta comes after karras in the list, so only " Beta" is cut (karras was checked first).
    expect(splitCombinedSampler('X Karras Beta', SCHEDULERS)).toEqual({ sampler: 'X Karras', scheduler: SCHEDULERS[11] });
    // "X Beta Karras": karras cuts first, then beta.
    expect(splitCombinedSampler('X Beta Karras', SCHEDULERS)).toEqual({ sampler: 'X', scheduler: SCHEDULERS[11] });
  });

  it('findScheduler takes a name or a label, not an alias', () => {
    expect(findScheduler('karras', SCHEDULERS)?.name).toBe('karras');
    expect(findScheduler('SGM Uniform', SCHEDULERS)?.name).toBe('sgm_uniform');
    expect(findScheduler('SGMUniform', SCHEDULERS)).toBeUndefined();
  });
});

describe('suggestSampler', () => {
  it('suggests sampler + scheduler for a combined name with a typo', () => {
    expect(suggestSampler('DPM++ 2M Karas', SAMPLERS, SCHEDULERS)).toBe('"DPM++ 2M" with scheduler "karras"');
    expect(suggestSampler('DPM++ 2M SDE exponental', SAMPLERS, SCHEDULERS)).toBe('"DPM++ 2M SDE" with scheduler "exponential"');
    expect(suggestSampler('dpmpp_2m karras', SAMPLERS, SCHEDULERS, 'hr_scheduler')).toBe('"DPM++ 2M" with hr_scheduler "karras"');
  });

  it('suggests the real name of an alias or a near miss', () => {
    expect(suggestSampler('k_euler_a', SAMPLERS, SCHEDULERS)).toBe('"Euler a"');
    expect(suggestSampler('euler A', SAMPLERS, SCHEDULERS)).toBe('"Euler a"');
    expect(suggestSampler('Eular', SAMPLERS, SCHEDULERS)).toBe('"Euler"');
    expect(suggestSampler('DPM++ SDF', SAMPLERS, SCHEDULERS)).toBe('"DPM++ SDE"');
  });

  it('suggests nothing when nothing is close, and no split without schedulers (A1111 before 1.9)', () => {
    expect(suggestSampler('no such sampler', SAMPLERS, SCHEDULERS)).toBeUndefined();
    expect(suggestSampler('DPM++ 2M Karas', SAMPLERS, [])).toBe('"DPM++ 2M"'); // the only sampler it contains
    expect(suggestSampler('Heun Karas', SAMPLERS, [])).toBeUndefined();
  });
});

describe('formatNameList', () => {
  it('lists names on one line, quoting odd ones, and cuts long lists', () => {
    expect(formatNameList(['DPM++ 2M', 'Euler a'])).toBe('DPM++ 2M, Euler a');
    expect(formatNameList(['a, b', 'say "hi"', 'line\nbreak'])).toBe('"a, b", "say \\"hi\\"", "line\\nbreak"');
    expect(formatNameList([])).toBe('(none)');
    const many = Array.from({ length: 25 }, (_, i) => `n${i}`);
    expect(formatNameList(many)).toBe(`${many.slice(0, 20).join(', ')}, … (5 more)`);
    expect(formatNameList(many, 3)).toBe('n0, n1, n2, … (22 more)');
  });
});

describe('promptNetworkTags', () => {
  it("reads <type:name:args> tags as A1111's extra_networks.parse_prompt", () => {
    expect(promptNetworkTags('a cat <lora:add_detail:0.8>, <lyco:lcm> <hypernet:h:1> <lora:my lora:1:te=0.5> <notatag> <lora:>')).toEqual([
      { tag: '<lora:add_detail:0.8>', type: 'lora', name: 'add_detail' },
      { tag: '<lyco:lcm>', type: 'lyco', name: 'lcm' },
      { tag: '<hypernet:h:1>', type: 'hypernet', name: 'h' },
      { tag: '<lora:my lora:1:te=0.5>', type: 'lora', name: 'my lora' },
    ]);
    expect(promptNetworkTags('<LORA:x:1>')).toEqual([{ tag: '<LORA:x:1>', type: 'LORA', name: 'x' }]);
    expect(promptNetworkTags('no tags')).toEqual([]);
  });
});

describe('checkpoint aliases and closest matches (A1111 `modules/sd_models.py`)', () => {
  const base = checkpoint('sd_xl_base_1.0.safetensors', '31e35c80fc');
  const refiner = checkpoint('sd_xl_refiner_1.0.safetensors', '7440042bbd');
  const sub = checkpoint('sdxl/juggernaut.safetensors', null);

  it("lists what checkpoint_aliases accepts: title, file name, model_name, base name, with hash, hashes", () => {
    expect(base.aliases).toEqual([
      'sd_xl_base_1.0.safetensors [31e35c80fc]',
      'sd_xl_base_1.0.safetensors',
      'sd_xl_base_1.0',
      'sd_xl_base_1.0 [31e35c80fc]',
      '31e35c80fc',
      base.sha256,
    ]);
    // In a sub-folder, without hashes (--no-hashing): model_name has "_" for "/", the base name is separate.
    expect(sub.aliases).toEqual(['sdxl/juggernaut.safetensors', 'sdxl_juggernaut', 'juggernaut']);
  });

  it('finds titles containing a value, shortest first, then without a [hash] suffix', () => {
    expect(checkpointSubstringMatches('refiner', [base, refiner]).map((c) => c.model_name)).toEqual(['sd_xl_refiner_1.0']);
    expect(checkpointSubstringMatches('sd_xl', [refiner, base]).map((c) => c.model_name)).toEqual(['sd_xl_base_1.0', 'sd_xl_refiner_1.0']);
    expect(checkpointSubstringMatches('sd_xl_base_1.0.safetensors [0000000000]', [base, refiner]).map((c) => c.model_name)).toEqual(['sd_xl_base_1.0']);
    expect(checkpointSubstringMatches('flux', [base, refiner])).toEqual([]);
  });
});
