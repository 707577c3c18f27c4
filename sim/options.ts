/**
 * The settings of the simulated install (`GET/POST /sdapi/v1/options`, `override_settings`):
 * A1111 v1.10.1 defaults (`modules/shared_options.py`), the options extensions add
 * (ControlNet `scripts/controlnet.py` `on_ui_settings`, ADetailer `scripts/!adetailer.py`),
 * Forge's own (`modules_forge/shared_options.py`), and how a POST sets them
 * (A1111 `Options.set` in `modules/options.py`; Forge `modules/sysinfo.py` `set_config`).
 */
import type { Checkpoint } from './catalog.js';
import { pyException } from './errors.js';
import type { SimFlavor } from './models.js';
import { pyDumps, pyRepr, type PyValue } from './pyjson.js';

/**
 * Keys that A1111 refuses to change through the API (`restrict_api=True` in A1111 v1.10.1
 * `modules/shared_options.py`): `Options.set(..., is_api=True)` returns without setting them. Path options
 * (`outdir_*`, `temp_dir`) are not restricted (only hidden with `--hide-ui-dir-config`).
 */
export const RESTRICTED_OPTIONS = new Set(['api_enable_requests', 'api_forbid_local_requests', 'api_useragent']);

/** A representative subset of A1111 v1.10's settings with their defaults. */
export function defaultOptions(ckpt: Checkpoint): Record<string, unknown> {
  return {
    samples_save: true,
    samples_format: 'png',
    samples_filename_pattern: '',
    save_images_add_number: true,
    save_images_replace_action: 'Replace',
    grid_save: true,
    grid_format: 'png',
    grid_extended_filename: false,
    grid_only_if_multiple: true,
    grid_prevent_empty_spots: false,
    grid_zip_filename_pattern: '',
    n_rows: -1,
    font: '',
    enable_pnginfo: true,
    save_txt: false,
    save_images_before_face_restoration: false,
    save_images_before_highres_fix: false,
    save_images_before_color_correction: false,
    save_mask: false,
    save_mask_composite: false,
    jpeg_quality: 80,
    webp_lossless: false,
    export_for_4chan: true,
    img_downscale_threshold: 4.0,
    target_side_length: 4000.0,
    img_max_size_mp: 200.0,
    use_original_name_batch: true,
    use_upscaler_name_as_suffix: false,
    save_selected_only: true,
    save_init_img: false,
    temp_dir: '',
    clean_temp_dir_at_start: false,
    save_incomplete_images: false,
    outdir_samples: '',
    outdir_txt2img_samples: 'outputs/txt2img-images',
    outdir_img2img_samples: 'outputs/img2img-images',
    outdir_extras_samples: 'outputs/extras-images',
    outdir_grids: '',
    outdir_txt2img_grids: 'outputs/txt2img-grids',
    outdir_img2img_grids: 'outputs/img2img-grids',
    outdir_save: 'log/images',
    outdir_init_images: 'outputs/init-images',
    save_to_dirs: true,
    grid_save_to_dirs: true,
    use_save_to_dirs_for_ui: false,
    directories_filename_pattern: '[date]',
    directories_max_prompt_words: 8,
    ESRGAN_tile: 192,
    ESRGAN_tile_overlap: 8,
    realesrgan_enabled_models: ['R-ESRGAN 4x+', 'R-ESRGAN 4x+ Anime6B'],
    upscaler_for_img2img: null,
    set_scale_by_when_changing_upscaler: false,
    face_restoration: false,
    face_restoration_model: 'CodeFormer',
    code_former_weight: 0.5,
    face_restoration_unload: false,
    auto_launch_browser: 'Local',
    enable_console_prompts: false,
    show_warnings: false,
    show_gradio_deprecation_warnings: true,
    memmon_poll_rate: 8,
    samples_log_stdout: false,
    multiple_tqdm: true,
    enable_upscale_progressbar: true,
    print_hypernet_extra: false,
    list_hidden_files: true,
    disable_mmap_load_safetensors: false,
    hide_ldm_prints: true,
    dump_stacks_on_signal: false,
    api_enable_requests: true,
    api_forbid_local_requests: true,
    api_useragent: '',
    sd_model_checkpoint: ckpt.item.title,
    sd_checkpoints_limit: 1,
    sd_checkpoints_keep_in_cpu: true,
    sd_checkpoint_cache: 0,
    sd_unet: 'Automatic',
    enable_quantization: false,
    emphasis: 'Original',
    enable_batch_seeds: true,
    comma_padding_backtrack: 20,
    CLIP_stop_at_last_layers: 1,
    upcast_attn: false,
    randn_source: 'GPU',
    tiling: false,
    hires_fix_refiner_pass: 'second pass',
    sdxl_crop_top: 0,
    sdxl_crop_left: 0,
    sdxl_refiner_low_aesthetic_score: 2.5,
    sdxl_refiner_high_aesthetic_score: 6.0,
    sd_vae_checkpoint_cache: 0,
    sd_vae: 'Automatic',
    sd_vae_overrides_per_model_preferences: true,
    auto_vae_precision_bfloat16: false,
    auto_vae_precision: true,
    sd_vae_encode_method: 'Full',
    sd_vae_decode_method: 'Full',
    inpainting_mask_weight: 1.0,
    initial_noise_multiplier: 1.0,
    img2img_extra_noise: 0.0,
    img2img_color_correction: false,
    img2img_fix_steps: false,
    img2img_background_color: '#ffffff',
    return_mask: false,
    return_mask_composite: false,
    img2img_batch_show_results_limit: 32,
    overlay_inpaint: true,
    cross_attention_optimization: 'Automatic',
    s_min_uncond: 0.0,
    token_merging_ratio: 0.0,
    token_merging_ratio_img2img: 0.0,
    token_merging_ratio_hr: 0.0,
    pad_cond_uncond: false,
    pad_cond_uncond_v0: false,
    persistent_cond_cache: true,
    batch_cond_uncond: true,
    fp8_storage: 'Disable',
    cache_fp16_weight: false,
    auto_backcompat: true,
    use_old_emphasis_implementation: false,
    use_old_karras_scheduler_sigmas: false,
    no_dpmpp_sde_batch_determinism: false,
    use_old_hires_fix_width_height: false,
    hires_fix_use_firstpass_conds: false,
    use_old_scheduling: false,
    use_downcasted_alpha_bar: false,
    refiner_switch_by_sample_steps: false,
    interrogate_keep_models_in_memory: false,
    interrogate_return_ranks: false,
    interrogate_clip_num_beams: 1,
    interrogate_clip_min_length: 24,
    interrogate_clip_max_length: 48,
    interrogate_clip_dict_limit: 1500,
    interrogate_clip_skip_categories: [],
    interrogate_deepbooru_score_threshold: 0.5,
    deepbooru_sort_alpha: true,
    deepbooru_use_spaces: true,
    deepbooru_escape: true,
    deepbooru_filter_tags: '',
    extra_networks_show_hidden_directories: true,
    extra_networks_default_multiplier: 1.0,
    extra_networks_add_text_separator: ' ',
    sd_hypernetwork: 'None',
    sd_lora: 'None',
    lora_preferred_name: 'Alias from file',
    lora_add_hashes_to_infotext: true,
    lora_show_all: false,
    lora_hide_unknown_for_versions: [],
    lora_in_memory_limit: 0,
    lora_not_found_warning_console: false,
    lora_not_found_gradio_warning: false,
    return_grid: true,
    do_not_show_images: false,
    add_model_hash_to_info: true,
    add_model_name_to_info: true,
    add_user_name_to_info: false,
    add_version_to_infotext: true,
    add_vae_name_to_info: true,
    add_vae_hash_to_info: true,
    disable_weights_auto_swap: true,
    infotext_skip_pasting: [],
    infotext_styles: 'Apply if any',
    show_progressbar: true,
    live_previews_enable: true,
    live_previews_image_format: 'png',
    show_progress_grid: true,
    show_progress_every_n_steps: 10,
    show_progress_type: 'Approx NN',
    live_preview_allow_lowvram_full: false,
    live_preview_content: 'Prompt',
    live_preview_refresh_period: 1000.0,
    live_preview_fast_interrupt: false,
    hide_samplers: [],
    eta_ddim: 0.0,
    eta_ancestral: 1.0,
    ddim_discretize: 'uniform',
    s_churn: 0.0,
    s_tmin: 0.0,
    s_tmax: 0.0,
    s_noise: 1.0,
    sigma_min: 0.0,
    sigma_max: 0.0,
    rho: 0.0,
    eta_noise_seed_delta: 0,
    always_discard_next_to_last_sigma: false,
    sgm_noise_multiplier: false,
    uni_pc_variant: 'bh1',
    uni_pc_skip_type: 'time_uniform',
    uni_pc_order: 3,
    uni_pc_lower_order_final: true,
    sd_noise_schedule: 'Default',
    skip_early_cond: 0.0,
    beta_dist_alpha: 0.6,
    beta_dist_beta: 0.6,
    postprocessing_enable_in_main_ui: [],
    postprocessing_disable_in_extras: [],
    postprocessing_operation_order: [],
    upscaling_max_images_in_cache: 5,
    postprocessing_existing_caption_action: 'Ignore',
    disabled_extensions: [],
    disable_all_extensions: 'none',
    restore_config_state_file: '',
    sd_checkpoint_hash: ckpt.item.sha256,
  };
}

