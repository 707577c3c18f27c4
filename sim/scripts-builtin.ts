/**
 * Always-on scripts that come with an install besides A1111's own: Forge's built-in extensions
 * (lllyasviel/stable-diffusion-webui-forge `extensions-builtin/<name>/scripts/*.py`, read at commit
 * `dfdcbab6` of the newest snapshot) and the A1111 wildcards extension
 * (AUTOMATIC1111/stable-diffusion-webui-wildcards `scripts/wildcards.py`, commit `d3964a7`).
 *
 * Each title is the script's `title()`; each argument list is what its `ui()` returns, in order, as A1111's
 * `api_info` dumps it (`ScriptArg`: the Gradio component's `label`, `value`, `minimum`, `maximum`, `step`,
 * `choices`; `InputAccordion(False, label=self.title())` is a checkbox labelled with the title). Every one of them
 * `show()`s `scripts.AlwaysVisible` on both tabs, except Soft Inpainting (img2img only).
 */

/** One `GET /sdapi/v1/script-info` argument (A1111 `ScriptArg`). */
export interface ScriptArg {
  label: string | null;
  value: unknown;
  minimum: unknown;
  maximum: unknown;
  step: unknown;
  choices: string[] | null;
}

/** One `ScriptArg` (A1111 `modules/api/models.py`). */
export const scriptArg = (
  label: string | null,
  value: unknown,
  minimum: unknown = null,
  maximum: unknown = null,
  step: unknown = null,
  choices: string[] | null = null,
): ScriptArg => ({ label, value, minimum, maximum, step, choices });

const check = (label: string, value = false): ScriptArg => scriptArg(label, value);
const radio = (label: string, value: string, choices: string[]): ScriptArg => scriptArg(label, value, null, null, null, choices);

const MIMIC_MODES = ['Constant', 'Linear Down', 'Cosine Down', 'Half Cosine Down', 'Linear Up', 'Cosine Up', 'Half Cosine Up', 'Power Up', 'Power Down', 'Linear Repeating', 'Cosine Repeating', 'Sawtooth'];
const UPSCALE_METHODS = ['bicubic', 'nearest-exact', 'bilinear', 'area', 'bislerp'];