/** Options added by installed extensions and by Forge (defaults as their sources declare them). */
export function extraOptions(flavor: SimFlavor, extensions: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (flavor === 'forge' || extensions.has('controlnet')) {
    Object.assign(out, {
      control_net_detectedmap_dir: 'detected_maps',
      control_net_models_path: '',
      control_net_modules_path: '',
      control_net_unit_count: 3,
      control_net_model_cache_size: 2,
      control_net_no_detectmap: false,
      control_net_detectmap_autosaving: false,
      control_net_allow_script_control: false,
      control_net_sync_field_args: true,
    });
  }
  if (extensions.has('adetailer')) {
    Object.assign(out, {
      ad_max_models: 4,
      ad_extra_models_dir: '',
      ad_save_images_dir: '',
      ad_save_previews: false,
      ad_save_images_before: false,
      ad_only_selected_scripts: true,
      ad_script_names: 'dynamic_prompting,dynamic_thresholding,lora_block_weight,negpip,wildcard_recursive,wildcards',
      ad_bbox_sortby: 'None',
      ad_same_seed_for_each_tab: false,
    });
  }
  if (flavor === 'forge') {
    Object.assign(out, {
      forge_try_reproduce: 'None',
      forge_unet_storage_dtype: 'Automatic',
      forge_inference_memory: 1024,
      forge_async_loading: 'Queue',
      forge_pin_shared_memory: 'CPU',
      forge_preset: 'sd',
      forge_additional_modules: [],
      forge_canvas_plain: false,
      forge_canvas_toolbar_always: false,
    });
  }
  return out;
}

function pyEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** How one option is applied; `sd_model_checkpoint` loads through `loadCheckpoint`. */
export interface OptionSetter {
  options: Record<string, unknown>;
  /** resolves a checkpoint name (any alias) to its title, or undefined */
  resolveCheckpoint(name: string): string | undefined;
  /** switches and loads the checkpoint (under the queue lock) */
  loadCheckpoint(title: string): Promise<void>;
  /** Forge `module_list`: module file name → path */
  forgeModules(): Record<string, string>;
}

/**
 * A1111 `Options.set(key, value, is_api=True)`, one key: equal value → nothing; unknown key →
 * `KeyError` (500); `restrict_api` key → ignored; else set (checkpoint: load).
 */
async function setA1111(s: OptionSetter, k: string, v: unknown): Promise<void> {
  if (pyEqual(k in s.options ? s.options[k] : null, v)) return;
  if (!(k in s.options)) throw pyException('KeyError', pyRepr(k));
  if (RESTRICTED_OPTIONS.has(k)) return;
  if (k === 'sd_model_checkpoint') {
    const title = typeof v === 'string' ? s.resolveCheckpoint(v) : undefined;
    if (title) await s.loadCheckpoint(title);
    return;
  }
  s.options[k] = v;
}

/**
 * `POST /sdapi/v1/options` with a dict body.
 * - A1111 (`Api.set_config`): an unknown `sd_model_checkpoint` → 500 `RuntimeError: model '<x>' not found`
 *   before anything is set; then `Options.set` key by key (an unknown key stops the loop with `KeyError`,
 *   keys before it stay set).
 * - Forge (`sysinfo.set_config`): key by key, unchanged values skipped; the checkpoint check happens in
 *   the loop; `forge_additional_modules` keeps only known module names (stored as paths; `null` →
 *   `TypeError`); other keys as A1111's `Options.set`.
 */
export async function setOptions(s: OptionSetter, flavor: SimFlavor, req: Record<string, unknown>): Promise<void> {
  const notFound = (ck: unknown) => pyException('RuntimeError', `model ${typeof ck === 'string' ? pyRepr(ck) : pyDumps(ck as PyValue)} not found`);
  const ck = req['sd_model_checkpoint'];
  if (flavor === 'a1111') {
    if (ck !== undefined && ck !== null && (typeof ck !== 'string' || !s.resolveCheckpoint(ck))) throw notFound(ck);
    for (const [k, v] of Object.entries(req)) await setA1111(s, k, v);
    return;
  }
  for (const [k, v] of Object.entries(req)) {
    if (pyEqual(s.options[k], v)) continue;
    if (k === 'sd_model_checkpoint') {
      if (v !== null && (typeof v !== 'string' || !s.resolveCheckpoint(v))) throw notFound(v);
      if (typeof v === 'string') await s.loadCheckpoint(s.resolveCheckpoint(v) as string);
    } else if (k === 'forge_additional_modules') {
      s.options[k] = forgeModulesValue(s, v);
    } else {
      await setA1111(s, k, v);
    }
  }
}

/** Forge `main_entry.modules_change`: iterates the value, keeps names (or paths' basenames) in `module_list`, stores their paths. */
export function forgeModulesValue(s: OptionSetter, v: unknown): string[] {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') {
    throw pyException('TypeError', `'${v === null ? 'NoneType' : typeof v === 'boolean' ? 'bool' : Number.isInteger(v) ? 'int' : 'float'}' object is not iterable`);
  }
  const items = typeof v === 'string' ? [...v] : Array.isArray(v) ? v : Object.keys(v as object);
  const mods = s.forgeModules();
  const out: string[] = [];
  for (const item of items) {
    if (typeof item !== 'string') continue;
    const base = item.split(/[\\/]/).pop() ?? item;
    if (base in mods) out.push(mods[base]);
  }
  return out;
}