/** Forge's built-in always-on scripts (both tabs), by title, with their `ui()` arguments. */
export const FORGE_ALWAYSON: ReadonlyArray<{ title: string; args: ScriptArg[] }> = [
  // sd_forge_dynamic_thresholding/scripts/forge_dynamic_thresholding.py
  {
    title: 'DynamicThresholding (CFG-Fix) Integrated',
    args: [
      check('Enabled'),
      scriptArg('Mimic Scale', 7.0, 0.0, 100.0, 0.5),
      scriptArg('Threshold Percentile', 1.0, 0.0, 1.0, 0.01),
      radio('Mimic Mode', 'Constant', MIMIC_MODES),
      scriptArg('Mimic Scale Min', 0.0, 0.0, 100.0, 0.5),
      radio('Cfg Mode', 'Constant', MIMIC_MODES),
      scriptArg('Cfg Scale Min', 0.0, 0.0, 100.0, 0.5),
      scriptArg('Sched Val', 1.0, 0.0, 100.0, 0.01),
      radio('Separate Feature Channels', 'enable', ['enable', 'disable']),
      radio('Scaling Startpoint', 'MEAN', ['MEAN', 'ZERO']),
      radio('Variability Measure', 'AD', ['AD', 'STD']),
      scriptArg('Interpolate Phi', 1.0, 0.0, 1.0, 0.01),
    ],
  },
  // sd_forge_freeu/scripts/forge_freeu.py
  {
    title: 'FreeU Integrated (SD 1.x, SD 2.x, SDXL)',
    args: [
      check('FreeU Integrated (SD 1.x, SD 2.x, SDXL)'),
      scriptArg('B1', 1.01, 0, 2, 0.01),
      scriptArg('B2', 1.02, 0, 2, 0.01),
      scriptArg('S1', 0.99, 0, 4, 0.01),
      scriptArg('S2', 0.95, 0, 4, 0.01),
      scriptArg('Start step', 0.0, 0.0, 1.0, 0.01),
      scriptArg('End step', 1.0, 0.0, 1.0, 0.01),
    ],
  },
  // sd_forge_kohya_hrfix/scripts/kohya_hrfix.py
  {
    title: 'Kohya HRFix Integrated',
    args: [
      check('Kohya HRFix Integrated'),
      scriptArg('Block Number', 3, 1, 32, 1),
      scriptArg('Downscale Factor', 2.0, 0.1, 9.0, 0.001),
      scriptArg('Start Percent', 0.0, 0.0, 1.0, 0.001),
      scriptArg('End Percent', 0.35, 0.0, 1.0, 0.001),
      check('Downscale After Skip', true),
      radio('Downscale Method', 'bicubic', UPSCALE_METHODS),
      radio('Upscale Method', 'bicubic', UPSCALE_METHODS),
    ],
  },
  // sd_forge_latent_modifier/scripts/forge_latent_modifier.py
  {
    title: 'LatentModifier Integrated',
    args: [
      check('Enabled'),
      scriptArg('Sharpness Multiplier', 0.0, -100.0, 100.0, 0.1),
      radio('Sharpness Method', 'anisotropic', ['anisotropic', 'joint-anisotropic', 'gaussian', 'cas']),
      scriptArg('Tonemap Multiplier', 0.0, 0.0, 100.0, 0.01),
      radio('Tonemap Method', 'reinhard', ['reinhard', 'reinhard_perchannel', 'arctan', 'quantile', 'gated', 'cfg-mimic', 'spatial-norm']),
      scriptArg('Tonemap Percentile', 100.0, 0.0, 100.0, 0.005),
      scriptArg('Contrast Multiplier', 0.0, -100.0, 100.0, 0.1),
      radio('Combat Method', 'subtract', ['subtract', 'subtract_channels', 'subtract_median', 'sharpen']),
      scriptArg('Combat Cfg Drift', 0.0, -10.0, 10.0, 0.01),
      scriptArg('Rescale Cfg Phi', 0.0, -10.0, 10.0, 0.01),
      radio('Extra Noise Type', 'gaussian', ['gaussian', 'uniform', 'perlin', 'pink', 'green', 'pyramid']),
      radio('Extra Noise Method', 'add', ['add', 'add_scaled', 'speckle', 'cads', 'cads_rescaled', 'cads_speckle', 'cads_speckle_rescaled']),
      scriptArg('Extra Noise Multiplier', 0.0, 0.0, 100.0, 0.1),
      scriptArg('Extra Noise Lowpass', 100, 0, 1000, 1),
      scriptArg('Divisive Norm Size', 127, 1, 255, 1),
      scriptArg('Divisive Norm Multiplier', 0.0, 0.0, 1.0, 0.01),
      radio('Spectral Mod Mode', 'hard_clamp', ['hard_clamp', 'soft_clamp']),
      scriptArg('Spectral Mod Percentile', 5.0, 0.0, 50.0, 0.01),
      scriptArg('Spectral Mod Multiplier', 0.0, -15.0, 15.0, 0.01),
      radio('Affect Uncond', 'None', ['None', 'Sharpness']),
      radio('Dyn Cfg Augmentation', 'None', ['None', 'dyncfg-halfcosine', 'dyncfg-halfcosine-mimic']),
    ],
  },
  // sd_forge_multidiffusion/scripts/forge_multidiffusion.py
  {
    title: 'MultiDiffusion Integrated',
    args: [
      check('Enabled'),
      radio('Method', 'MultiDiffusion', ['MultiDiffusion', 'Mixture of Diffusers']),
      scriptArg('Tile Width', 768, 16, 8192, 16),
      scriptArg('Tile Height', 768, 16, 8192, 16),
      scriptArg('Tile Overlap', 64, 0, 2048, 32),
      scriptArg('Tile Batch Size', 4, 1, 8192, 1),
    ],
  },
  // sd_forge_neveroom/scripts/forge_never_oom.py
  {
    title: 'Never OOM Integrated',
    args: [check('Enabled for UNet (always maximize offload)'), check('Enabled for VAE (always tiled)')],
  },
  // sd_forge_perturbed_attention/scripts/forge_perturbed_attention.py
  {
    title: 'PerturbedAttentionGuidance Integrated',
    args: [
      check('PerturbedAttentionGuidance Integrated'),
      scriptArg('Scale', 3.0, 0.0, 100.0, 0.1),
      scriptArg('Attenuation (linear, % of scale)', 0.0, 0.0, 100.0, 0.1),
      scriptArg('Start step', 0.0, 0.0, 1.0, 0.01),
      scriptArg('End step', 1.0, 0.0, 1.0, 0.01),
    ],
  },
  // sd_forge_sag/scripts/forge_sag.py
  {
    title: 'SelfAttentionGuidance Integrated (SD 1.x, SD 2.x, SDXL)',
    args: [
      check('SelfAttentionGuidance Integrated (SD 1.x, SD 2.x, SDXL)'),
      scriptArg('Scale', 0.5, -2.0, 5.0, 0.01),
      scriptArg('Blur Sigma', 2.0, 0.0, 10.0, 0.01),
      scriptArg('Blur mask threshold', 1.0, 0.0, 4.0, 0.01),
    ],
  },
  // sd_forge_stylealign/scripts/forge_stylealign.py (the Strength slider gives no step)
  { title: 'StyleAlign Integrated', args: [check('Share attention in batch'), scriptArg('Strength', 1.0, 0.0, 1.0)] },
];

/** `FORGE_ALWAYSON`'s arguments of `title`, or `undefined` for other scripts. */
export function forgeScriptArgs(title: string): ScriptArg[] | undefined {
  return FORGE_ALWAYSON.find((s) => s.title === title)?.args.map((a) => ({ ...a }));
}

/** The wildcards extension's always-on script (`WildcardsScript.title()`; `ui()` returns nothing: no args). */
export const WILDCARDS_TITLE = 'Simple wildcards';
